"""Hand-written SQL on tortoise's connection: the dialect, its placeholders, and values as the models store them."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from tortoise import Tortoise, fields, timezone
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient

# Converts exactly as every DatetimeField of the models does (use_tz, the configured time zone).
_DATETIME = fields.DatetimeField()


def connection() -> BaseDBAsyncClient:
    """The default connection; inside `in_transaction()`, that transaction's."""
    return Tortoise.get_connection("default")


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def in_transaction_already(conn: BaseDBAsyncClient) -> bool:
    return isinstance(conn, TransactionalDBClient)


def sql(conn: BaseDBAsyncClient, query: str) -> str:
    """`query` written with `?` placeholders (SQLite's), numbered `$1, $2…` for asyncpg."""
    return _numbered(query) if is_postgres(conn) else query


@functools.lru_cache(maxsize=512)
def _numbered(query: str) -> str:
    parts = query.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


def placeholders(n: int) -> str:
    return ",".join("?" * n)


def auto_now() -> datetime:
    """What an auto_now / auto_now_add field writes."""
    return timezone.localtime()


def to_db_datetime(value: datetime) -> datetime:
    """A datetime as a model instance holds it (and so writes it): in the configured time zone."""
    return _DATETIME.to_python_value(value)  # type: ignore[return-value]


def from_db_datetime(value: Any) -> datetime:
    """A datetime column as tortoise reads it: SQLite gives the ISO text tortoise wrote, asyncpg a datetime."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return _DATETIME.to_python_value(parsed)  # type: ignore[return-value]
