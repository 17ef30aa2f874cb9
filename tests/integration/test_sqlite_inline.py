"""SQLite on the event loop's thread (adapters/storage/sqlite_inline.py): the engine choice, locks held by
another process, bulk writes and rollbacks, through tortoise as the repositories use it."""
from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from adapters.storage import db
from adapters.storage.models import UserRow
from adapters.storage.sqlite_inline import InlineSqliteClient


async def _open(url: str) -> None:
    await db.open_database(url)


@pytest.fixture
async def database(tmp_path: Path):
    path = tmp_path / "bot.db"
    await _open(f"sqlite://{path}")
    yield path
    await db.close_database()


async def test_sqlite_runs_inline_and_sqlite_thread_brings_back_aiosqlite(tmp_path: Path) -> None:
    await _open(f"sqlite://{tmp_path}/a.db")
    try:
        assert type(Tortoise.get_connection("default")) is InlineSqliteClient
        mode = await Tortoise.get_connection("default").execute_query_dict("PRAGMA journal_mode")
        assert mode[0]["journal_mode"] == "wal"
    finally:
        await db.close_database()
    await _open(f"sqlite://{tmp_path}/b.db?sqlite_thread=1")
    try:
        assert type(Tortoise.get_connection("default")) is SqliteClient
        await UserRow.create(id=str(uuid.uuid4()), name="threaded")
        assert await UserRow.filter(name="threaded").count() == 1
    finally:
        await db.close_database()


async def test_a_write_waits_for_another_process_lock_without_blocking_the_loop(database: Path) -> None:
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")            # another process holds the write lock
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def release_later() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    tick_task = asyncio.create_task(ticker())
    release = asyncio.create_task(release_later())
    started = time.monotonic()
    await UserRow.create(id=str(uuid.uuid4()), name="waited")
    waited = time.monotonic() - started
    tick_task.cancel()
    await release
    other.close()
    assert waited >= 0.25                      # it did wait for the lock ...
    assert ticks >= 15                         # ... while the event loop kept running other work
    assert await UserRow.filter(name="waited").count() == 1


async def test_a_lock_never_released_fails_after_busy_timeout(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    await _open(f"sqlite://{database}?busy_timeout=200")
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError, match="locked"):
            await UserRow.create(id=str(uuid.uuid4()), name="never")
        assert 0.2 <= time.monotonic() - started < 2
    finally:
        other.execute("ROLLBACK")
        other.close()
    try:
        assert await UserRow.filter(name="never").count() == 0
    finally:
        await db.close_database()


async def test_bulk_writes_and_rollbacks_behave_as_with_aiosqlite(database: Path) -> None:
    await UserRow.bulk_create([UserRow(id=str(uuid.uuid4()), name=f"bulk-{i}") for i in range(500)])
    assert await UserRow.filter(name__startswith="bulk-").count() == 500
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await UserRow.create(id=str(uuid.uuid4()), name="rolled-back")
            raise RuntimeError("abort")
    assert await UserRow.filter(name="rolled-back").count() == 0
    # Another connection (another process) sees only committed rows.
    other = sqlite3.connect(database)
    try:
        assert other.execute("SELECT count(*) FROM users").fetchone()[0] == 500
    finally:
        other.close()


async def test_the_wal_is_checkpointed_in_the_background(database: Path) -> None:
    """Commits never copy the WAL back on the event loop (wal_autocheckpoint=0); a thread does, each second."""
    mode = await Tortoise.get_connection("default").execute_query_dict("PRAGMA wal_autocheckpoint")
    assert mode[0]["wal_autocheckpoint"] == 0
    await UserRow.bulk_create([UserRow(id=str(uuid.uuid4()), name=f"ck-{i}") for i in range(50)])

    def in_database_file() -> int:
        # immutable=1 reads the database file alone, ignoring the WAL: only checkpointed rows are there.
        conn = sqlite3.connect(f"file:{database}?immutable=1", uri=True)
        try:
            return conn.execute("SELECT count(*) FROM users WHERE name LIKE 'ck-%'").fetchone()[0]
        finally:
            conn.close()

    for _ in range(30):
        if in_database_file() == 50:
            break
        await asyncio.sleep(0.1)
    assert in_database_file() == 50
