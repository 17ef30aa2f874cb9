"""Per-chat order, /cancel and flood-control pauses through the real app, with coordination in the process (no
redis.url) and shared through Redis: every test runs in both modes."""
from __future__ import annotations

import pytest

from tests.conftest import REDIS_URL
from tests.e2e.telegram_harness import answers, en, launch, services_user, tg  # noqa: F401
from tests.fakes.openai_server import Script


@pytest.fixture(params=["memory", "redis"])
def coordination(request: pytest.FixtureRequest) -> dict:
    """The config sections of the mode: none (one worker), or Redis under the test's own key prefix."""
    if request.param == "memory":
        return {}
    request.getfixturevalue("redis_url")
    return {"redis": {"url": REDIS_URL, "key_prefix": request.getfixturevalue("redis_prefix")}}


async def test_a_chat_is_answered_one_message_at_a_time_in_order(launch, tg, fake_llm, coordination) -> None:
    running = await launch("webhook", **coordination)
    assert running.services.coordination.shared is bool(coordination)
    fake_llm.default = Script(chunk_chars=3, chunk_delay=0.02)
    alice = tg.user(6001, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "one")
    await tg.wait_until(lambda: tg.bot_messages(chat))      # the first answer is streaming
    for text in ("two", "three", "four"):
        await tg.send_text(chat, alice, text)
    done = await tg.wait_until(lambda: len(answers(tg, chat)) == 4 and answers(tg, chat))
    assert [m.text for m in done] == [f"Echo: {t}" for t in ("one", "two", "three", "four")]
    for before, after in zip(done, done[1:]):               # never two answers at once
        assert after.times[0] >= before.times[-1]
    asked = [[m["content"] for m in r["messages"][1:]] for r in fake_llm.chat_requests]
    assert asked[-1] == ["one", "Echo: one", "two", "Echo: two", "three", "Echo: three", "four"]


async def test_cancel_stops_only_the_askers_answer(launch, tg, fake_llm, coordination) -> None:
    running = await launch("webhook", **coordination)
    fake_llm.script(reply="word " * 80, chunk_chars=5, chunk_delay=0.05)
    alice = tg.user(6101, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "count slowly")
    await tg.wait_until(lambda: any("word" in m.text for m in tg.bot_messages(chat)))
    await tg.send_text(chat, alice, "/cancel")
    [stopped] = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "Stopped" in m.text])
    assert stopped.text.startswith("word") and stopped.text.endswith("⏹ Stopped.")
    user = await services_user(running, alice)
    conv = await running.services.conversations.for_chat(f"telegram:{chat['id']}")
    answer = (await running.services.conversations.messages(user.id, conv.id)).items[-1]
    assert answer.status == "cancelled" and 0 < len(answer.content) < len("word " * 80)
    await tg.send_text(chat, alice, "/cancel")
    await tg.wait_until(lambda: tg.bot_messages(chat)[-1].text == en("cancel.nothing"))


async def test_cancel_from_someone_else_in_a_group_does_not_stop_the_answer(launch, tg, fake_llm,
                                                                            coordination) -> None:
    await launch("webhook", **coordination)
    fake_llm.script(reply="slow " * 30, chunk_chars=5, chunk_delay=0.03)
    alice, mallory = tg.user(6201, "Alice"), tg.user(6202, "Mallory")
    group = tg.group_chat(-6200, "Team")
    await tg.send_text(group, alice, "@test_bot count")
    await tg.wait_until(lambda: any("slow" in m.text for m in tg.bot_messages(group)))
    await tg.send_text(group, mallory, "/cancel")
    await tg.wait_until(lambda: any(m.text == en("cancel.not_yours") for m in tg.bot_messages(group)))
    [done] = await tg.wait_until(lambda: answers(tg, group))
    assert done.text.strip() == ("slow " * 30).strip() and "Stopped" not in done.text


async def test_a_flood_control_pause_holds_the_chat_back_for_retry_after(launch, tg, fake_llm, coordination) -> None:
    await launch("webhook", **coordination)
    fake_llm.default = Script(chunk_chars=2, chunk_delay=0.02)
    alice = tg.user(6301, "Alice")
    chat = tg.private_chat(alice)
    tg.flood(chat["id"], retry_after=2)
    await tg.send_text(chat, alice, "message from Alice")
    [done] = await tg.wait_until(lambda: answers(tg, chat))
    [refused] = [c for c in tg.rejected() if c.params.get("chat_id") == chat["id"]]   # waited, not hammered
    assert all(t < refused.at or t >= refused.at + 1.99 for t in done.times)           # nothing in the window
    assert done.text == "Echo: message from Alice"
