"""Telegram groups through the real app and the fake Bot API: /new, /role, /model and /mode only by the chat's
admins (getChatMember, remembered briefly), or by everyone when configured; /mode all|mentions stored per chat."""
from __future__ import annotations

from adapters.storage.chat_settings import ChatSettingRow
from tests.e2e.telegram_harness import answers, en, launch, tg, visible  # noqa: F401


async def _last_says(tg, group, text: str) -> None:
    await tg.wait_until(lambda: tg.bot_messages(group) and tg.bot_messages(group)[-1].text == text)


async def test_only_admins_change_the_groups_conversation(launch, tg, fake_llm) -> None:
    await launch()
    owner, admin, bob = tg.user(8001, "Olga"), tg.user(8002, "Ada"), tg.user(8003, "Bob")
    group = tg.group_chat(-1008000, "Team")
    tg.make_owner(group, owner)
    tg.make_admin(group, admin)
    for command in ("/new", "/role pirate", "/model test-model", "/mode all", "/role"):
        await tg.send_text(group, bob, command)
        name = command.split()[0].lstrip("/")
        await _last_says(tg, group, en("group.admins_only", command=name))
    # Bob's refusals asked Telegram once: the answer is remembered.
    assert tg.member_lookups[(group["id"], bob["id"])] == 1
    await tg.send_text(group, admin, "/role pirate")
    await _last_says(tg, group, en("role.set", role="pirate"))
    await tg.send_text(group, owner, "/model test-model")
    await _last_says(tg, group, en("model.set", model="test-model"))
    await tg.send_text(group, admin, "/role")
    [menu] = await tg.wait_until(lambda: [m for m in tg.bot_messages(group) if "role:pirate" in tg.buttons(m).values()])
    # A member's press on an admin's menu is refused with a notice, and changes nothing.
    query = await tg.press(bob, menu, "role:pirate")
    refused = await tg.callback_answer(query)
    assert refused["text"] == en("group.admins_only", command="role") and refused.get("show_alert") is True
    await tg.send_text(group, bob, "@test_bot ahoy")
    await tg.wait_until(lambda: answers(tg, group))
    assert "pirate" in fake_llm.chat_requests[-1]["messages"][0]["content"]   # the admin's role stands
    await tg.send_text(group, admin, "/new")
    await _last_says(tg, group, en("new.started_role", role="pirate"))
    # Everything else stays open to every member.
    await tg.send_text(group, bob, "/balance")
    await tg.wait_until(lambda: tg.bot_messages(group)[-1].text.startswith("Balance:"))


async def test_a_demoted_admin_is_refused_once_the_cache_expires(launch, tg) -> None:
    await launch(telegram={"admin_cache_seconds": 0})
    ada = tg.user(8101, "Ada")
    group = tg.group_chat(-1008100, "Team")
    tg.make_admin(group, ada)
    await tg.send_text(group, ada, "/new")
    await _last_says(tg, group, en("new.started"))
    tg.demote(group, ada)
    await tg.send_text(group, ada, "/new")
    await _last_says(tg, group, en("group.admins_only", command="new"))
    assert tg.member_lookups[(group["id"], ada["id"])] == 2


async def test_everyone_may_when_configured(launch, tg) -> None:
    await launch(telegram={"group_commands": "everyone"})
    bob = tg.user(8201, "Bob")
    group = tg.group_chat(-1008200, "Team")
    await tg.send_text(group, bob, "/new")
    await _last_says(tg, group, en("new.started"))
    await tg.send_text(group, bob, "/mode all")
    await _last_says(tg, group, en("mode.set.all"))
    assert tg.calls_of("getChatMember") == []


async def test_mode_all_answers_every_message_and_mentions_only_those_addressed(launch, tg, fake_llm) -> None:
    await launch()
    ada, bob = tg.user(8301, "Ada"), tg.user(8302, "Bob")
    group = tg.group_chat(-1008300, "Team")
    tg.make_admin(group, ada)
    # Default: mentions only. The plain message is skipped; the mention after it is answered.
    await tg.send_text(group, bob, "just chatting")
    await tg.send_text(group, bob, "@test_bot first")
    await tg.wait_until(lambda: answers(tg, group))
    await tg.send_text(group, ada, "/mode")
    menu = await tg.wait_until(lambda: [m for m in tg.bot_messages(group) if "mode:all" in tg.buttons(m).values()])
    menu = menu[0]
    assert menu.text.startswith(en("mode.now.mentions"))
    assert sorted(tg.buttons(menu).values()) == ["mode:all", "mode:mentions"]
    query = await tg.press(ada, menu, "mode:all")
    assert (await tg.callback_answer(query))["text"] == en("mode.set.all")
    assert (await ChatSettingRow.get(chat_key=f"telegram:{group['id']}")).reply_to == "all"
    await tg.send_text(group, bob, "no mention here")
    await tg.wait_until(lambda: len(answers(tg, group)) == 2)
    await tg.send_text(group, ada, "/mode mentions")
    await _last_says(tg, group, en("mode.set.mentions"))
    await tg.send_text(group, bob, "ignored again")
    await tg.send_text(group, bob, "@test_bot last")
    await tg.wait_until(lambda: len(answers(tg, group)) == 3)
    assert [r["messages"][-1]["content"] for r in fake_llm.chat_requests] == ["first", "no mention here", "last"]
    await tg.send_text(group, ada, "/mode sometimes")
    await _last_says(tg, group, en("mode.unknown", value="sometimes"))


async def test_mode_in_a_private_chat_says_it_is_for_groups(launch, tg) -> None:
    await launch()
    alice = tg.user(8401, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "/mode all")
    await tg.wait_until(lambda: visible(tg, chat) == [en("mode.groups_only")])
    assert tg.calls_of("getChatMember") == []
