"""The quota ledger against real SQLite and PostgreSQL: holds, settlement, idempotency, expiry."""
from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone

import pytest

from adapters.storage import db
from adapters.storage.ledger import TortoiseLedger
from adapters.storage.users import TortoiseUsers
from core.domain import Identity, ModelSpec, Usage
from core.errors import QuotaExceeded
from core.quota import QuotaLedger, cost_of, worst_case_cost

SPEC = ModelSpec("m", input_weight=1.0, output_weight=2.0, context_window=8192, max_output_tokens=50)


@pytest.fixture
async def store(database_url: str):
    await db.open_database(database_url)
    yield TortoiseUsers(), TortoiseLedger()
    await db.close_database()


async def _user(users: TortoiseUsers, ledger: TortoiseLedger, balance: int) -> str:
    user = await users.create("u", Identity("test", str(random.random())), 0)
    await ledger.post(user.id, balance, "grant", key=f"grant:{user.id}")
    return user.id


async def test_200_concurrent_replies_never_overdraw(store) -> None:
    users, ledger = store
    quota = QuotaLedger(ledger)
    start = 3000
    user_id = await _user(users, ledger, start)
    hold_size = worst_case_cost(SPEC, 20)  # 22*1 + 50*2 = 122 -> 24 holds fit in 3000
    results: list[int] = []

    async def reply(i: int) -> None:
        try:
            hold = await quota.hold(user_id, SPEC, 20, key=f"reply:{i}")
        except QuotaExceeded:
            return
        await asyncio.sleep(random.random() / 100)
        usage = Usage(prompt_tokens=20, completion_tokens=random.randint(1, 50))
        entry = await quota.settle(hold, SPEC, usage, message_id=f"m{i}")
        assert entry is not None
        results.append(-entry.amount)
        assert -entry.amount == cost_of(SPEC, usage)

    await asyncio.gather(*(reply(i) for i in range(200)))
    user = await users.get(user_id)
    assert user is not None
    assert user.held == 0
    assert user.balance >= 0
    assert sum(results) == start - user.balance
    # More replies were answered than a naive "one hold at a time" would allow, fewer than 200.
    assert start // hold_size <= len(results) < 200
    page = await ledger.entries(user_id, 100, None)
    usage_entries = [e for e in page.items if e.kind == "usage"]
    assert sum(-e.amount for e in usage_entries) == sum(results)
    assert all(e.balance_after >= 0 for e in page.items)


async def test_refused_hold_holds_nothing(store) -> None:
    users, ledger = store
    user_id = await _user(users, ledger, 10)
    with pytest.raises(QuotaExceeded):
        await QuotaLedger(ledger).hold(user_id, SPEC, 20, key="x")
    user = await users.get(user_id)
    assert user is not None and (user.balance, user.held) == (10, 0)


async def test_settle_is_idempotent_per_message(store) -> None:
    users, ledger = store
    quota = QuotaLedger(ledger)
    user_id = await _user(users, ledger, 1000)
    hold = await quota.hold(user_id, SPEC, 10, key="h")
    first = await quota.settle(hold, SPEC, Usage(10, 5), message_id="m1")
    again = await quota.settle(hold, SPEC, Usage(10, 5), message_id="m1")
    assert first is not None and first.amount == -20 and again is None
    user = await users.get(user_id)
    assert user is not None and (user.balance, user.held) == (980, 0)


async def test_credit_with_same_key_counts_once(store) -> None:
    users, ledger = store
    quota = QuotaLedger(ledger)
    user_id = await _user(users, ledger, 0)
    results = await asyncio.gather(*(quota.credit(user_id, 500, "purchase", key="order:1") for _ in range(20)))
    assert sum(1 for r in results if r is not None) == 1
    user = await users.get(user_id)
    assert user is not None and user.balance == 500


async def test_crash_between_hold_and_settle_leaves_no_stuck_hold(store) -> None:
    users, ledger = store
    user_id = await _user(users, ledger, 150)
    clock = [datetime.now(timezone.utc)]
    quota = QuotaLedger(ledger, hold_ttl_seconds=60, clock=lambda: clock[0])
    await quota.hold(user_id, SPEC, 20, key="crashed")  # the worker dies here: never settled
    with pytest.raises(QuotaExceeded):
        await quota.hold(user_id, SPEC, 20, key="next")
    clock[0] += timedelta(seconds=61)
    hold = await quota.hold(user_id, SPEC, 20, key="after-expiry")  # expired hold was freed first
    await quota.settle(hold, SPEC, Usage(20, 10), message_id="m")
    user = await users.get(user_id)
    assert user is not None and (user.balance, user.held) == (110, 0)


async def test_debit_never_goes_below_zero(store) -> None:
    users, ledger = store
    quota = QuotaLedger(ledger)
    user_id = await _user(users, ledger, 30)
    entry = await quota.debit(user_id, 100, "refund", key="refund:1")
    assert entry is not None and entry.amount == -30 and entry.balance_after == 0
