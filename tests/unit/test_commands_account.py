"""The command layer's account and chat commands on in-memory repositories: /start /help /balance /link /lang
/web /confirm /new /role /roles /model /cancel, and unknown commands."""
from __future__ import annotations

from datetime import datetime, timezone

from core.commands_account import login_prompt
from core.commands_results import WECHAT_NATIVE, SignInLink
from core.commands_text import as_plain_text, command_menu
from core.login import LoginRequest, LoginScene, QrLoginService
from core.model_choice import ModelOption
from tests.unit.commands_support import RecordingCanceller, context, shown, user
from tests.unit.memory_chats import MemoryEphemeral
from tests.unit.memory_model import PIRATE, SPEC, STARTER, RecordingPaymentProvider, build


async def test_balance_shows_balance_held_storage_and_the_last_orders() -> None:
    core = build(grant=1000)
    alice = await user(core)
    await core.orders.put_product(STARTER)
    await core.orders.create(alice.id, "starter")
    hold = await core.quota.hold(alice.id, SPEC, 50, key="reply:one")          # an answer being written
    result = await core.commands.run(context(alice), "/balance")
    assert shown(core, result).splitlines() == [
        f"Balance: 1,000 tokens ({1000 - hold.amount:,} available now)",
        f"Held for answers being written: {hold.amount:,} tokens",
        "Storage: 0.0 MB of 5.0 MB",
        "Last purchases:",
        f"• Starter pack: unpaid ({core.clock():%Y-%m-%d})",
    ]
    assert shown(core, result, "zh").splitlines()[0] == f"余额：1,000 个 token（当前可用 {1000 - hold.amount:,}）"


async def test_balance_without_orders_says_so() -> None:
    core = build()
    result = await core.commands.run(context(await user(core)), "余额")
    assert result.command == "balance" and shown(core, result).splitlines()[-1] == "No purchases yet."


async def test_start_greets_a_new_user_with_the_grant_and_the_help() -> None:
    core = build(grant=1000)
    alice = await user(core)
    assert alice.is_new
    first = shown(core, await core.commands.run(context(alice, display_name="Alice"), "/start"))
    assert first.startswith("Hi Alice! I am an AI assistant: just write to me. You have 1,000 free tokens to start.")
    assert "/balance - Tokens, storage and purchases" in first
    again = await core.commands.run(context(await core.accounts.get(alice.id), display_name="Alice"), "/start")
    assert "Your balance is 1,000 tokens." in shown(core, again)


async def test_help_lists_the_channel_menu_in_the_user_language() -> None:
    core = build()
    result = await core.commands.run(context(await user(core), locale="zh", menu=("new", "balance")), "帮助")
    lines = shown(core, result, "zh").splitlines()
    assert "/new - 开始新对话" in lines and "/balance - 余额、存储空间和购买记录" in lines
    assert not any(line.startswith("/buy") for line in lines)


async def test_help_lists_buy_only_where_a_way_to_pay_is_on() -> None:
    core = build()
    alice = await user(core)
    ctx = context(alice, payments=(WECHAT_NATIVE,))
    assert "/buy - Buy tokens" not in shown(core, await core.commands.run(ctx, "/help"))
    assert "buy" not in core.commands.menu(ctx) and "balance" in core.commands.menu(ctx)
    core.orders.add_provider(RecordingPaymentProvider("wechat_native"))
    assert "/buy - Buy tokens" in shown(core, await core.commands.run(ctx, "/help"))
    assert [n for n, _ in command_menu(core.texts, "zh", core.commands.menu(ctx))][:3] == ["start", "help", "new"]


def test_the_login_prompt_names_who_asks_and_the_time_left() -> None:
    core = build()
    request = LoginRequest("Firefox at 203.0.113.9", opened_at=0.0, expires_at=300.0)
    assert core.texts.render(login_prompt(request, now=60.0), "en").splitlines() == [
        "Sign-in request: Firefox at 203.0.113.9 asked at 00:00 UTC to sign in to your account.",
        "If that was you, reply 确认 (or confirm) within 4 minutes.",
        "If it was not you, ignore this message: nobody is signed in without your confirmation."]
    anonymous = core.texts.render(login_prompt(LoginRequest("", 0.0, 300.0), now=290.0), "zh")
    assert anonymous.startswith("登录请求：一个网页浏览器 于 00:00 UTC 请求登录你的账号。") and "1 分钟" in anonymous
    browser = LoginRequest("", 0.0, 300.0, agent="Firefox/128", address="203.0.113.9")
    assert core.texts.render(login_prompt(browser, now=0.0), "zh").startswith(
        "登录请求：来自 203.0.113.9 的网页浏览器（Firefox/128） 于 00:00 UTC")
    assert core.texts.render(login_prompt(browser, now=0.0), "en").startswith(
        "Sign-in request: a web browser (Firefox/128) at 203.0.113.9 asked at 00:00 UTC")


