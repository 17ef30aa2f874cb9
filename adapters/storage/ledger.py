"""LedgerRepository on tortoise: holds and entries whose balance changes are atomic on SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.exceptions import DoesNotExist, IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from adapters.storage.models import HoldRow, LedgerRow, UserRow
from adapters.storage.pages import page_of
from adapters.storage.sql import auto_now, connection, in_transaction_already, is_postgres, sql, to_db_datetime
from core.domain import Hold, LedgerEntry, Page


def _entry(row: LedgerRow) -> LedgerEntry:
    return LedgerEntry(row.id, row.seq, row.user_id, row.kind, row.amount, row.balance_after, row.key, row.ref,
                       row.created_at)


# try_hold, settle and release run on every reply, so they are hand-written SQL: on PostgreSQL each is one
# statement (atomic by itself, no BEGIN/COMMIT round trips); SQLite cannot write two tables in one statement,
# so there they are a short transaction whose first statement writes (a WAL reader that later writes can fail
# with SQLITE_BUSY when another process wrote in between).

# The conditional UPDATE serialises concurrent holds on the user's row and re-checks the committed balance
# after waiting for it, so none can overdraw; the hold row is only inserted when the user's row was charged.
_HOLD_PG = """
WITH charged AS (UPDATE users SET held = held + ? WHERE id = ? AND balance >= held + ? RETURNING id)
INSERT INTO quota_holds (id, user_id, amount, "key", status, expires_at, created_at)
SELECT ?, id, ?::bigint, ?, 'active', ?::timestamptz, ?::timestamptz FROM charged RETURNING id"""
_CHARGE_HELD = "UPDATE users SET held = held + ? WHERE id = ? AND balance >= held + ?"
_INSERT_HOLD = ('INSERT INTO quota_holds (id, user_id, amount, "key", status, expires_at, created_at) '
                "VALUES (?, ?, ?, ?, 'active', ?, ?)")

# Locks the hold, then the user's row, in the order release takes them. Only a hold this call moves from active
# gives its amount back to the balance; the charge is capped by the balance left beyond the other holds.
# (FOR UPDATE makes `locked` the latest committed row, which the UPDATE then writes from.)
_SETTLE_PG = """
WITH settled AS (
    UPDATE quota_holds SET status = 'settled'
    WHERE id = ? AND status = 'active' AND EXISTS (SELECT 1 FROM users WHERE id = ?) RETURNING 1),
locked AS (
    SELECT balance, held - CASE WHEN EXISTS (SELECT 1 FROM settled) THEN ?::bigint ELSE 0 END AS held
    FROM users WHERE id = ? FOR UPDATE),
charged AS (
    UPDATE users SET held = locked.held,
                     balance = locked.balance - GREATEST(0, LEAST(?::bigint, locked.balance - locked.held))
    FROM locked WHERE users.id = ? RETURNING users.balance, locked.balance - users.balance AS charge)
INSERT INTO ledger_entries (id, user_id, kind, amount, balance_after, "key", ref, created_at)
SELECT ?, ?, 'usage', -charge, balance, ?, ?, ?::timestamptz FROM charged RETURNING seq, amount, balance_after"""
_SETTLE_HOLD = "UPDATE quota_holds SET status = 'settled' WHERE id = ? AND status = 'active'"
_INSERT_USAGE = """
INSERT INTO ledger_entries (id, user_id, kind, amount, balance_after, "key", ref, created_at)
SELECT ?, id, 'usage', -charge, balance - charge, ?, ?, ?
FROM (SELECT id, balance, MAX(0, MIN(?, balance - (held - ?))) AS charge FROM users WHERE id = ?)
RETURNING seq, amount, balance_after"""
_APPLY_USAGE = "UPDATE users SET held = held - ?, balance = balance + ? WHERE id = ?"

_RELEASE_PG = """
WITH freed AS (
    UPDATE quota_holds SET status = 'released' WHERE id = ? AND status = 'active' RETURNING user_id, amount),
