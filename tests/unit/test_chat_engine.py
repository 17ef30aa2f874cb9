"""ChatEngine on in-memory repositories and a scripted model, read through the reply helper (core/reply_stream)."""
from __future__ import annotations

import asyncio
import contextlib

from core.domain import InboundMessage, Usage
from core.ports import Passage
from core.quota import cost_of
from core.reply_stream import ReplyDone, ReplyFailed, ReplyGrew, ReplyOpened, collect_reply, follow_reply
from tests.unit.commands_support import user
from tests.unit.memory_model import SPEC, build


def _assistant(core):
    return [m for m in core.db.messages.values() if m.role == "assistant"]


async def test_an_answer_streams_is_stored_and_costs_what_the_model_reports() -> None:
    core = build(grant=1000)
    alice = await user(core)
    core.model.script(reply="Hello there, Alice.", chunk_chars=5, usage=Usage(40, 7))
    updates = [u async for u in follow_reply(core.engine.reply(InboundMessage(alice.id, "hi", chat_key="c1")))]
    assert isinstance(updates[0], ReplyOpened) and isinstance(updates[-1], ReplyDone)
    assert [u.text for u in updates if isinstance(u, ReplyGrew)][-1] == "Hello there, Alice."
    done = updates[-1]
    assert done.text == "Hello there, Alice." and done.message.cost == cost_of(SPEC, Usage(40, 7)) == 54
    after = await core.accounts.get(alice.id)
    assert (after.balance, after.held) == (1000 - 54, 0)
    assert [e.kind for e in core.db.entries if e.user_id == alice.id] == ["grant", "usage"]
    assert [(m.role, m.status) for m in sorted(core.db.messages.values(), key=lambda m: m.seq)] == \
        [("user", "complete"), ("assistant", "complete")]


async def test_a_chat_continues_its_conversation_with_the_history() -> None:
    core = build()
    alice = await user(core)
    await collect_reply(core.engine.reply(InboundMessage(alice.id, "first", chat_key="c1")))
    await collect_reply(core.engine.reply(InboundMessage(alice.id, "second", chat_key="c1")))
    sent = [(t.role, t.content) for t in core.model.requests[1].messages[1:]]
    assert sent == [("user", "first"), ("assistant", "Echo: first"), ("user", "second")]
    assert len(core.db.conversations) == 1


async def test_out_of_tokens_asks_no_model_and_stores_nothing() -> None:
    core = build(grant=10)
    alice = await user(core)
    outcome = await collect_reply(core.engine.reply(InboundMessage(alice.id, "hi", chat_key="c1")))
    assert isinstance(outcome, ReplyFailed) and outcome.out_of_tokens and not outcome.started
    assert core.texts.render(outcome.error, "en").startswith("You are out of tokens for this answer.")
    assert core.model.requests == [] and core.db.messages == {} and core.ledger.active_holds(alice.id) == []
    assert (await core.accounts.get(alice.id)).balance == 10


async def test_a_model_failure_before_any_text_is_not_charged() -> None:
    core = build(grant=1000)
    alice = await user(core)
    core.model.script(reply="an answer that never comes", fail_after=0)
    outcome = await collect_reply(core.engine.reply(InboundMessage(alice.id, "hi", chat_key="c1")))
    assert isinstance(outcome, ReplyFailed) and outcome.reason == "upstream_error" and outcome.partial == ""
    assert core.texts.render(outcome.error, "zh") == "模型没有给出回答，本次不收费。请稍后再试。"
    [answer] = _assistant(core)
    assert (answer.status, answer.cost, answer.id) == ("error", 0, outcome.message_id)
    assert (await core.accounts.get(alice.id)).balance == 1000 and core.ledger.active_holds(alice.id) == []


async def test_an_answer_cut_off_after_text_ends_with_a_note_in_the_users_language() -> None:
    core = build(grant=1000)
    alice = await user(core)
    for locale, note in (("zh", "[回答被中断：与模型的连接中断了。只按上面已生成的部分收费。]"),
                         (None, "[The answer was cut off: the connection to the model broke. You were charged "
                                "only for the part above.]")):
        core.model.script(reply="abcdefgh", chunk_chars=2, fail_after=2)
        inbound = InboundMessage(alice.id, "hi", chat_key=f"c-{locale}", locale=locale)
        outcome = await collect_reply(core.engine.reply(inbound))
        assert isinstance(outcome, ReplyDone) and not outcome.complete
        assert outcome.text == "abcd\n\n" + note   # stored with the answer, as the user saw it
        assert outcome.message.cost > 0


async def test_a_stopped_answer_is_charged_for_what_was_generated() -> None:
    core = build(grant=1000)
    alice = await user(core)
    script = core.model.script(reply="one two three four five six", chunk_chars=4, pause_after=2, omit_usage=True)
    seen: list[str] = []

    async def read() -> None:
        async with contextlib.aclosing(follow_reply(core.engine.reply(InboundMessage(alice.id, "count")))) as updates:
            async for update in updates:
                if isinstance(update, ReplyGrew):
                    seen.append(update.text)

    reader = asyncio.create_task(read())
    await core.model.paused.wait()          # two chunks are out; the model waits
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    [answer] = _assistant(core)
    assert (answer.status, answer.content) == ("cancelled", "one two ") and seen[-1] == "one two "
    assert answer.cost > 0 and (await core.accounts.get(alice.id)).balance == 1000 - answer.cost
    assert core.ledger.active_holds(alice.id) == [] and not script.resume.is_set()


class Shelf:
    """The Retriever port: the same three passages for any question."""

    async def retrieve(self, user_id, query, resource_ids, top_k):
        return [Passage("r1", "c1", "Handbook", "text one", 0.9), Passage("r2", "c2", "FAQ", "text two", 0.8),
                Passage("r1", "c3", "Handbook", "text three", 0.7)]


async def test_an_empty_answer_and_the_sources_are_told_apart() -> None:
    core = build(retriever=Shelf())
    alice = await user(core)
    core.model.script(reply="")
    empty = await collect_reply(core.engine.reply(InboundMessage(alice.id, "anything?")))
    assert isinstance(empty, ReplyDone) and empty.empty
    assert core.texts.render(empty.sources, "en") == "Sources: Handbook and FAQ"
    assert [c.chunk_id for c in empty.citations] == ["c1", "c2", "c3"]
    assert "text one" in core.model.requests[0].messages[0].content


async def test_an_unexpected_failure_still_ends_with_words_the_user_can_read() -> None:
    async def broken_engine():
        yield ReplyOpened  # not an engine event: ignored
        raise RuntimeError("a bug")

    outcome = await collect_reply(broken_engine())
    assert isinstance(outcome, ReplyFailed) and (outcome.reason, outcome.status) == ("internal_error", 500)
    assert build().texts.render(outcome.error, "zh") == "抱歉，我们这边出了点问题，请稍后再试。"