async def test_a_link_code_joins_two_accounts_by_command_and_by_deep_link() -> None:
    core = build(grant=1000)
    alice, other = await user(core, "alice"), await user(core, "o-1", channel="wechat")
    made = await core.commands.run(context(alice, link_url="https://t.me/our_bot?start=link_{code}"), "/link")
    code = made.texts[0].value("code")
    assert f"https://t.me/our_bot?start=link_{code}" in shown(core, made)
    linked = await core.commands.run(context(other, channel="wechat"), f"绑定 {code}")
    assert shown(core, linked) == f"Linked: this chat now uses the account Alice, balance 2,000 tokens."
    assert (await core.accounts.get(alice.id)).balance == 2000
    again = await core.commands.run(context(other, channel="wechat"), f"/link {code}")   # single use
    assert again.error == "invalid_code" and shown(core, again) == "That code is unknown, used or expired."
    # /start link_CODE: Telegram's deep link does the same.
    bob = await user(core, "bob")
    code = (await core.commands.run(context(alice), "/link")).texts[0].value("code")
    deep = await core.commands.run(context(bob), f"/start link_{code}")
    assert deep.command == "link" and not deep.error
    assert (await core.users.find_by_identity(bob.identities[0])).id == alice.id


async def test_lang_is_stored_per_user_and_answers_in_the_new_language() -> None:
    core = build()
    alice = await user(core)
    menu = await core.commands.run(context(alice), "/lang")
    assert [(c.id, c.selected) for c in menu.choices] == [("lang:zh", False), ("lang:en", True)]
    result = await core.commands.choose(context(alice), "lang:zh")
    assert result.locale == "zh" and shown(core, result) == "好的，之后我会用中文和你交流。"
    assert core.db.writes("users.set_locale") == [(alice.id, "zh")]
    stored = await core.accounts.get(alice.id)
    assert core.texts.locale_for(stored.locale, "en") == "zh"     # the choice beats Telegram's language_code
    refused = await core.commands.run(context(alice), "/lang fr")
    assert refused.error == "unknown_locale" and "zh, en" in shown(core, refused)


async def test_new_and_role_change_the_chat_conversation() -> None:
    core = build()
    await core.conversations.put_role(PIRATE)
    alice = await user(core)
    ctx = context(alice)
    menu = await core.commands.run(ctx, "/role")
    assert [(c.id, c.selected) for c in menu.choices] == [("role:pirate", False)]
    assert as_plain_text(menu, core.texts, "en") == ("Choose a role for this chat:\n\npirate: Talks like a pirate\n\n"
                                                      "Send /role NAME to switch.")
    chosen = await core.commands.choose(ctx, "role:pirate")
    assert shown(core, chosen) == "Role set: pirate. A new conversation starts now."
    assert core.texts.render(chosen.toast, "en") == "Role: pirate"
    assert (await core.conversations.for_chat(ctx.chat_key)).role == "pirate"
    assert [c.selected for c in (await core.commands.run(ctx, "角色列表")).choices] == [True]
    fresh = await core.commands.run(ctx, "新对话")
    assert shown(core, fresh) == "Started a new conversation (role: pirate). Send your first message."
    unknown = await core.commands.run(ctx, "/role nobody")
    assert unknown.error == "not_found" and shown(core, unknown) == "No role named nobody. Send /roles to see them."
    assert len(core.db.writes("conversations.create")) == 2


