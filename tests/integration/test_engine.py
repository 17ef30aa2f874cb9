"""ChatEngine end to end through real services: SQLite, the openai SDK and the local model server."""
from __future__ import annotations

import asyncio
import math

import pytest

from core.chat import ReplyDelta, ReplyFinished, ReplyStarted
from core.domain import Identity, InboundMessage
from core.errors import InvalidRequest, NotFound, QuotaExceeded, UpstreamError
from tests.conftest import make_config
from tests.fakes.openai_server import prompt_tokens_of


async def collect(services, inbound: InboundMessage) -> list:
    return [event async for event in services.engine.reply(inbound)]


async def test_reply_streams_stores_and_charges_real_usage(services, fake_llm) -> None:
    user = await services.accounts.ensure_user(Identity("test", "alice"), "Alice")
    assert user.balance == 1000 and user.is_new
    fake_llm.script(reply="Hello there, Alice!", chunk_chars=5)
    events = await collect(services, InboundMessage(user.id, "hi"))
    assert isinstance(events[0], ReplyStarted) and isinstance(events[-1], ReplyFinished)
    text = "".join(e.text for e in events if isinstance(e, ReplyDelta))
    message = events[-1].message
    assert text == message.content == "Hello there, Alice!"
    request = fake_llm.chat_requests[0]
    assert request["stream_options"] == {"include_usage": True} and request["max_tokens"] == 100
    prompt = prompt_tokens_of(request["messages"])
    assert message.usage.prompt_tokens == prompt and message.usage.completion_tokens == 4
    assert message.cost == math.ceil(prompt * 1.0 + 4 * 2.0)
    after = await services.accounts.get(user.id)
    assert after.balance == 1000 - message.cost and after.held == 0
    listed = await services.conversations.messages(user.id, events[0].conversation.id)
    assert [m.role for m in listed.items] == ["user", "assistant"]


async def test_quota_refusal_makes_no_call_and_stores_nothing(services, fake_llm) -> None:
    user = await services.accounts.ensure_user(Identity("test", "poor"))
    await services.quota.debit(user.id, 950, "adjustment", key="drain")
    with pytest.raises(QuotaExceeded):
        await collect(services, InboundMessage(user.id, "hi"))
    assert fake_llm.chat_requests == []
    assert (await services.conversations.list(user.id)).items == ()
    assert (await services.accounts.get(user.id)).held == 0


@pytest.mark.parametrize("script", [{"status": 500}, {"status": 401}, {"cut_after": 0}, {"garbage_after": 0}])
async def test_failed_reply_is_not_charged(services, fake_llm, script) -> None:
    user = await services.accounts.ensure_user(Identity("test", "bob"))
    fake_llm.script(reply="a fairly long answer that will break", **script)
    with pytest.raises(UpstreamError):
        await collect(services, InboundMessage(user.id, "hi"))
    after = await services.accounts.get(user.id)
    assert (after.balance, after.held) == (1000, 0)


@pytest.mark.parametrize("script", [{"cut_after": 2}, {"garbage_after": 1}])
async def test_reply_broken_after_text_ends_with_a_note_and_charges_what_was_generated(services, fake_llm,
                                                                                       script) -> None:
    user = await services.accounts.ensure_user(Identity("test", "bob"))
    fake_llm.script(reply="a fairly long answer that will break", chunk_chars=4, **script)
    events = await collect(services, InboundMessage(user.id, "hi"))
    message = events[-1].message
    assert message.status == "error" and "cut off" in message.content and message.cost > 0
    assert len(fake_llm.chat_requests) == 1
    after = await services.accounts.get(user.id)
    assert (after.balance, after.held) == (1000 - message.cost, 0)


async def test_stream_without_usage_is_charged_by_tokenizer_estimate(services, fake_llm) -> None:
    user = await services.accounts.ensure_user(Identity("test", "est"))
    fake_llm.script(reply="Estimated answer.", omit_usage=True)
    events = await collect(services, InboundMessage(user.id, "hi"))
    message = events[-1].message
    assert message.usage.completion_tokens == services.counter.count("Estimated answer.")
    assert message.cost > 0 and (await services.accounts.get(user.id)).balance == 1000 - message.cost


async def test_cancelled_reply_is_charged_for_what_was_generated(services, fake_llm) -> None:
    user = await services.accounts.ensure_user(Identity("test", "carol"))
    fake_llm.script(reply="one two three four five six seven eight", chunk_chars=4, chunk_delay=0.2)
    got_first = asyncio.Event()

    async def consume() -> None:
        async for event in services.engine.reply(InboundMessage(user.id, "count", chat_key="c1")):
            if isinstance(event, ReplyDelta):
                got_first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    conv = await services.conversations.for_chat("c1")
    messages = (await services.conversations.messages(user.id, conv.id)).items
    answer = messages[-1]
    assert answer.status == "cancelled" and answer.content and answer.cost > 0
    after = await services.accounts.get(user.id)
    assert after.balance == 1000 - answer.cost and after.held == 0


