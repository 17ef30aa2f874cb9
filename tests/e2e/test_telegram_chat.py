"""Telegram chats end to end: the real app, python-telegram-bot, the fake Bot API and the fake model."""
from __future__ import annotations

from adapters.telegram.commands import TELEGRAM_MENU
from tests.e2e.telegram_harness import answers, en, help_en, launch, mode, services_user, tg, visible  # noqa: F401
from tests.fakes.openai_server import Script


async def test_private_chat_streams_into_edits(launch, tg, fake_llm, mode) -> None:
    await launch(mode)
    answer = "Streaming answers arrive in pieces and end as one message."
    fake_llm.script(reply=answer, chunk_chars=6, chunk_delay=0.03)
    alice = tg.user(1001, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "hello")
    [message] = await tg.wait_until(lambda: answers(tg, chat))
    assert visible(tg, chat) == [answer]
    assert message.edits[0] == "…" and len(message.edits) >= 3
    assert all(answer.startswith(partial) for partial in message.edits[1:-1])
    assert fake_llm.chat_requests[-1]["messages"][-1]["content"] == "hello"
    assert [c["command"] for c in tg.commands] == list(TELEGRAM_MENU)


async def test_long_answer_continues_in_new_messages(launch, tg, fake_llm, mode) -> None:
    await launch(mode)
    lines = [f"{i:03d} " + "x" * 95 for i in range(90)]
    answer = "\n".join(lines)
    assert len(answer) == 9000 - 1
    fake_llm.script(reply=answer, chunk_chars=300)
    alice = tg.user(1002, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "write a lot")
    await tg.wait_until(lambda: answers(tg, chat))
    shown = visible(tg, chat)
    assert len(shown) == 3 and all(len(part) <= 4096 for part in shown)
    assert "\n".join(shown) == answer  # cut at line ends; nothing lost or repeated
    assert [bool(tg.buttons(m)) for m in tg.bot_messages(chat)] == [False, False, True]


async def test_group_answers_only_mentions_replies_and_commands(launch, tg, fake_llm, mode) -> None:
    await launch(mode)
    alice, bob = tg.user(2001, "Alice"), tg.user(2002, "Bob")
    group = tg.group_chat(-100500, "Team")
    await tg.send_text(group, alice, "hello everyone")
    asked = await tg.send_text(group, alice, "@test_bot what is up")
    [first] = await tg.wait_until(lambda: answers(tg, group))
    assert first.text == "Echo: what is up" and first.reply_to is asked
    await tg.send_text(group, bob, "I agree", reply_to=asked)  # a reply, but not to the bot
    await tg.send_text(group, bob, "/help@other_bot")
    await tg.send_text(group, bob, "and you?", reply_to=first)
    await tg.wait_until(lambda: len(answers(tg, group)) == 2)
    await tg.send_text(group, bob, "/help")
    await tg.wait_until(lambda: len(tg.bot_messages(group)) == 3)
    assert visible(tg, group) == ["Echo: what is up", "Echo: and you?", help_en()]
    assert [r["messages"][-1]["content"] for r in fake_llm.chat_requests] == ["what is up", "and you?"]
    # history is per chat (Bob's question saw Alice's), billing per person
    assert [m["content"] for m in fake_llm.chat_requests[1]["messages"][1:]] == \
        ["what is up", "Echo: what is up", "and you?"]


async def test_message_during_a_reply_is_queued_then_answered(launch, tg, fake_llm) -> None:
    running = await launch()
    fake_llm.script(reply="first answer, slowly", chunk_chars=2, chunk_delay=0.03)
    alice = tg.user(3001, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "first")
    await tg.wait_until(lambda: tg.bot_messages(chat))  # the first answer is streaming
    await tg.send_text(chat, alice, "second")
    done = await tg.wait_until(lambda: len(answers(tg, chat)) == 2 and answers(tg, chat))
    assert [m.text for m in done] == ["first answer, slowly", "Echo: second"]
    second = fake_llm.chat_requests[1]["messages"]
    assert [m["content"] for m in second[1:]] == ["first", "first answer, slowly", "second"]
    # Both answers were finished and charged, one after the other in the chat's one conversation.
    user = await services_user(running, alice)
    conv = await running.services.conversations.for_chat(f"telegram:{chat['id']}")
    stored = (await running.services.conversations.messages(user.id, conv.id)).items
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")] * 2
    assert all(m.cost > 0 for m in stored if m.role == "assistant")


async def test_cancel_stops_the_stream_and_charges_what_was_generated(launch, tg, fake_llm) -> None:
    running = await launch()
    fake_llm.script(reply="word " * 60, chunk_chars=5, chunk_delay=0.05)
    alice = tg.user(4001, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "count slowly")
    await tg.wait_until(lambda: any("word" in m.text for m in tg.bot_messages(chat)))
    await tg.send_text(chat, alice, "/cancel")
    [stopped] = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "Stopped" in m.text])
    assert stopped.text.startswith("word") and stopped.text.endswith("⏹ Stopped.")
    user = await services_user(running, alice)
    conv = await running.services.conversations.for_chat(f"telegram:{chat['id']}")
    answer = (await running.services.conversations.messages(user.id, conv.id)).items[-1]
    assert answer.status == "cancelled" and 0 < len(answer.content) < len("word " * 60)
    assert answer.cost > 0
    after = await running.services.accounts.get(user.id)
    assert (after.balance, after.held) == (1000 - answer.cost, 0)
    await tg.send_text(chat, alice, "/cancel")
    await tg.wait_until(lambda: tg.bot_messages(chat)[-1].text == en("cancel.nothing"))


