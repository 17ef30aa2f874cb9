"""A reply that runs longer than its hold's lease keeps the hold (the engine renews it), and settles once at the end;
the quota clock is the test's, so "longer than the lease" is minutes of it, not of waiting."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from adapters.storage.models import HoldRow
from core.chat import ChatEngine, EngineSettings, ReplyDelta, ReplyFinished
from core.domain import Identity, InboundMessage
from core.quota import QuotaLedger, worst_case_cost

LEASE = 0.6   # seconds of the quota clock per lease; renewals run every LEASE / 3 of real time


async def _until(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)
    return value


async def test_a_reply_longer_than_its_lease_is_not_released_while_it_streams(services, fake_llm) -> None:
    clock = [datetime.now(timezone.utc)]
    quota = QuotaLedger(services.repos.ledger, hold_ttl_seconds=3600, clock=lambda: clock[0],
                        hold_lease_seconds=LEASE)
    repos = services.repos
    engine = ChatEngine(model=services.model, catalog=services.catalog, counter=services.counter, quota=quota,
                        conversations=repos.conversations, messages=repos.messages, roles=repos.roles,
                        settings=EngineSettings("You are a test assistant.", 1000))
    talker = await services.accounts.ensure_user(Identity("test", "long-talker"))
    dead = await services.accounts.ensure_user(Identity("test", "dead-worker"))
    # A hold no reply renews (its worker died): the control that shows each sweep below really runs.
    await quota.hold(dead.id, services.catalog.get(None), 10, key="reply:dead")

    gate = asyncio.Event()
    fake_llm.script(reply="a long, slow answer", chunk_chars=5, gate=gate, gate_after=1)
    first = asyncio.Event()
    events: list = []

    async def consume() -> None:
        async for event in engine.reply(InboundMessage(talker.id, "tell me a long story")):
            events.append(event)
            if isinstance(event, ReplyDelta):
                first.set()

    reply = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(first.wait(), 10)
        hold = await HoldRow.get(user_id=talker.id, status="active")
        held = (await services.accounts.get(talker.id)).held
        assert held == hold.amount > 0

        freed = []
        for _ in range(5):                               # 5 x 100 s of quota time: ~800 leases
            clock[0] += timedelta(seconds=100)
            now = clock[0]

            async def renewed_past_now() -> bool:
                return (await HoldRow.get(id=hold.id)).expires_at > now

            await _until(renewed_past_now)
            freed.append(await quota.release_expired())  # the sweep, at the new time
            assert (await HoldRow.get(id=hold.id)).status == "active"
            assert (await services.accounts.get(talker.id)).held == held
        assert freed == [1, 0, 0, 0, 0]                  # the dead hold went at once; the live one never
    finally:
        gate.set()                                       # however the test went, let the reply end
    await asyncio.wait_for(reply, 10)
    message = events[-1].message
    assert isinstance(events[-1], ReplyFinished) and message.content == "a long, slow answer"
    after = await services.accounts.get(talker.id)
    assert (after.balance, after.held) == (1000 - message.cost, 0) and message.cost > 0
    assert (await HoldRow.get(id=hold.id)).status == "settled"
    assert message.cost < worst_case_cost(services.catalog.get(None), message.usage.prompt_tokens)
