"""EphemeralStore in the database: short-lived keys with an expiry, shared by every worker."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from adapters.storage.models import EphemeralRow
from adapters.storage.sql import connection, sql, to_db_datetime

# One statement, so two workers counting at once never lose a count (a row lock on PostgreSQL, the one
# writer on SQLite). An expired row starts over, with a new expiry.
_INCR = """INSERT INTO ephemeral (namespace, "key", "value", expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (namespace, "key") DO UPDATE SET
  "value" = CASE WHEN ephemeral.expires_at <= ? THEN excluded."value"
                 ELSE CAST(CAST(ephemeral."value" AS INTEGER) + ? AS TEXT) END,
  expires_at = CASE WHEN ephemeral.expires_at <= ? THEN excluded.expires_at ELSE ephemeral.expires_at END
RETURNING "value"
"""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DatabaseEphemeralStore:
    async def put(self, namespace: str, key: str, value: str, ttl_seconds: float) -> None:
        await EphemeralRow.update_or_create(namespace=namespace, key=key, defaults={
            "value": value, "expires_at": _now() + timedelta(seconds=ttl_seconds)})

    async def add(self, namespace: str, key: str, value: str, ttl_seconds: float) -> bool:
        # One INSERT in the common case (a new key); only a clash looks for an expired row to replace.
        now = _now()
        for _ in range(2):
            try:
                await EphemeralRow.create(namespace=namespace, key=key, value=value,
                                          expires_at=now + timedelta(seconds=ttl_seconds))
                return True
            except IntegrityError:
                if not await EphemeralRow.filter(namespace=namespace, key=key, expires_at__lte=now).delete():
                    return False
        return False

    async def get(self, namespace: str, key: str) -> str | None:
        row = await EphemeralRow.get_or_none(namespace=namespace, key=key, expires_at__gt=_now())
        return row.value if row else None

    async def take(self, namespace: str, key: str) -> str | None:
        async with in_transaction():
            row = await EphemeralRow.get_or_none(namespace=namespace, key=key, expires_at__gt=_now())
            if row is None:
                return None
            # Only the caller whose DELETE removed the row gets the value.
            if not await EphemeralRow.filter(id=row.id).delete():
                return None
        return row.value

    async def delete(self, namespace: str, key: str) -> None:
        await EphemeralRow.filter(namespace=namespace, key=key).delete()

    async def incr(self, namespace: str, key: str, ttl_seconds: float, amount: int = 1) -> int:
        now = _now()
        conn = connection()
        expires, now_db = to_db_datetime(now + timedelta(seconds=ttl_seconds)), to_db_datetime(now)
        rows = await conn.execute_query_dict(sql(conn, _INCR), [namespace, key, str(amount), expires,
                                                                now_db, amount, now_db])
        return int(rows[0]["value"])

    async def purge_expired(self) -> int:
        return await EphemeralRow.filter(expires_at__lte=_now()).delete()
