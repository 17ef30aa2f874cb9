"""SQLite on the event loop's thread (adapters/storage/sqlite_inline.py): the engine choice, locks held by
another process, bulk writes and rollbacks, through tortoise as the repositories use it."""
from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import threading
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


async def test_a_write_waits_for_another_process_lock_without_blocking_the_loop(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    await _open(f"sqlite://{database}?busy_timeout=600000")    # the write may wait as long as it takes
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")            # another process holds the write lock ...
    loop_ran = threading.Event()

    def commit_once_the_loop_has_run() -> bool:
        # ... until the event loop has shown it runs other work. A loop blocked inside the write never gets
        # there: then the lock goes after a minute anyway and the test fails instead of hanging.
        ran = loop_ran.wait(60)
        other.execute("COMMIT")
        return ran

    holder = concurrent.futures.ThreadPoolExecutor(1)
    released = holder.submit(commit_once_the_loop_has_run)
    try:
        write = asyncio.create_task(UserRow.create(id=str(uuid.uuid4()), name="waited"))
        for _ in range(50):                     # other work: fifty turns of the loop, each a real wait
            await asyncio.sleep(0.001)
            assert not write.done()             # the lock is still held, so the write is still waiting
        loop_ran.set()
        await asyncio.wait_for(write, 60)       # it went through once the lock was released
        assert released.result() is True
        assert await UserRow.filter(name="waited").count() == 1
    finally:
        loop_ran.set()
        holder.shutdown()
        other.close()
        await db.close_database()


async def test_a_lock_never_released_fails_after_busy_timeout(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    await _open(f"sqlite://{database}?busy_timeout=200")
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError, match="locked"):
            # wait_for only keeps a broken build from hanging; the test asserts no upper bound on time.
            await asyncio.wait_for(UserRow.create(id=str(uuid.uuid4()), name="never"), 60)
        assert time.monotonic() - started >= 0.2     # it waited out busy_timeout before giving up
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

    # The checkpoint thread runs each second; on a busy machine it may take longer, so wait for what it does
    # (up to a minute, which only bounds how long a broken build takes to fail).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while in_database_file() != 50 and loop.time() < deadline:
        await asyncio.sleep(0.1)
    assert in_database_file() == 50
