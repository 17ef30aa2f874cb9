"""Quota holds as leases on real SQLite and PostgreSQL: renewal, the sweep of lapsed holds, and settlement racing
both, which must never overdraw nor charge twice."""
from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from adapters.storage import db
from adapters.storage.ledger import TortoiseLedger
from adapters.storage.models import HoldRow, LedgerRow
from adapters.storage.users import TortoiseUsers
from core.domain import Identity, ModelSpec, Usage
from core.errors import QuotaExceeded
from core.quota import QuotaLedger, worst_case_cost

SPEC = ModelSpec("m", input_weight=1.0, output_weight=2.0, context_window=8192, max_output_tokens=50)
HOLD = worst_case_cost(SPEC, 20)   # 122


@pytest.fixture
async def store(database_url: str):
    await db.open_database(database_url)
    yield TortoiseUsers(), TortoiseLedger()
    await db.close_database()


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _user(store, balance: int) -> str:
    users, ledger = store
    user = await users.create("u", Identity("test", uuid.uuid4().hex), 0)
    await ledger.post(user.id, balance, "grant", key=f"grant:{user.id}")
    return user.id


async def _money(store, user_id: str) -> tuple[int, int]:
    user = await store[0].get(user_id)
    return user.balance, user.held


async def _ledger_sum(user_id: str) -> int:
    return sum(e.amount for e in await LedgerRow.filter(user_id=user_id))


