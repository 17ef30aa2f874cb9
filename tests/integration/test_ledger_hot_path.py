"""The ledger's hand-written holds and settlements against real SQLite and PostgreSQL: edge cases of the charge,
rollbacks, a caller's transaction, and concurrency that must never overdraw."""
from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from tortoise import Tortoise
from tortoise.exceptions import DoesNotExist

from adapters.storage import db
from adapters.storage.ledger import TortoiseLedger
from adapters.storage.models import HoldRow
from adapters.storage.users import TortoiseUsers
from core.domain import Hold, Identity


@pytest.fixture
async def store(database_url: str):
    await db.open_database(database_url)
    yield TortoiseUsers(), TortoiseLedger()
    await db.close_database()


def _later(seconds: int = 600) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


async def _user(store, balance: int) -> str:
    users, ledger = store
    user = await users.create("u", Identity("test", uuid.uuid4().hex), 0)
    await ledger.post(user.id, balance, "grant", key=f"grant:{user.id}")
    return user.id


async def _money(store, user_id: str) -> tuple[int, int]:
    user = await store[0].get(user_id)
    return user.balance, user.held


async def test_hold_row_reads_back_through_the_orm(store) -> None:
    _, ledger = store
    user_id = await _user(store, 500)
    expires = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=8)))
    hold = await ledger.try_hold(user_id, 120, "reply:1", expires)
    assert hold == Hold(hold.id, user_id, 120, "reply:1", expires)
    row = await HoldRow.get(id=hold.id)
    assert (row.user_id, row.amount, row.key, row.status) == (user_id, 120, "reply:1", "active")
    assert row.expires_at == expires
    assert row.created_at.tzinfo is not None and abs(row.created_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert await _money(store, user_id) == (500, 120)


async def test_hold_row_is_stored_as_the_orm_stores_it(store) -> None:
    _, ledger = store
    user_id = await _user(store, 500)
    expires = datetime(2031, 5, 6, 7, 8, 9, 120000, tzinfo=timezone(timedelta(hours=8)))
    by_sql = await ledger.try_hold(user_id, 120, "by-sql", expires)
    by_orm = await HoldRow.create(id=str(uuid.uuid4()), user_id=user_id, amount=120, key="by-orm", expires_at=expires)
    conn = Tortoise.get_connection("default")
    query = "SELECT * FROM quota_holds WHERE id = " + ("?" if conn.capabilities.dialect == "sqlite" else "$1")
    sql_row, orm_row = [(await conn.execute_query_dict(query, [i]))[0] for i in (by_sql.id, by_orm.id)]
    assert type(sql_row["created_at"]) is type(orm_row["created_at"])
    for row in (sql_row, orm_row):
        del row["id"], row["key"], row["created_at"]
    assert sql_row == orm_row


async def test_try_hold_fits_exactly_then_refuses(store) -> None:
    _, ledger = store
    user_id = await _user(store, 300)
    assert await ledger.try_hold(user_id, 200, "a", _later()) is not None
    assert await ledger.try_hold(user_id, 101, "b", _later()) is None
    assert await ledger.try_hold(user_id, 100, "c", _later()) is not None
    assert await ledger.try_hold(user_id, 1, "d", _later()) is None
    assert await ledger.try_hold("no-such-user", 1, "e", _later()) is None
    assert await _money(store, user_id) == (300, 300)


async def test_duplicate_hold_key_holds_nothing_more(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    first = await ledger.try_hold(user_id, 100, "reply:same", _later())
    assert first is not None
    assert await ledger.try_hold(user_id, 100, "reply:same", _later()) is None
    assert await _money(store, user_id) == (1000, 100)
    assert await HoldRow.filter(key="reply:same").count() == 1


async def test_settle_entry_reads_back_through_the_orm(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    hold = await ledger.try_hold(user_id, 100, "h", _later())
    entry = await ledger.settle(hold, 37, "usage:m1", "m1")
    assert (entry.user_id, entry.kind, entry.amount, entry.balance_after, entry.key, entry.ref) == (
        user_id, "usage", -37, 963, "usage:m1", "m1")
    assert await ledger.find("usage:m1") == entry
    assert entry in (await ledger.entries(user_id, 10, None)).items
    assert (await HoldRow.get(id=hold.id)).status == "settled"
    assert await _money(store, user_id) == (963, 0)


async def test_settling_a_settled_hold_charges_without_releasing_it_again(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    other = await ledger.try_hold(user_id, 200, "other", _later())
    hold = await ledger.try_hold(user_id, 100, "h", _later())
    assert (await ledger.settle(hold, 30, "usage:1", "1")).amount == -30
    assert await _money(store, user_id) == (970, 200)
    again = await ledger.settle(hold, 50, "usage:2", "2")
    assert (again.amount, again.balance_after) == (-50, 920)
    assert await _money(store, user_id) == (920, 200)
    assert other is not None and (await HoldRow.get(id=other.id)).status == "active"


async def test_settle_with_a_used_key_changes_nothing(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    first = await ledger.try_hold(user_id, 100, "h1", _later())
    second = await ledger.try_hold(user_id, 100, "h2", _later())
    await ledger.settle(first, 10, "usage:x", "x")
    assert await ledger.settle(second, 10, "usage:x", "x") is None
    assert (await HoldRow.get(id=second.id)).status == "active"   # rolled back with the refused entry
    assert await _money(store, user_id) == (990, 100)


async def test_charge_is_capped_by_what_other_holds_leave(store) -> None:
    _, ledger = store
    user_id = await _user(store, 200)
    hold = await ledger.try_hold(user_id, 100, "a", _later())
    await ledger.try_hold(user_id, 100, "b", _later())
    entry = await ledger.settle(hold, 500, "usage:a", "a")
    assert (entry.amount, entry.balance_after) == (-100, 100)
    assert await _money(store, user_id) == (100, 100)
    whole = await ledger.try_hold(await _user(store, 50), 50, "c", _later())
    everything = await ledger.settle(whole, 80, "usage:c", "c")
    assert (everything.amount, everything.balance_after) == (-50, 0)
    nothing = await ledger.settle(whole, 10, "usage:c2", "c2")
    assert (nothing.amount, nothing.balance_after) == (0, 0)


async def test_settle_for_a_missing_user_raises_and_writes_nothing(store) -> None:
    _, ledger = store
    ghost = Hold(str(uuid.uuid4()), "no-such-user", 10, "ghost", _later())
    await HoldRow.create(id=ghost.id, user_id=ghost.user_id, amount=10, key="ghost", expires_at=ghost.expires_at)
    with pytest.raises(DoesNotExist):
        await ledger.settle(ghost, 5, "usage:ghost", "ghost")
    assert (await HoldRow.get(id=ghost.id)).status == "active"
    assert await ledger.find("usage:ghost") is None


async def test_release_frees_an_active_hold_once(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    hold = await ledger.try_hold(user_id, 100, "a", _later())
    settled = await ledger.try_hold(user_id, 50, "b", _later())
    await ledger.settle(settled, 20, "usage:b", "b")
    assert await _money(store, user_id) == (980, 100)
    assert await ledger.release(hold.id) is True
    assert await ledger.release(hold.id) is False
    assert await ledger.release(settled.id) is False
    assert await ledger.release("no-such-hold") is False
    assert await _money(store, user_id) == (980, 0)
    assert (await HoldRow.get(id=hold.id)).status == "released"


async def test_expiry_sweep_frees_holds_written_by_try_hold(store) -> None:
    _, ledger = store
    user_id = await _user(store, 100)
    now = datetime.now(timezone.utc)
    await ledger.try_hold(user_id, 60, "old", now - timedelta(seconds=1))
    await ledger.try_hold(user_id, 40, "fresh", now + timedelta(seconds=60))
    assert await ledger.release_expired(now) == 1
    assert await _money(store, user_id) == (100, 40)


async def test_inside_a_callers_transaction_a_duplicate_undoes_only_itself(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    hold = await ledger.try_hold(user_id, 100, "h", _later())
    await ledger.settle(hold, 10, "usage:h", "h")
    async with db.TortoiseTransactions().atomic():
        assert await ledger.try_hold(user_id, 100, "h", _later()) is None
        assert await ledger.settle(hold, 10, "usage:h", "h") is None
        kept = await ledger.try_hold(user_id, 100, "kept", _later())
        assert await ledger.settle(kept, 25, "usage:kept", "kept") is not None
    assert await _money(store, user_id) == (965, 0)


async def test_concurrent_holds_settles_and_releases_never_overdraw(store) -> None:
    _, ledger = store
    start = 5000
    user_id = await _user(store, start)
    charged: list[int] = []

    async def reply(i: int) -> None:
        hold = await ledger.try_hold(user_id, 130, f"reply:{i}", _later())
        if hold is None:
            return
        await asyncio.sleep(random.random() / 200)
        if i % 4 == 0:
            assert await ledger.release(hold.id)
            return
        entry = await ledger.settle(hold, random.randint(0, 180), f"usage:{i}", str(i))
        charged.append(-entry.amount)

    await asyncio.gather(*(reply(i) for i in range(300)))
    balance, held = await _money(store, user_id)
    assert held == 0 and balance >= 0 and balance == start - sum(charged)
    assert await HoldRow.filter(user_id=user_id, status="active").count() == 0
    entries = (await ledger.entries(user_id, 500, None)).items
    assert all(e.balance_after >= 0 for e in entries)


async def test_concurrent_holds_take_exactly_what_the_balance_covers(store) -> None:
    _, ledger = store
    user_id = await _user(store, 1000)
    holds = await asyncio.gather(*(ledger.try_hold(user_id, 37, f"k{i}", _later()) for i in range(100)))
    granted = [h for h in holds if h is not None]
    assert len(granted) == 1000 // 37
    assert await _money(store, user_id) == (1000, 37 * len(granted))
