"""Database lifecycle: connect tortoise to SQLite (WAL) or PostgreSQL, migrate or check the schema, close."""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import AsyncIterator

from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.transactions import in_transaction

from adapters.storage import sqlite_inline

log = logging.getLogger(__name__)

# Every module with tortoise models; later features append theirs here.
MODEL_MODULES = ["adapters.storage.models", "adapters.storage.models_auth", "adapters.storage.models_wechat", "adapters.storage.models_rag",
                 "adapters.storage.models_files", "adapters.storage.models_admin", "adapters.storage.llm_models",
                 "adapters.storage.chat_settings"]


def normalize_url(url: str) -> str:
    """Make sure a SQLite file's folder exists; accept postgresql:// as well as postgres://."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://") and ":memory:" not in url:
        path = url.removeprefix("sqlite://").split("?", 1)[0]
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if "synchronous=" not in url:
            # WAL's recommended setting: no fsync per commit (tortoise runs every query through one lock, so
            # fsyncs capped throughput, see docs/benchmarks.md). A crashed process loses nothing; a power cut
            # may lose the last commits, never corrupts. `?synchronous=FULL` in database.url restores fsyncs.
            url += ("&" if "?" in url else "?") + "synchronous=NORMAL"
    return url


def tortoise_config(normalized_url: str) -> dict:
    """The models on one connection; SQLite through adapters/storage/sqlite_inline.py."""
    connection = sqlite_inline.connection_config(normalized_url) if is_sqlite(normalized_url) else normalized_url
    return {"connections": {"default": connection},
            "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}}}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite://")


async def open_database(url: str, migrate: bool = True) -> None:
    """Connect; with `migrate`, apply pending schema migrations (adapters/storage/migrations), else raise
    schema.SchemaBehind when any is pending (database.migrate_on_start: false)."""
    from adapters.storage import schema

    normalized = normalize_url(url)   # creates a SQLite file's folder
    fresh = migrate and (path := schema.sqlite_path(url)) is not None and not Path(path).exists()
    if fresh and schema.seed_fresh_sqlite(url):
        fresh = False
    await Tortoise.init(config=tortoise_config(normalized), _enable_global_fallback=True)
    # Model query builders are per class: rebuild them for this database's dialect (a process, or a
    # test run, may open SQLite and then PostgreSQL).
    Tortoise._build_initial_querysets()
    try:
        if migrate:
            if await schema.migrate(url) and fresh:
                schema.remember_template(url)
        else:
            await schema.check()
    except BaseException:
        await close_database()
        raise


async def close_database() -> None:
    await Tortoise.close_connections()
    # tortoise caches compiled INSERTs per connection name, not per dialect; the next open may differ.
    EXECUTOR_CACHE.clear()


def rows_changed() -> int | None:
    """Rows this process has changed in its SQLite database so far (sqlite3's total_changes), or None when that
    is not known (PostgreSQL): a free way for idle-time jobs to tell whether anything happened."""
    try:
        connection = getattr(Tortoise.get_connection("default"), "_connection", None)
    except Exception:  # noqa: BLE001 - no database open
        return None
    changes = getattr(connection, "total_changes", None)
    return changes if isinstance(changes, int) else None


async def ping() -> bool:
    try:
        conn = Tortoise.get_connection("default")
        await conn.execute_query("SELECT 1")
        return True
    except Exception:
        log.warning("database ping failed", exc_info=True)
        return False


class TortoiseTransactions:
    """core.ports.Transactions on tortoise: nested calls become savepoints."""

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        async with in_transaction():
            yield
