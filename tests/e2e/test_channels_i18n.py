"""Chinese and English in the chat channels, through the real app: WeChat users read Chinese unless they choose
otherwise (/lang, kept across a restart); Telegram follows language_code; setMyCommands per language; operator
overrides in i18n.texts; a numbered WeChat reply picks from the last list."""
from __future__ import annotations

import re

from core.domain import Identity
from core.i18n import Texts
from tests.e2e.telegram_harness import launch, services_user, tg, visible  # noqa: F401
from tests.e2e.wechat_support import GRANT, client_for, wechat_config, zh
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)

HOLD = 300


def en(key: str, **values) -> str:
    return Texts.load().get(key, "en", **values)


async def test_yu_e_in_wechat_answers_in_chinese_with_balance_held_storage_and_orders(
        wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    await client.post(client.text("o-zh", "余额"))
    [first] = await wx.wait_sent("o-zh", 1)
    assert first == "\n".join([zh("balance.tokens", balance=GRANT, available=GRANT), zh("balance.held", held=0),
                               zh("balance.storage", used="0.0", limit="5.0"), zh("balance.no_orders")])
    # An order and an answer's hold in progress show up too.
    user = await running.services.accounts.ensure_user(Identity("wechat", "o-zh"))
    order = await running.services.orders.create(user.id, "starter", note="wechat")
    await running.services.quota.hold_amount(user.id, HOLD, "test-hold", "a test")
    await client.post(client.text("o-zh", "余额"))
    second = (await wx.wait_sent("o-zh", 2))[1]
    assert second == "\n".join([
        zh("balance.tokens", balance=GRANT, available=GRANT - HOLD), zh("balance.held", held=HOLD),
        zh("balance.storage", used="0.0", limit="5.0"), zh("balance.orders"),
        zh("balance.order", product="Starter pack", status=zh("order.status.unpaid"),
           date=f"{order.created_at:%Y-%m-%d}")])
    assert "余额：100,000 个 token" in first and "未支付" in second   # what a reader sees, spelled out once


async def test_lang_en_switches_wechat_to_english_and_survives_a_restart(wx, start_app, fake_llm, tmp_path) -> None:
    config = wechat_config(tmp_path, fake_llm.base_url, wx)
    first = await start_app(config)
    client = client_for(first, wx)
    for text in ("/lang en", "余额"):
        await client.post(client.text("o-lang", text))
    switched, balance = await wx.wait_sent("o-lang", 2)
    assert switched == en("lang.set")
    assert balance.startswith(en("balance.tokens", balance=GRANT, available=GRANT))
    await first.runner.cleanup()

    second = await start_app(config)                     # the same database
    client = client_for(second, wx)
    await client.post(client.text("o-lang", "/help"))
    help_ = (await wx.wait_sent("o-lang", 3))[2]
    assert help_.startswith(en("help.intro")) and en("menu.balance") in help_
    # /lang alone lists the languages, numbered; "1" picks the first (中文).
    await client.post(client.text("o-lang", "语言"))
    menu = (await wx.wait_sent("o-lang", 4))[3]
    assert "1. 中文 (Chinese)" in menu and "2. ▸ English" in menu
    await client.post(client.text("o-lang", "1"))
    assert (await wx.wait_sent("o-lang", 5))[4] == zh("lang.set")
    user = await second.services.accounts.ensure_user(Identity("wechat", "o-lang"))
    assert user.locale == "zh"


async def test_a_numbered_reply_after_role_picks_that_role(wx, start_app, fake_llm, tmp_path) -> None:
    roles = [{"name": "pirate", "description": "Talks like a pirate", "system_prompt": "Talk like a pirate."},
             {"name": "poet", "description": "Answers in verse", "system_prompt": "Answer in verse."}]
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, sections={"roles": roles}))
    client = client_for(running, wx)
    await client.post(client.text("o-r", "2"))             # no list shown yet: a question for the model
    assert (await wx.wait_sent("o-r", 1))[0] == "Echo: 2"
    await client.post(client.text("o-r", "/role"))
    listing = (await wx.wait_sent("o-r", 2))[1]
    second = re.search(r"^2\. (\w+)：", listing, re.M).group(1)
    assert zh("choice.reply_number") in listing and second in ("pirate", "poet")
    await client.post(client.text("o-r", "2"))
    assert (await wx.wait_sent("o-r", 3))[2] == zh("role.set", role=second)
    await client.post(client.text("o-r", "hello"))
    await wx.wait_sent("o-r", 4)
    prompt = {"pirate": "Talk like a pirate.", "poet": "Answer in verse."}[second]
    assert fake_llm.chat_requests[-1]["messages"][0]["content"].startswith(prompt)
    await client.post(client.text("o-r", "2"))             # the list was used: "2" is chat again
    assert (await wx.wait_sent("o-r", 5))[4] == "Echo: 2"


async def test_an_operator_override_in_i18n_texts_is_what_users_read(wx, start_app, fake_llm, tmp_path) -> None:
    overrides = {"zh": {"welcome.follow": "你好，欢迎来到测试号！", "balance.no_orders": "暂无订单（运营自定义）。"}}
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx,
                                            sections={"i18n": {"texts": overrides}}))
    client = client_for(running, wx)
    await client.post(client.event("o-o", "subscribe", create_time=1_700_000_000))
    await client.post(client.text("o-o", "余额"))
    welcome, balance = await wx.wait_sent("o-o", 2)
    assert welcome == "你好，欢迎来到测试号！"
    assert balance.endswith("\n暂无订单（运营自定义）。")


async def test_telegram_follows_language_code_and_sets_a_menu_per_language(launch, tg) -> None:
    running = await launch()
    texts = running.services.texts
    for language in ("zh", "en"):
        menu = tg.menus[language]
        assert [c["description"] for c in menu] == [texts.get(f"menu.{c['command']}", language) for c in menu]
    assert tg.menus["zh"][0]["description"] != tg.menus["en"][0]["description"]
    assert tg.menus[None] == tg.commands == tg.menus["en"]      # the default menu: i18n.default_locale (en)
    li = tg.user(3301, "Li")
    li["language_code"] = "zh-hans"
    chat = tg.private_chat(li)
    await tg.send_text(chat, li, "/balance")
    await tg.send_text(chat, li, "/cancel")
    balance, nothing = await tg.wait_until(lambda: len(visible(tg, chat)) == 2 and visible(tg, chat))
    user = await services_user(running, li)
    assert balance.startswith(texts.get("balance.tokens", "zh", balance=user.balance, available=user.available))
    assert balance.startswith("余额：1,000 个 token") and nothing == texts.get("cancel.nothing", "zh")
    await tg.send_text(chat, li, "/lang en")                 # an explicit choice beats language_code
    await tg.send_text(chat, li, "/cancel")
    switched, nothing = await tg.wait_until(lambda: len(visible(tg, chat)) == 4 and visible(tg, chat)[2:])
    assert (switched, nothing) == (texts.get("lang.set", "en"), texts.get("cancel.nothing", "en"))
