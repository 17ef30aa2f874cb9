"""Schema migrations in process: a fresh database is migrated, a pre-migration one adopted, a lagging one refused,
and the committed migration files match the models."""
from __future__ import annotations

import pytest
from tortoise import Tortoise

from adapters.storage import db, schema
from adapters.storage.models import UserRow

MIGRATIONS = sorted(p.stem for p in schema.MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


def _added_after_initial() -> tuple[list[str], list[tuple[str, str]]]:
    """(tables, (table, column)s) that migrations after 0001 add: read from the migration files themselves, so a
    new migration is covered by the adoption test without anyone remembering to list it here."""
    import importlib

    from tortoise.migrations import operations as ops

    from adapters.storage import models as _models  # noqa: F401 (every row class is importable from db's modules)

    rows = {cls.__name__: cls for name in db.MODEL_MODULES
            for cls in vars(importlib.import_module(name)).values() if hasattr(cls, "_meta")}
    tables, columns = [], []
    for stem in MIGRATIONS[1:]:
        for op in importlib.import_module(f"adapters.storage.migrations.{stem}").Migration.operations:
            if isinstance(op, ops.CreateModel):
                tables.append(op.options["table"])
            elif isinstance(op, ops.AddField):
                columns.append((rows[op.model_name]._meta.db_table, op.name))
    return tables, columns


# Tables later migrations create (a database from before migrations existed never had them), and columns they add
# to tables of the first schema.
ADDED_AFTER_INITIAL, COLUMNS_ADDED_AFTER_INITIAL = _added_after_initial()


async def test_a_fresh_database_gets_every_migration_and_works(database_url) -> None:
    await db.open_database(database_url)
    try:
        assert await schema.pending() == []
        await UserRow.create(id="u1", name="n")
        assert await UserRow.filter(id="u1").count() == 1
    finally:
        await db.close_database()
    await db.open_database(database_url, migrate=False)   # current: accepted without migrating
    await db.close_database()


async def test_a_database_that_is_behind_is_refused_without_migrate(tmp_path) -> None:
    with pytest.raises(schema.SchemaBehind) as caught:
        await db.open_database(f"sqlite://{tmp_path}/behind.db", migrate=False)
    assert caught.value.pending == MIGRATIONS and "bot migrate" in str(caught.value)


async def test_a_database_from_before_migrations_is_adopted(tmp_path) -> None:
    url = f"sqlite://{tmp_path}/old.db"
    await Tortoise.init(db_url=db.normalize_url(url), modules={"models": db.MODEL_MODULES})
    await Tortoise.generate_schemas()           # how versions before migrations created the schema
    conn = Tortoise.get_connection("default")
    for table in ADDED_AFTER_INITIAL:
        await conn.execute_script(f"DROP TABLE {table}")
    for table, column in COLUMNS_ADDED_AFTER_INITIAL:
        await conn.execute_script(f"ALTER TABLE {table} DROP COLUMN {column}")
    # The old schema's columns only (the model would name the later ones too).
    await conn.execute_script("INSERT INTO users (id, name, balance, held, storage_limit_bytes, storage_used_bytes, "
                              "created_at) VALUES ('kept', 'old user', 0, 0, 0, 0, '2024-01-01 00:00:00+00:00')")
    await db.close_database()
    await db.open_database(url)
    try:
        assert await schema.pending() == []
        assert await UserRow.get(id="kept")
    finally:
        await db.close_database()


async def test_the_migration_files_match_the_models(tmp_path) -> None:
    await db.open_database(f"sqlite://{tmp_path}/m.db")
    try:
        changes = await schema.model_changes()
    finally:
        await db.close_database()
    assert changes == [], ("models changed without a migration: run `bot makemigrations` "
                           "(before the first release: `bot makemigrations --reset`)")


async def test_fresh_sqlite_files_after_the_first_are_copies_of_a_migrated_one(tmp_path) -> None:
    for name in ("first", "second", "third"):           # the first migrates; later ones copy its result
        url = f"sqlite://{tmp_path}/{name}/bot.db"
        await db.open_database(url)
        try:
            assert await schema.pending() == []
            _, rows = await Tortoise.get_connection("default").execute_query("SELECT name FROM tortoise_migrations")
            assert [r["name"] for r in rows] == MIGRATIONS
            await UserRow.create(id=name, name=name)
            assert [u.id for u in await UserRow.all()] == [name]   # each file is its own database
        finally:
            await db.close_database()
