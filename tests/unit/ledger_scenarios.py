"""Ledger rules as scenarios over (UserRepository, LedgerRepository): run on the in-memory fakes in tests/unit
and on SQLite and PostgreSQL in tests/integration/test_memory_fakes.py, so the fakes cannot drift."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable

from core.domain import Identity


def _at(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


async def _user(users, ledger, balance: int) -> str:
    user = await users.create("u", Identity("test", uuid.uuid4().hex), 0)
    await ledger.post(user.id, balance, "grant", key=f"grant:{user.id}")
    return user.id


async def _money(users, user_id: str) -> tuple[int, int]:
    user = await users.get(user_id)
    return user.balance, user.held


async def a_hold_needs_the_available_balance_and_a_new_key(users, ledger) -> None:
    uid = await _user(users, ledger, 100)
    assert await ledger.try_hold(uid, 60, "h1", _at(600)) is not None
    assert await ledger.try_hold(uid, 50, "h2", _at(600)) is None        # 40 left
    assert await ledger.try_hold(uid, 40, "h3", _at(600)) is not None
    assert await ledger.try_hold(uid, 0, "h1", _at(600)) is None         # a used key
    assert await _money(users, uid) == (100, 100)


async def a_settle_charges_the_cost_once_and_frees_the_hold(users, ledger) -> None:
    uid = await _user(users, ledger, 100)
    hold = await ledger.try_hold(uid, 60, "reply:a", _at(600))
    entry = await ledger.settle(hold, 25, "usage:a", "a")
    assert (entry.kind, entry.amount, entry.balance_after) == ("usage", -25, 75)
    assert await ledger.settle(hold, 25, "usage:a", "a") is None
    assert await _money(users, uid) == (75, 0)
    assert (await ledger.find("usage:a")).amount == -25


async def a_charge_never_takes_what_other_holds_reserve(users, ledger) -> None:
    uid = await _user(users, ledger, 100)
    first = await ledger.try_hold(uid, 60, "reply:1", _at(600))
    await ledger.try_hold(uid, 40, "reply:2", _at(600))
    entry = await ledger.settle(first, 500, "usage:1", "1")
    assert entry.amount == -60 and await _money(users, uid) == (40, 40)


async def a_hold_is_released_once_and_expired_holds_are_freed(users, ledger) -> None:
    uid = await _user(users, ledger, 100)
    hold = await ledger.try_hold(uid, 30, "reply:r", _at(600))
    assert await ledger.release(hold.id) is True
    assert await ledger.release(hold.id) is False
    await ledger.try_hold(uid, 70, "reply:old", _at(-1))
    assert await _money(users, uid) == (100, 70)
    assert await ledger.release_expired(datetime.now(timezone.utc)) == 1
    assert await _money(users, uid) == (100, 0)


async def a_debit_stops_at_the_available_balance_and_a_key_counts_once(users, ledger) -> None:
    uid = await _user(users, ledger, 100)
    await ledger.try_hold(uid, 30, "reply:x", _at(600))
    entry = await ledger.post(uid, -500, "adjustment", "adj:1")
    assert (entry.amount, entry.balance_after) == (-70, 30)
    assert await ledger.post(uid, 1000, "purchase", "adj:1") is None
    assert await _money(users, uid) == (30, 30)
    page = await ledger.entries(uid, 10, None)
    assert [e.kind for e in page.items] == ["adjustment", "grant"]          # newest first


async def concurrent_holds_never_overdraw(users, ledger) -> None:
    uid = await _user(users, ledger, 100)
    holds = await asyncio.gather(*(ledger.try_hold(uid, 10, f"reply:{i}", _at(600)) for i in range(25)))
    assert sum(1 for h in holds if h is not None) == 10
    assert await _money(users, uid) == (100, 100)


SCENARIOS: list[Callable[..., Awaitable[None]]] = [
    a_hold_needs_the_available_balance_and_a_new_key, a_settle_charges_the_cost_once_and_frees_the_hold,
    a_charge_never_takes_what_other_holds_reserve, a_hold_is_released_once_and_expired_holds_are_freed,
    a_debit_stops_at_the_available_balance_and_a_key_counts_once, concurrent_holds_never_overdraw,
]