async def test_history_per_chat_and_new_conversation(services, fake_llm) -> None:
    user = await services.accounts.ensure_user(Identity("test", "dave"))
    await collect(services, InboundMessage(user.id, "my name is Dave", chat_key="chat-1"))
    await collect(services, InboundMessage(user.id, "what is my name?", chat_key="chat-1"))
    second = fake_llm.chat_requests[-1]["messages"]
    assert [m["content"] for m in second[1:]] == ["my name is Dave", "Echo: my name is Dave", "what is my name?"]
    await services.conversations.start_new_chat(user.id, "chat-1")
    await collect(services, InboundMessage(user.id, "fresh start", chat_key="chat-1"))
    assert [m["role"] for m in fake_llm.chat_requests[-1]["messages"]] == ["system", "user"]


async def test_role_sets_the_system_prompt(services, fake_llm) -> None:
    user = await services.accounts.ensure_user(Identity("test", "erin"))
    conv = await services.conversations.create(user.id, role="pirate", instruction="Keep it short.")
    await collect(services, InboundMessage(user.id, "ahoy", conversation_id=conv.id))
    system = fake_llm.chat_requests[-1]["messages"][0]
    assert system["role"] == "system" and "pirate" in system["content"] and "Keep it short." in system["content"]


async def test_conversations_are_private(services) -> None:
    alice = await services.accounts.ensure_user(Identity("test", "a"))
    mallory = await services.accounts.ensure_user(Identity("test", "m"))
    conv = await services.conversations.create(alice.id)
    with pytest.raises(NotFound):
        await collect(services, InboundMessage(mallory.id, "hi", conversation_id=conv.id))
    with pytest.raises(NotFound):
        await services.conversations.get(mallory.id, conv.id)


async def test_bad_input_is_refused_before_anything_happens(services, fake_llm) -> None:
    user = await services.accounts.ensure_user(Identity("test", "f"))
    with pytest.raises(InvalidRequest):
        await collect(services, InboundMessage(user.id, "   "))
    with pytest.raises(InvalidRequest):
        await collect(services, InboundMessage(user.id, "x" * 40_000))
    with pytest.raises(InvalidRequest):
        await collect(services, InboundMessage(user.id, "hi", model="no-such-model"))
    assert fake_llm.chat_requests == []


async def test_signup_grant_is_credited_once_even_when_first_contacts_race(services) -> None:
    users = await asyncio.gather(*(services.accounts.ensure_user(Identity("tg", "42")) for _ in range(10)))
    assert len({u.id for u in users}) == 1
    ledger = await services.repos.ledger.entries(users[0].id, 50, None)
    assert [e.kind for e in ledger.items] == ["grant"] and users[0].balance in (0, 1000)
    assert (await services.accounts.get(users[0].id)).balance == 1000


async def test_link_code_joins_identities_and_keeps_balance(services) -> None:
    tg = await services.accounts.ensure_user(Identity("telegram", "1"))
    wx = await services.accounts.ensure_user(Identity("wechat", "o-1"))
    conv = await services.conversations.create(wx.id, title="from wechat")
    code = await services.accounts.new_link_code(tg.id)
    joined = await services.accounts.redeem_link_code(code, wx.id)
    assert joined.id == tg.id and joined.balance == 2000
    assert {i.channel for i in joined.identities} == {"telegram", "wechat"}
    assert (await services.conversations.get(tg.id, conv.id)).title == "from wechat"
    with pytest.raises(InvalidRequest):
        await services.accounts.redeem_link_code(code, wx.id)


async def test_rolling_summary_replaces_old_turns(tmp_path, fake_llm) -> None:
    from bot.wiring import open_services

    config = make_config(tmp_path, fake_llm.base_url,
                         conversation={"history_tokens": 100, "summary": {"enabled": True}},
                         quota={"signup_grant": 100_000})
    async with open_services(config, background=False) as services:
        user = await services.accounts.ensure_user(Identity("test", "long"))
        for i in range(6):
            # Like the channels do: stop reading at the answer. The summary must still be made.
            async for event in services.engine.reply(
                    InboundMessage(user.id, f"fact number {i}: " + "words " * 30, chat_key="k")):
                if isinstance(event, ReplyFinished):
                    break
            await services.engine.drain()
        conv = await services.conversations.for_chat("k")
        assert conv.summary and conv.summary_until > 0
        summary_calls = [r for r in fake_llm.chat_requests if "running summary" in r["messages"][0]["content"]]
        assert summary_calls
        await collect(services, InboundMessage(user.id, "what do you remember?", chat_key="k"))
        last = fake_llm.chat_requests[-1]["messages"]
        assert "Summary of the earlier conversation" in last[0]["content"]
