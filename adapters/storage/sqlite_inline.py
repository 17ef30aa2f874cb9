"""tortoise's SQLite backend with statements run on the event loop's thread instead of aiosqlite's worker thread.

Why: aiosqlite sends every statement to its thread and back. Each trip costs about 70 µs of CPU (a
queue put, two hand-overs of the GIL, a wake-up of the event loop) and, under load, waits for the GIL
while tortoise's one lock on the connection is held, so every other query queues behind it. A chat
message makes about 16 statements; the statements themselves take 5-30 µs each on a WAL database.
Run inline they cost a fraction, and the connection is never held across a wait
(docs/benchmarks.md has the numbers).

What stays the same: tortoise's SqliteClient (its one lock, its transactions and savepoints, its
error translation, the pragmas from the URL). What differs: a statement blocks the event loop for
as long as it runs, so bulk writes (`executemany`, scripts) and WAL checkpoints go to a thread; and a database
locked by another process is waited for by sleeping on the event loop, not inside SQLite, for up to
`?busy_timeout=MS` (default 5000, as before). `?sqlite_thread=1` in `database.url` brings back
aiosqlite's thread.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from typing import Any, Callable, Iterable, Sequence, TypeVar

from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.sqlite.client import SqliteClient

from adapters.storage.urgency import URGENT

T = TypeVar("T")

log = logging.getLogger(__name__)

THREAD_OPTION = "sqlite_thread"
YIELD_AFTER_SECONDS = 0.001
CHECKPOINT_SECONDS = 1.0         # how often the WAL is copied back into the database, from a thread
BUSY_TIMEOUT_SECONDS = 5.0       # what aiosqlite's connection waited (sqlite3's default timeout)


class _Cursor:
    """The little tortoise reads back from `execute`."""

    def __init__(self, cursor: sqlite3.Cursor):
        self.lastrowid = cursor.lastrowid
        self.rowcount = cursor.rowcount

    async def close(self) -> None:
        pass


class InlineConnection:
    """The part of aiosqlite.Connection that tortoise's SqliteClient uses, on a plain sqlite3 connection.

    tortoise's lock on the client guarantees one user at a time, so the thread used for bulk work
    never overlaps a statement on the loop."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout: float = BUSY_TIMEOUT_SECONDS):
        self._conn = conn
        self._busy_timeout = busy_timeout
        self.used = asyncio.Event()     # set by any statement: the checkpointer sleeps on it while idle

    @property
    def total_changes(self) -> int:
        return self._conn.total_changes

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> _Cursor:
        return _Cursor(await self._run(self._conn.execute, sql, parameters or ()))

    async def execute_fetchall(self, sql: str, parameters: Iterable[Any] | None = None) -> list[sqlite3.Row]:
        return await self._run(lambda: self._conn.execute(sql, parameters or ()).fetchall())

    async def execute_insert(self, sql: str, parameters: Iterable[Any] | None = None) -> tuple[int | None]:
        return (await self.execute(sql, parameters)).lastrowid,

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> _Cursor:
        return _Cursor(await self._run(self._conn.executemany, sql, rows, in_thread=True))

    async def executescript(self, script: str) -> _Cursor:
        return _Cursor(await self._run(self._conn.executescript, script, in_thread=True))

    async def commit(self) -> None:
        await self._run(self._conn.commit)

    async def rollback(self) -> None:
        await self._run(self._conn.rollback)

    async def close(self) -> None:
        self._conn.close()

    async def _run(self, fn: Callable[..., T], *args: Any, in_thread: bool = False) -> T:
        # The connection's own busy wait would block the event loop; SQLITE_BUSY comes back at once
        # (timeout=0) and is waited for here. A busy statement has done nothing, so running it again is safe.
        if not self.used.is_set():
            self.used.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._busy_timeout
        pause = 0.001
        while True:
            try:
                return await asyncio.to_thread(fn, *args) if in_thread else fn(*args)
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or loop.time() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)


