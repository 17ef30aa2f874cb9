"""`bot backup PATH`: a consistent copy of a live SQLite database through SQLite's online backup API."""
from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

PAGES_PER_STEP = 256

PG_HOWTO = """\
The database is PostgreSQL: back it up with PostgreSQL's own tools while the server runs.
  pg_dump --format=custom --file=bot.dump "{url}"
Restore into an empty database, then start the bot (it checks the schema) or run `bot migrate`:
  createdb bot_restored && pg_restore --no-owner --dbname=postgres://USER@HOST:5432/bot_restored bot.dump
docs/operator.md, "Backups", says more."""


def backup_sqlite(source: str, target: Path, progress: bool = True) -> int:
    """Copy `source` to `target` page by page while other connections keep writing (each step takes the read
    lock briefly); returns the number of pages. The copy is a complete database: open it as database.url."""
    from tqdm import tqdm

    if not Path(source).exists():
        raise FileNotFoundError(f"no database file at {source}")
    if target.exists():
        raise FileExistsError(f"{target} exists; choose a new file name (a backup never overwrites)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(partial)
    bar = tqdm(total=0, unit="page", desc="backup", file=sys.stderr, disable=not progress)
    try:
        def step(status: int, remaining: int, total: int) -> None:
            bar.total = total
            bar.n = total - remaining
            bar.refresh()

        src.backup(dst, pages=PAGES_PER_STEP, progress=step)
        pages = dst.execute("PRAGMA page_count").fetchone()[0]
        # The copy is a standalone file: no WAL beside it, readable by anyone who opens it.
        dst.execute("PRAGMA journal_mode=DELETE")
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise RuntimeError("the copy failed SQLite's integrity check")
    finally:
        bar.close()
        dst.close()
        src.close()
    partial.rename(target)
    return pages
