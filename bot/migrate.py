"""`bot migrate [--check]` applies or checks schema migrations; `bot makemigrations` writes new ones (dev)."""
from __future__ import annotations

import argparse
import asyncio
import sys


async def _migrate(url: str, check_only: bool) -> int:
    from adapters.storage import db, schema

    from tortoise import Tortoise

    await Tortoise.init(config=db.tortoise_config(db.normalize_url(url)))
    try:
        missing = await schema.pending()
        if check_only:
            if missing:
                print(str(schema.SchemaBehind(missing)), file=sys.stderr)
                return 1
            print("the database schema is up to date")
            return 0
        applied = await schema.migrate(url)
        print(f"applied {', '.join(applied)}" if applied else "the database schema is up to date (nothing to apply)")
        return 0
    finally:
        await Tortoise.close_connections()


async def _make(name: str | None, reset: bool, check_only: bool) -> int:
    from tortoise import Tortoise

    from adapters.storage import db, schema

    # The autodetector compares the models with the migration files; no real database is involved.
    await Tortoise.init(db_url="sqlite://:memory:", modules={"models": db.MODEL_MODULES})
    try:
        if check_only:
            changes = await schema.model_changes()
            if changes:
                print("the models changed without a migration: run `bot makemigrations` (or `make migrations`)",
                      file=sys.stderr)
                return 1
            print("the migration files match the models")
            return 0
        written = await schema.make_migrations(name, reset)
    finally:
        await Tortoise.close_connections()
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("no model changes: nothing to write")
    return 0


def add_migrate_commands(sub: argparse._SubParsersAction, command) -> None:
    from bot.cli import _load

    def run_migrate(args: argparse.Namespace) -> int:
        config = _load(args)
        from adapters.storage.schema import DatabaseUnavailable

        try:
            return asyncio.run(_migrate(config.database.url, args.check))
        except (DatabaseUnavailable, OSError) as e:
            print(f"cannot reach the database: {e}", file=sys.stderr)
            return 1

    migrate = command("migrate", "apply pending database schema migrations")
    migrate.add_argument("--check", action="store_true",
                         help="apply nothing; exit 1 if any migration is pending")
    migrate.set_defaults(func=run_migrate)

    make = sub.add_parser("makemigrations", help="(development) write migration files for model changes")
    make.add_argument("--name", help="a name for the new migration file")
    make.add_argument("--reset", action="store_true",
                      help="delete every migration file and write a fresh 0001_initial (before a release only)")
    make.add_argument("--check", action="store_true", help="write nothing; exit 1 if the models changed")
    make.set_defaults(func=lambda args: asyncio.run(_make(args.name, args.reset, args.check)))