async def test_cancel_asks_the_channel_and_says_what_happened() -> None:
    core = build()
    alice = await user(core)
    for outcome, said in (("stopped", ""), ("nothing", "Nothing to stop: no answer is being written."),
                          ("not_yours", "Only the person who asked can stop this answer.")):
        canceller = RecordingCanceller(outcome)  # type: ignore[arg-type]
        result = await core.commands.run(context(alice, cancels=canceller), "取消")
        assert shown(core, result) == said and canceller.asked == [(f"telegram:{alice.id}", alice.id)]
    assert (await core.commands.run(context(alice), "/cancel")).error == "nothing"   # the terminal: no answers to stop


async def test_web_gives_a_one_time_link_when_sign_in_is_wired() -> None:
    core = build()
    alice = await user(core)
    assert (await core.commands.run(context(alice), "/web")).error == "unavailable"

    class Links:
        async def issue(self, user_id: str) -> SignInLink:
            return SignInLink(f"http://127.0.0.1:8080/web/sign-in?t=once-{user_id[:4]}", datetime.now(timezone.utc))

    core.commands = core.commands_with(sign_in=Links())
    result = await core.commands.run(context(alice), "网页")
    assert result.link is not None and result.link.url in shown(core, result)


async def test_model_lists_the_models_and_refuses_an_unknown_one() -> None:
    core = build()
    alice = await user(core)
    listed = await core.commands.run(context(alice), "/model")
    assert shown(core, listed).splitlines()[0] == "Answers use the model test-model."
    unknown = await core.commands.run(context(alice), "/model gpt-9")
    assert unknown.error == "unknown_model" and "other-model, test-model" in shown(core, unknown)


async def test_model_choice_goes_to_the_port_that_stores_it() -> None:
    class Preferences:
        def __init__(self) -> None:
            self.chosen: dict[str, str] = {}

        async def options(self, user_id: str | None = None) -> list[ModelOption]:
            return [ModelOption("other-model", "backup", 2.0, 4.5, False, 8192, 100),
                    ModelOption("test-model", "main", 1.0, 2.0, False, 8192, 100, own_key=True)]

        async def current(self, user_id: str, chat_key: str) -> str | None:
            return self.chosen.get(chat_key)

        async def choose(self, user_id: str, chat_key: str, model: str) -> None:
            self.chosen[chat_key] = model

    core = build()
    prefs = Preferences()
    core.commands = core.commands_with(models=prefs)
    ctx = context(await user(core))
    menu = await core.commands.run(ctx, "模型")
    assert [(c.id, c.selected) for c in menu.choices] == [("model:other-model", False), ("model:test-model", True)]
    chose = await core.commands.choose(ctx, "model:other-model")
    assert shown(core, chose) == "Model set: other-model." and prefs.chosen == {ctx.chat_key: "other-model"}
    numbered = as_plain_text(await core.commands.run(ctx, "/model"), core.texts, "zh", numbered=True)
    assert numbered == ("请选择模型：\n\n1. ▸ other-model：读入每 token 计 2，生成每 token 计 4.5\n"
                        "2. test-model：使用您自己的密钥：读入 / 生成每 token 计 1 / 2\n\n回复数字即可选择。")


async def test_confirm_lets_a_scanned_login_be_redeemed() -> None:
    core = build()
    alice = await user(core, "o-1", channel="wechat")
    logins = QrLoginService(MemoryEphemeral(core.db), clock=lambda: core.clock().timestamp())
    core.commands = core.commands_with(logins=logins)
    await logins.open(LoginScene("login_s1", "ticket-1", "a browser"))
    assert await logins.mark_scanned("login_s1", alice.id) is not None
    done = await core.commands.run(context(alice, channel="wechat", locale="zh"), "确认")
    assert shown(core, done, "zh") == "登录已确认，请回到网页继续。"
    assert await logins.redeem("ticket-1") == alice.id
    again = await core.commands.run(context(alice, channel="wechat"), "/confirm")
    assert again.error == "nothing_to_confirm"


async def test_an_unknown_command_says_so_and_shows_the_help() -> None:
    core = build()
    result = await core.commands.run(context(await user(core)), "/frobnicate")
    assert result.error == "unknown_command" and shown(core, result).startswith("I don't know the command /frobnicate.")
    expired = await core.commands.choose(context(await user(core)), "fb:1:nope")
    assert expired.error == "unknown_choice" and core.texts.render(expired.toast, "en") == "This button has expired."