class InlineSqliteClient(SqliteClient):
    _checkpointer: asyncio.Task | None = None

    async def create_connection(self, with_db: bool) -> None:
        if self._connection:
            return
        # check_same_thread=False: bulk statements run in a worker thread (never at the same time as others).
        conn = sqlite3.connect(self.filename, isolation_level=None, timeout=0, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        # `?busy_timeout=MS` keeps SQLite's meaning, but the wait happens on the event loop (see _run).
        busy_ms = float(self.pragmas.get("busy_timeout", BUSY_TIMEOUT_SECONDS * 1000))
        self._connection = InlineConnection(conn, busy_ms / 1000)  # type: ignore[assignment]
        for pragma, value in self.pragmas.items():
            if pragma != "busy_timeout":
                await self._connection.execute(f"PRAGMA {pragma}={value}")
        if self._wal_file():
            # A commit that crosses the WAL's size threshold would copy the WAL into the database and
            # fsync it, on the event loop (tens of ms). Checkpoints run from a thread instead.
            await self._connection.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = asyncio.get_running_loop().create_task(self._checkpoint_forever())
        await self._post_connect()

    # A statement takes microseconds, so a coroutine awaiting several runs from one network wait to the
    # next without giving the loop back, and a request arriving meanwhile (a WeChat webhook that must be
    # answered at once) waits for every such run in the queue. Before a statement outside a transaction,
    # the loop gets a turn when it has not had one from us for YIELD_AFTER_SECONDS (a yield on every
    # statement costs about a fifth of the throughput).
    async def execute_query(self, query: str, values: list | None = None) -> tuple[int, Sequence[dict]]:
        await _fair_turn()
        return await super().execute_query(query, values)

    async def execute_query_dict(self, query: str, values: list | None = None) -> list[dict]:
        await _fair_turn()
        return await super().execute_query_dict(query, values)

    async def execute_insert(self, query: str, values: list) -> int:
        await _fair_turn()
        return await super().execute_insert(query, values)

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            await asyncio.gather(self._checkpointer, return_exceptions=True)
            self._checkpointer = None
        await super().close()

    def _wal_file(self) -> bool:
        return ":memory:" not in self.filename and str(self.pragmas.get("journal_mode", "WAL")).upper() == "WAL"

    async def _checkpoint_forever(self) -> None:
        # Event-driven, so an idle server never wakes for it: wait for a statement, give writes a second to
        # gather, then checkpoint from a thread if anything was written.
        checkpoint = _Checkpointer(self.filename, self.pragmas.get("synchronous"))
        connection: InlineConnection = self._connection  # type: ignore[assignment]
        copied = connection.total_changes
        try:
            while True:
                await connection.used.wait()
                await asyncio.sleep(CHECKPOINT_SECONDS)
                connection.used.clear()
                changes = connection.total_changes
                if changes == copied:
                    continue
                try:
                    await asyncio.to_thread(checkpoint.run)
                    copied = changes
                except sqlite3.Error as exc:   # a busy or failed checkpoint is retried after the next statement
                    log.warning("SQLite checkpoint of %s failed: %s", self.filename, exc)
        finally:
            await asyncio.to_thread(checkpoint.close)


_last_turn = 0.0


async def _fair_turn() -> None:
    global _last_turn
    if URGENT.get():      # an acknowledgement's one write: the others have their turn after it is answered
        return
    now = time.perf_counter()
    if now - _last_turn >= YIELD_AFTER_SECONDS:
        await asyncio.sleep(0)
        _last_turn = time.perf_counter()


class _Checkpointer:
    """A connection of its own that copies the WAL back into the database (PASSIVE: never waits for
    readers or writers), so the fsyncs happen off the event loop."""

    def __init__(self, filename: str, synchronous: object):
        self._filename = filename
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        # Cancelling the task that awaits `run` does not stop its thread: `close` (from another thread) must wait
        # for a checkpoint in progress, or it closes the connection under it (a segfault in sqlite3).
        self._busy = threading.Lock()

    def run(self) -> None:
        with self._busy:
            if self._conn is None:
                self._conn = sqlite3.connect(self._filename, isolation_level=None, check_same_thread=False)
                if self._synchronous is not None:
                    self._conn.execute(f"PRAGMA synchronous={self._synchronous}")
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        with self._busy:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


client_class = InlineSqliteClient   # tortoise's engine hook


def connection_config(url: str) -> dict:
    """tortoise's connection settings for a sqlite:// URL: this engine, or aiosqlite's with `?sqlite_thread=1`."""
    config = expand_db_url(url)
    credentials = config["credentials"]
    threaded = str(credentials.pop(THREAD_OPTION, "0")).lower() in ("1", "true", "yes")
    config["engine"] = "tortoise.backends.sqlite" if threaded else __name__
    return config
