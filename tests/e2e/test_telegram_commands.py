"""Telegram commands end to end: welcome, help, new conversation, roles, balance, linking accounts."""
from __future__ import annotations

from tests.e2e.telegram_harness import answers, en, help_en, launch, services_user, tg, visible  # noqa: F401


async def test_start_balance_new_and_unknown(launch, tg, fake_llm) -> None:
    running = await launch()
    alice = tg.user(2101, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "/start")
    [welcome] = await tg.wait_until(lambda: tg.bot_messages(chat))
    assert welcome.text.startswith("Hi Alice!") and "1,000 free tokens" in welcome.text
    await tg.send_text(chat, alice, "remember 42")
    await tg.wait_until(lambda: answers(tg, chat))
    await tg.send_text(chat, alice, "/balance")
    balance = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if m.text.startswith("Balance:")])
    user = await services_user(running, alice)
    assert f"Balance: {user.balance:,} tokens" in balance[0].text and user.balance < 1000
    assert "Storage: 0.0 MB of 5.0 MB" in balance[0].text
    await tg.send_text(chat, alice, "/new")
    await tg.wait_until(lambda: tg.bot_messages(chat)[-1].text.startswith("Started a new conversation"))
    await tg.send_text(chat, alice, "what did I say?")
    await tg.wait_until(lambda: len(answers(tg, chat)) == 2)
    assert [m["role"] for m in fake_llm.chat_requests[-1]["messages"]] == ["system", "user"]
    await tg.send_text(chat, alice, "/frobnicate")
    await tg.wait_until(lambda: tg.bot_messages(chat)[-1].text.startswith("I don't know the command /frobnicate."))


async def test_role_keyboard_sets_the_chat_role(launch, tg, fake_llm) -> None:
    await launch()
    alice = tg.user(2201, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "/role")
    [menu] = await tg.wait_until(lambda: tg.bot_messages(chat))
    assert tg.buttons(menu) == {"pirate": "role:pirate"} and "Talks like a pirate" in menu.text
    query = await tg.press(alice, menu, "role:pirate")
    assert (await tg.callback_answer(query))["text"] == "Role: pirate"
    await tg.wait_until(lambda: menu.text.startswith("Role set: pirate"))
    await tg.send_text(chat, alice, "ahoy")
    await tg.wait_until(lambda: answers(tg, chat))
    assert "pirate" in fake_llm.chat_requests[-1]["messages"][0]["content"]
    await tg.send_text(chat, alice, "/role nobody")
    await tg.wait_until(lambda: tg.bot_messages(chat)[-1].text == en("role.unknown", name="nobody"))


async def test_link_code_joins_two_telegram_accounts(launch, tg, fake_llm) -> None:
    running = await launch()
    alice, alt = tg.user(2301, "Alice"), tg.user(2302, "Alice (work)")
    home, work = tg.private_chat(alice), tg.private_chat(alt)
    await tg.send_text(home, alice, "/link")
    [code_message] = await tg.wait_until(lambda: tg.bot_messages(home))
    code = code_message.text.split("Your link code: ")[1].split(" ")[0]
    assert f"?start=link_{code}" in code_message.text
    await tg.send_text(work, alt, f"/start link_{code}")
    [linked] = await tg.wait_until(lambda: tg.bot_messages(work))
    assert linked.text.startswith("Linked:") and "2,000 tokens" in linked.text
    assert (await services_user(running, alt)).id == (await services_user(running, alice)).id
    await tg.send_text(work, alt, f"/link {code}")  # used already
    await tg.wait_until(lambda: tg.bot_messages(work)[-1].text == "That code is unknown, used or expired.")


async def test_help_and_non_text(launch, tg) -> None:
    await launch()
    alice = tg.user(2401, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "/help")
    await tg.wait_until(lambda: visible(tg, chat) == [help_en()])
    from tests.fakes.telegram_state import FakeMessage

    sticker = FakeMessage(chat, 99, alice, extra={"sticker": {"file_id": "x", "file_unique_id": "y", "type": "regular",
                                                             "width": 1, "height": 1, "is_animated": False,
                                                             "is_video": False}})
    tg.store(sticker)
    await tg.deliver({"update_id": tg.next_update_id(), "message": sticker.to_json()})
    await tg.wait_until(lambda: visible(tg, chat) == [help_en(), en("chat.text_only")])


async def test_without_stars_help_and_menu_leave_out_buy_and_buy_creates_no_order(launch, tg) -> None:
    running = await launch(payments={"telegram": {"enabled": False}})
    assert "buy" not in [c["command"] for c in tg.commands] and "help" in [c["command"] for c in tg.commands]
    alice = tg.user(2501, "Alice")
    chat = tg.private_chat(alice)
    for text in ("/help", "/buy"):
        await tg.send_text(chat, alice, text)
    help_, refused = await tg.wait_until(lambda: len(visible(tg, chat)) == 2 and visible(tg, chat))
    assert "/buy" not in help_ and "/balance" in help_
    assert refused == en("buy.no_payment_method")
    user = await services_user(running, alice)
    assert not (await running.services.orders.list(user.id, None, 10, None)).items