unheld AS (UPDATE users SET held = users.held - freed.amount FROM freed WHERE users.id = freed.user_id)
SELECT count(*) FROM freed"""
_RELEASE_HOLD = ("UPDATE quota_holds SET status = 'released' WHERE id = ? AND status = 'active' "
                 "RETURNING user_id, amount")
_UNHOLD = "UPDATE users SET held = held - ? WHERE id = ?"

# A lease renewal: one statement that touches nothing once the hold was settled, released or swept.
_RENEW = "UPDATE quota_holds SET expires_at = ? WHERE id = ? AND status = 'active'"


async def _one_statement(query: str, values: list) -> list[dict]:
    """Run one PostgreSQL statement. Inside a caller's transaction it gets a savepoint, so that a duplicate key
    undoes only this step, as the nested in_transaction() of the ORM version did."""
    conn = connection()
    if in_transaction_already(conn):
        async with in_transaction() as conn:
            return await conn.execute_query_dict(sql(conn, query), values)
    return await conn.execute_query_dict(sql(conn, query), values)


class TortoiseLedger:
    async def try_hold(self, user_id: str, amount: int, key: str, expires_at: datetime) -> Hold | None:
        hold_id, expires, created = str(uuid.uuid4()), to_db_datetime(expires_at), auto_now()
        try:
            if is_postgres(connection()):
                if not await _one_statement(_HOLD_PG, [amount, user_id, amount, hold_id, amount, key, expires,
                                                       created]):
                    return None
            else:
                async with in_transaction() as conn:
                    changed, _ = await conn.execute_query(sql(conn, _CHARGE_HELD), [amount, user_id, amount])
                    if not changed:
                        return None
                    await conn.execute_query(sql(conn, _INSERT_HOLD), [hold_id, user_id, amount, key, expires,
                                                                       created])
        except IntegrityError:
            return None
        return Hold(hold_id, user_id, amount, key, expires_at)

    async def settle(self, hold: Hold, cost: int, key: str, ref: str) -> LedgerEntry | None:
        entry_id, created = str(uuid.uuid4()), auto_now()
        try:
            if is_postgres(connection()):
                rows = await _one_statement(_SETTLE_PG, [hold.id, hold.user_id, hold.amount, hold.user_id, cost,
                                                         hold.user_id, entry_id, hold.user_id, key, ref, created])
                if not rows:
                    raise DoesNotExist(UserRow)
            else:
                async with in_transaction() as conn:
                    live, _ = await conn.execute_query(sql(conn, _SETTLE_HOLD), [hold.id])
                    released = hold.amount if live else 0
                    rows = await conn.execute_query_dict(sql(conn, _INSERT_USAGE), [
                        entry_id, key, ref, created, cost, released, hold.user_id])
                    if not rows:
                        raise DoesNotExist(UserRow)
                    await conn.execute_query(sql(conn, _APPLY_USAGE), [released, rows[0]["amount"], hold.user_id])
        except IntegrityError:
            return None
        row = rows[0]
        return LedgerEntry(entry_id, row["seq"], hold.user_id, "usage", row["amount"], row["balance_after"], key, ref,
                           to_db_datetime(created))

    async def release(self, hold_id: str) -> bool:
        conn = connection()
        if is_postgres(conn):
            _, rows = await conn.execute_query(sql(conn, _RELEASE_PG), [hold_id])
            return bool(rows[0][0])
        async with in_transaction() as conn:
            rows = await conn.execute_query_dict(sql(conn, _RELEASE_HOLD), [hold_id])
            if not rows:
                return False
            await conn.execute_query(sql(conn, _UNHOLD), [rows[0]["amount"], rows[0]["user_id"]])
            return True

    async def renew(self, hold_id: str, expires_at: datetime) -> bool:
        conn = connection()
        changed, _ = await conn.execute_query(sql(conn, _RENEW), [to_db_datetime(expires_at), hold_id])
        return bool(changed)

    async def release_expired(self, now: datetime) -> int:
        freed = 0
        for hold in await HoldRow.filter(status="active", expires_at__lte=now).limit(500):
            async with in_transaction():
                # The expiry is checked again as the row is written: a renewal that landed since the SELECT
                # keeps the hold, and a settle or release that did leaves it to them (only one moves it).
                if await HoldRow.filter(id=hold.id, status="active", expires_at__lte=now).update(status="expired"):
                    await UserRow.filter(id=hold.user_id).update(held=F("held") - hold.amount)
                    freed += 1
        return freed

    async def post(self, user_id: str, amount: int, kind: str, key: str, ref: str = "") -> LedgerEntry | None:
        if await LedgerRow.exists(key=key):
            return None
        try:
            async with in_transaction():
                user = await UserRow.filter(id=user_id).select_for_update().get()
                if amount < 0:
                    amount = -min(-amount, max(0, user.balance - user.held))
                balance = user.balance + amount
                await UserRow.filter(id=user_id).update(balance=balance)
                row = await LedgerRow.create(id=str(uuid.uuid4()), user_id=user_id, kind=kind, amount=amount,
                                             balance_after=balance, key=key, ref=ref)
        except IntegrityError:
            return None
        return _entry(row)

    async def find(self, key: str) -> LedgerEntry | None:
        row = await LedgerRow.get_or_none(key=key)
        return _entry(row) if row else None

    async def entries(self, user_id: str, limit: int, cursor: str | None) -> Page:
        return await page_of(LedgerRow.filter(user_id=user_id), limit, cursor, _entry, newest_first=True)