async def test_flood_control_in_one_chat_does_not_delay_another(launch, tg, fake_llm) -> None:
    await launch()
    fake_llm.default = Script(chunk_chars=2, chunk_delay=0.02)
    alice, bob = tg.user(5001, "Alice"), tg.user(5002, "Bob")
    slow, fast = tg.private_chat(alice), tg.private_chat(bob)
    tg.flood(slow["id"], retry_after=2)
    await tg.send_text(slow, alice, "message from Alice")
    await tg.send_text(fast, bob, "message from Bob")
    await tg.wait_until(lambda: answers(tg, fast) and answers(tg, slow))
    [refused] = [c for c in tg.rejected("editMessageText") if c.params["chat_id"] == slow["id"]][:1]
    fast_done = answers(tg, fast)[0].times[-1]
    slow_message = answers(tg, slow)[0]
    assert fast_done < refused.at + 2.0  # Bob's answer finished while Alice's chat was held back
    assert all(t < refused.at or t >= refused.at + 1.99 for t in slow_message.times)  # nothing sent in the window
    assert len([c for c in tg.rejected() if c.params.get("chat_id") == slow["id"]]) == 1  # waited, not hammered
    assert slow_message.text == "Echo: message from Alice" and answers(tg, fast)[0].text == "Echo: message from Bob"


async def test_quota_exhaustion_offers_to_buy(launch, tg, fake_llm) -> None:
    await launch(quota={"signup_grant": 10})
    alice = tg.user(6001, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "hello")
    [notice] = await tg.wait_until(lambda: tg.bot_messages(chat))
    assert notice.text == en("error.quota_exceeded") and fake_llm.chat_requests == []
    query = await tg.press(alice, notice, tg.buttons(notice)[en("button.buy")])
    assert (await tg.callback_answer(query)).get("text") is None
    menu = await tg.wait_until(lambda: len(tg.bot_messages(chat)) == 2 and tg.bot_messages(chat)[-1])
    assert tg.buttons(menu) == {"Starter pack: 5,000 tokens for 100 ⭐": "buy:starter"}


async def test_model_failure_is_a_short_message_and_free(launch, tg, fake_llm) -> None:
    running = await launch()
    fake_llm.script(status=500)
    alice = tg.user(7001, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "hello")
    [message] = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "⚠️" in m.text])
    assert "failed" in message.text and "Traceback" not in message.text and len(message.text) < 200
    assert (await services_user(running, alice)).balance == 1000
    # Broken after text: the answer ends with a note, and what was generated is charged (never retried).
    fake_llm.script(reply="a partial answer that breaks", cut_after=3)
    await tg.send_text(chat, alice, "again")
    [cut] = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "cut off" in m.text])
    assert cut.text.startswith("a partial answer"[:12]) and len(fake_llm.chat_requests) == 2
    assert 0 < 1000 - (await services_user(running, alice)).balance < 100


async def test_feedback_counts_only_from_the_asker(launch, tg, fake_llm) -> None:
    running = await launch()
    alice, bob = tg.user(8001, "Alice"), tg.user(8002, "Bob")
    group = tg.group_chat(-100800, "Team")
    await tg.send_text(group, alice, "@test_bot rate me")
    [answer] = await tg.wait_until(lambda: answers(tg, group))
    thumbs_up, thumbs_down = tg.buttons(answer)["👍"], tg.buttons(answer)["👎"]
    message_id = thumbs_up.split(":", 2)[2]
    query = await tg.press(bob, answer, thumbs_up)
    assert (await tg.callback_answer(query))["text"] == en("feedback.not_yours")
    asker = await services_user(running, alice)
    assert (await running.services.conversations.message(asker.id, message_id)).feedback == 0
    query = await tg.press(alice, answer, thumbs_down)
    assert (await tg.callback_answer(query))["text"] == en("feedback.thanks")
    assert (await running.services.conversations.message(asker.id, message_id)).feedback == -1
    query = await tg.press(alice, answer, "fb:1:no-such-message")
    assert (await tg.callback_answer(query))["text"] == en("feedback.not_yours")


async def test_shutdown_lets_the_answer_in_flight_finish(launch, tg, fake_llm) -> None:
    running = await launch()
    fake_llm.script(reply="an answer still being written", chunk_chars=3, chunk_delay=0.03)
    alice = tg.user(9901, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "hi")
    await tg.wait_until(lambda: tg.bot_messages(chat))
    await running.runner.cleanup()  # what Ctrl-C / SIGTERM does
    assert [m.text for m in answers(tg, chat)] == ["an answer still being written"]


async def test_answer_from_the_knowledge_base_ends_with_its_sources(launch, tg, fake_llm) -> None:
    from bot.knowledge import knowledge_of
    from core.knowledge_ports import Viewer

    running = await launch("polling")
    service = knowledge_of(running.services).service
    doc, _ = await service.add_document(Viewer(None, is_admin=True), name="Harbour opening hours",
                                        body="The harbour office opens at 7 am and closes at 6 pm.".encode(),
                                        content_type="text/plain", source="text")
    await service.wait(doc.id)
    alice = tg.user(1010, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "When does the harbour office open?")
    [message] = await tg.wait_until(lambda: answers(tg, chat))
    assert message.text.endswith("\n\nSources: Harbour opening hours")
    assert "harbour office opens at 7 am" in fake_llm.chat_requests[-1]["messages"][0]["content"]