async def test_renew_moves_only_an_active_holds_expiry(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    later = _now() + timedelta(seconds=90)
    live = await ledger.try_hold(user_id, 100, "live", _now() + timedelta(seconds=5))
    assert await ledger.renew(live.id, later)
    assert (await HoldRow.get(id=live.id)).expires_at == later

    settled = await ledger.try_hold(user_id, 100, "settled", _now() + timedelta(seconds=5))
    await ledger.settle(settled, 10, key="usage:settled", ref="m1")
    released = await ledger.try_hold(user_id, 100, "released", _now() + timedelta(seconds=5))
    await ledger.release(released.id)
    swept = await ledger.try_hold(user_id, 100, "swept", _now() - timedelta(seconds=1))
    assert await ledger.release_expired(_now()) == 1
    for gone in (settled, released, swept):
        before = await HoldRow.get(id=gone.id)
        assert not await ledger.renew(gone.id, later)
        after = await HoldRow.get(id=gone.id)
        assert (after.status, after.expires_at) == (before.status, before.expires_at) != ("active", later)
    assert not await ledger.renew("no-such-hold", later)
    assert await _money(store, user_id) == (990, 100)      # only `live` is held; only `settled` was charged


async def test_the_sweep_frees_a_lapsed_lease_and_keeps_a_renewed_one(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    now = _now()
    renewed = await ledger.try_hold(user_id, 300, "renewed", now - timedelta(seconds=1))
    lapsed = await ledger.try_hold(user_id, 200, "lapsed", now - timedelta(seconds=1))
    assert await ledger.renew(renewed.id, now + timedelta(seconds=20))
    assert await ledger.release_expired(now) == 1
    assert (await HoldRow.get(id=renewed.id)).status == "active"
    assert (await HoldRow.get(id=lapsed.id)).status == "expired"
    assert await _money(store, user_id) == (1000, 300)
    assert await ledger.release_expired(now) == 0             # a swept hold is freed once


async def test_a_renewal_committed_while_the_sweep_waits_for_the_row_keeps_the_hold(postgres_url: str) -> None:
    """The sweep reads a hold as lapsed, but its worker's renewal holds the row and commits first: the sweep must
    look again at the expiry and leave the hold alone (PostgreSQL, where the two really run side by side)."""
    import asyncpg

    await db.open_database(postgres_url)
    other = await asyncpg.connect(postgres_url.replace("postgres://", "postgresql://", 1))
    try:
        store = TortoiseUsers(), TortoiseLedger()
        ledger = store[1]
        user_id = await _user(store, 1000)
        hold = await ledger.try_hold(user_id, 300, "reply:renewing", _now() - timedelta(seconds=1))
        renewal = other.transaction()
        await renewal.start()
        await other.execute("UPDATE quota_holds SET expires_at = $1 WHERE id = $2 AND status = 'active'",
                            _now() + timedelta(seconds=20), hold.id)
        sweep = asyncio.create_task(ledger.release_expired(_now()))
        for _ in range(400):       # until the sweep has read the old expiry and waits for the renewal's row lock
            if await other.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
                break
            await asyncio.sleep(0.025)
        else:
            raise AssertionError("the sweep never reached the locked hold")
        await renewal.commit()
        assert await sweep == 0
        assert (await HoldRow.get(id=hold.id)).status == "active"
        assert await _money(store, user_id) == (1000, 300)
    finally:
        await other.close()
        await db.close_database()


async def test_settling_a_hold_the_sweep_already_freed_charges_once_and_never_below_zero(store) -> None:
    """Worker A stalls past its lease; the sweep frees A's hold and worker B's reply takes the balance; then A
    settles: A is charged only what is left, B's reply is still covered, and nothing is released twice."""
    _, ledger = store
    user_id = await _user(store, 300)
    a = await ledger.try_hold(user_id, 250, "reply:a", _now() - timedelta(seconds=1))
    assert await ledger.release_expired(_now()) == 1
    b = await ledger.try_hold(user_id, 250, "reply:b", _now() + timedelta(seconds=20))
    assert b is not None and await _money(store, user_id) == (300, 250)

    late = await ledger.settle(a, 200, key="usage:a", ref="a")
    assert late is not None and late.amount == -50 and late.balance_after == 250   # capped by what B left
    assert await _money(store, user_id) == (250, 250)
    assert await ledger.settle(a, 200, key="usage:a", ref="a") is None            # never twice
    assert not await ledger.release(a.id)
    assert await _money(store, user_id) == (250, 250)

    charged = await ledger.settle(b, 250, key="usage:b", ref="b")
    assert charged is not None and charged.amount == -250
    assert await _money(store, user_id) == (0, 0)
    assert await _ledger_sum(user_id) == 0
    assert {h.key: h.status for h in await HoldRow.filter(user_id=user_id)} == {"reply:a": "expired",
                                                                              "reply:b": "settled"}


async def test_racing_renewals_sweeps_settlements_and_new_holds_never_overdraw(store) -> None:
    _, ledger = store
    start = 2000
    user_id = await _user(store, start)
    rng = random.Random(13)
    settled: list[int] = []
    samples: list[tuple[int, int]] = []
    racing = True

    async def reply(i: int) -> None:
        # Half the replies start already lapsed (their worker stalled); each renews, settles, or dies.
        expiry = _now() + timedelta(seconds=rng.choice([-5, 30]))
        hold = await ledger.try_hold(user_id, HOLD, f"reply:{i}", expiry)
        if hold is None:
            return
        for _ in range(rng.randint(0, 3)):
            await ledger.renew(hold.id, _now() + timedelta(seconds=rng.choice([-5, 30])))
            await asyncio.sleep(rng.random() / 200)
        fate = rng.random()
        if fate < 0.7:
            entry = await ledger.settle(hold, rng.randint(0, 2 * HOLD), key=f"usage:{i}", ref=str(i))
            assert entry is not None and entry.amount <= 0 and entry.balance_after >= 0
            settled.append(-entry.amount)
        elif fate < 0.85:
            await ledger.release(hold.id)
        # else: the worker died; only the sweep frees it

    async def sweeper() -> None:
        while racing:
            await ledger.release_expired(_now())
            await asyncio.sleep(0.002)

    async def watcher() -> None:
        while racing:
            samples.append(await _money(store, user_id))
            await asyncio.sleep(0.001)

    background = [asyncio.create_task(sweeper()), asyncio.create_task(sweeper()), asyncio.create_task(watcher())]
    await asyncio.gather(*(reply(i) for i in range(80)))
    racing = False
    await asyncio.gather(*background)
    assert await ledger.release_expired(_now() + timedelta(hours=1)) >= 0   # the dead workers' holds

    balance, held = await _money(store, user_id)
    assert held == 0 and balance == start - sum(settled) >= 0
    assert await _ledger_sum(user_id) == balance
    assert samples and all(0 <= h <= b for b, h in samples)   # at no moment more held than owned
    assert all(e.balance_after >= 0 for e in await LedgerRow.filter(user_id=user_id))
    statuses = [h.status for h in await HoldRow.filter(user_id=user_id)]
    assert statuses and set(statuses) <= {"settled", "released", "expired"}
    assert len(settled) == await LedgerRow.filter(user_id=user_id, kind="usage").count()


async def test_a_dead_replys_hold_blocks_its_user_for_one_lease_not_the_ttl(store) -> None:
    _, ledger = store
    user_id = await _user(store, HOLD + 50)
    clock = [_now()]
    quota = QuotaLedger(ledger, hold_ttl_seconds=600, clock=lambda: clock[0], hold_lease_seconds=20)
    await quota.hold(user_id, SPEC, 20, key="reply:dead")      # its worker dies: never renewed nor settled
    clock[0] += timedelta(seconds=19)
    with pytest.raises(QuotaExceeded):
        await quota.hold(user_id, SPEC, 20, key="reply:too-soon")
    clock[0] += timedelta(seconds=2)
    hold = await quota.hold(user_id, SPEC, 20, key="reply:next")   # served again, well inside the 600 s TTL
    await quota.settle(hold, SPEC, Usage(20, 10), message_id="next")
    assert await _money(store, user_id) == (HOLD + 50 - 40, 0)


async def test_renewals_never_keep_a_hold_past_the_ttl(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    clock = [_now()]
    quota = QuotaLedger(ledger, hold_ttl_seconds=60, clock=lambda: clock[0], hold_lease_seconds=20)
    hold = await quota.hold(user_id, SPEC, 20, key="reply:long")
    deadline = clock[0] + timedelta(seconds=60)
    clock[0] += timedelta(seconds=15)
    assert await quota.renew(hold, deadline)
    assert (await HoldRow.get(id=hold.id)).expires_at == clock[0] + timedelta(seconds=20)
    clock[0] += timedelta(seconds=35)                          # 50 s old: one more lease would pass the TTL
    assert await quota.renew(hold, deadline)
    assert (await HoldRow.get(id=hold.id)).expires_at == deadline
    clock[0] = deadline
    assert await quota.release_expired() == 1
    assert await _money(store, user_id) == (1000, 0)
