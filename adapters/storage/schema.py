"""Schema migrations with tortoise-orm's own tool: apply, check and write them; one process migrates at a time."""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import AsyncIterator

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

log = logging.getLogger(__name__)

APP = "models"
MIGRATIONS_MODULE = "adapters.storage.migrations"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
INITIAL = "0001_initial"
# pg_advisory_lock key: any constant every worker of this product agrees on ("botmigr" in ASCII).
PG_LOCK_KEY = 0x626F746D69677200
# A table the very first schema always had: present without any recorded migration means a database
# created before migrations existed (generate_schemas); its schema is adopted as 0001_initial.
ADOPT_MARKER_TABLE = "users"


class SchemaBehind(Exception):
    """The database lacks migrations this code needs; `pending` names them."""

    def __init__(self, pending: list[str]):
        self.pending = pending
        names = ", ".join(pending)
        super().__init__(f"the database schema is {len(pending)} migration(s) behind this version ({names}). "
                         "Run `bot migrate --config <file>` first, or set database.migrate_on_start: true.")


class DatabaseUnavailable(Exception):
    """The database cannot be reached (or refused the connection); the message says why."""


def apps_config() -> dict:
    from adapters.storage.db import MODEL_MODULES

    return {APP: {"models": MODEL_MODULES, "migrations": MIGRATIONS_MODULE, "default_connection": "default"}}


def _executor() -> MigrationExecutor:
    return MigrationExecutor(Tortoise.get_connection("default"), apps_config())


async def pending() -> list[str]:
    """Names of the migrations not yet applied to the open database, in the order they would run."""
    try:
        # tortoise reads the applied migrations as "none" when the query fails: ask plainly first.
        await Tortoise.get_connection("default").execute_query("SELECT 1")
    except Exception as e:
        raise DatabaseUnavailable(f"{e.__class__.__name__}: {e}") from e
    steps = await _executor().plan()
    return [s.migration.name for s in steps if not s.backward]


async def check() -> None:
    """Raise SchemaBehind unless every migration is applied."""
    missing = await pending()
    if missing:
        raise SchemaBehind(missing)


async def migrate(url: str) -> list[str]:
    """Apply pending migrations to the open database (serialised across processes); the names applied."""
    async with _migration_lock(url):
        missing = await pending()
        if not missing:
            return []
        executor = _executor()
        if missing[0] == INITIAL and await _table_exists(ADOPT_MARKER_TABLE):
            log.warning("adopting a database created before migrations existed: recording %s as applied", INITIAL)
            await executor.migrate([MigrationTarget(APP, INITIAL)], fake=True)
            missing = missing[1:]
            if not missing:
                return []
            executor = _executor()
        await executor.migrate(progress=_log_progress)
        return missing


def _log_progress(event: str, app_label: str, name: str) -> None:
    if event == "apply_done":
        log.info("applied migration %s.%s", app_label, name)


async def _table_exists(table: str) -> bool:
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "sqlite":
        _, rows = await conn.execute_query("SELECT name FROM sqlite_master WHERE type='table' AND name=?", [table])
        return bool(rows)
    _, rows = await conn.execute_query("SELECT to_regclass($1) AS t", [table])
    return bool(rows and rows[0]["t"])


@contextlib.asynccontextmanager
async def _migration_lock(url: str) -> AsyncIterator[None]:
    """Two workers starting at once must not both create the schema: PostgreSQL advisory lock, or a file lock
    beside the SQLite file."""
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "postgres":
        async with conn.acquire_connection() as raw:  # a session lock lives on one pooled connection
            await raw.execute("SELECT pg_advisory_lock($1)", PG_LOCK_KEY)
            try:
                yield
            finally:
                await raw.execute("SELECT pg_advisory_unlock($1)", PG_LOCK_KEY)
        return
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    if not url.startswith("sqlite://") or not path or ":memory:" in path:
        yield
        return
    fd = os.open(path + ".migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


async def model_changes() -> list:
    """Migration writers for model changes no migration covers yet (empty when the files are current).
    Needs Tortoise initialised with the models (any database: nothing is read from it)."""
    return await MigrationAutodetector(Tortoise.apps, apps_config()).changes()


async def make_migrations(name: str | None = None, reset: bool = False) -> list[Path]:
    """Write migration files for model changes; with `reset`, drop every file first and write a new 0001_initial
    (only for a schema no deployed database has applied yet)."""
    if reset:
        for old in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"):
            old.unlink()
    written = []
    for writer in await model_changes():
        if name and not reset:
            number = int(writer.name.split("_", 1)[0])
            writer.name = f"{number:04d}_{name}"
        written.append(Path(writer.write()))
    return written


# --- fresh SQLite files (tests open hundreds): migrate once per process, then copy the result ---------------

_templates: dict[tuple, Path] = {}


def _fingerprint() -> tuple:
    from adapters.storage.db import MODEL_MODULES

    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in MIGRATIONS_DIR.glob("*.py"))
    return tuple(MODEL_MODULES), tuple(files)


def sqlite_path(url: str) -> str | None:
    """The file of a sqlite:// URL (None for other databases and :memory:)."""
    if not url.startswith("sqlite://"):
        return None
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    return path if path and ":memory:" not in path else None


def seed_fresh_sqlite(url: str) -> bool:
    """A SQLite file that does not exist yet gets a copy of this process's freshly migrated template, if one
    was made (tortoise's migration executor takes ~0.2 s per database; a copy takes a millisecond)."""
    path, template = sqlite_path(url), _templates.get(_fingerprint())
    if path is None or template is None or os.path.exists(path):
        return False
    partial = f"{path}.{os.getpid()}.seed"
    with contextlib.closing(sqlite3.connect(template)) as src, contextlib.closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
    try:
        os.link(partial, path)   # atomic, and never over a file another process created meanwhile
    except FileExistsError:
        return False
    finally:
        os.unlink(partial)
    return True


def remember_template(url: str) -> None:
    """After migrating a fresh SQLite file: keep a copy for the next fresh file of this process."""
    path, key = sqlite_path(url), _fingerprint()
    if path is None or key in _templates:
        return
    folder = Path(tempfile.mkdtemp(prefix="bot-schema-"))
    atexit.register(shutil.rmtree, folder, True)
    template = folder / "template.db"
    with contextlib.closing(sqlite3.connect(path)) as src, contextlib.closing(sqlite3.connect(template)) as dst:
        src.backup(dst)
    _templates[key] = template
