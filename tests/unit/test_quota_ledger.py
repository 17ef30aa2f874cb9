"""QuotaLedger's rules (hold the worst case, settle the real cost once, release) on the in-memory ledger, which
keeps the storage adapter's arithmetic (the same scenarios run on SQLite and PostgreSQL in tests/integration)."""
from __future__ import annotations

import pytest

from core.domain import Usage
from core.errors import QuotaExceeded
from core.quota import cost_of, worst_case_cost
from tests.unit.commands_support import user
from tests.unit.ledger_scenarios import SCENARIOS
from tests.unit.memory import MemoryDatabase, MemoryLedger, MemoryUsers
from tests.unit.memory_model import SPEC, build


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_ledger_rules_hold_for_the_in_memory_ledger(scenario) -> None:
    db = MemoryDatabase()
    await scenario(MemoryUsers(db), MemoryLedger(db))


async def test_a_hold_reserves_the_worst_case_and_refuses_what_the_balance_cannot_cover() -> None:
    core = build(grant=1000)
    alice = await user(core)
    worst = worst_case_cost(SPEC, 100)
    assert worst >= 100 * 1.1 * SPEC.input_weight + SPEC.max_output_tokens * SPEC.output_weight
    for n in range(1000 // worst):
        assert (await core.quota.hold(alice.id, SPEC, 100, key=f"reply:{n}")).amount == worst
    with pytest.raises(QuotaExceeded) as refused:
        await core.quota.hold(alice.id, SPEC, 100, key="reply:one-too-many")
    assert "Buy a pack" in refused.value.message
    after = await core.accounts.get(alice.id)
    assert (after.balance, after.held) == (1000, (1000 // worst) * worst)
    assert len(core.ledger.active_holds(alice.id)) == 1000 // worst


async def test_settling_charges_the_real_cost_once() -> None:
    core = build(grant=1000)
    alice = await user(core)
    hold = await core.quota.hold(alice.id, SPEC, 100, key="reply:m1")
    entry = await core.quota.settle(hold, SPEC, Usage(90, 12), "m1")
    assert entry.amount == -cost_of(SPEC, Usage(90, 12)) == -114
    assert await core.quota.settle(hold, SPEC, Usage(90, 12), "m1") is None     # a retried settle
    after = await core.accounts.get(alice.id)
    assert (after.balance, after.held) == (1000 - 114, 0)


async def test_a_crashed_workers_expired_hold_gives_way_to_a_new_one() -> None:
    core = build(grant=500)
    alice = await user(core)
    await core.quota.hold(alice.id, SPEC, 100, key="reply:stuck")              # never settled
    with pytest.raises(QuotaExceeded):
        await core.quota.hold(alice.id, SPEC, 100, key="reply:next")
    core.clock.advance(601)                                                    # past the hold's ttl
    fresh = await core.quota.hold(alice.id, SPEC, 100, key="reply:next")
    assert [h.key for h in core.ledger.active_holds(alice.id)] == [fresh.key]
    assert core.db.writes("ledger.expired")[0].key == "reply:stuck"


async def test_a_repeated_credit_counts_once() -> None:
    core = build(grant=0)
    alice = await user(core)
    assert (await core.quota.credit(alice.id, 300, "purchase", key="purchase:o1")).balance_after == 300
    assert await core.quota.credit(alice.id, 300, "purchase", key="purchase:o1") is None
    assert (await core.accounts.get(alice.id)).balance == 300
