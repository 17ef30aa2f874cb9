"""The in-memory ledger of tests/unit keeps the storage adapter's rules: the same scenarios, on SQLite and
PostgreSQL through TortoiseUsers and TortoiseLedger."""
from __future__ import annotations

import pytest

from adapters.storage import db
from adapters.storage.ledger import TortoiseLedger
from adapters.storage.users import TortoiseUsers
from tests.unit.ledger_scenarios import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_ledger_rules_hold_for_the_database_ledger(database_url: str, scenario) -> None:
    await db.open_database(database_url)
    try:
        await scenario(TortoiseUsers(), TortoiseLedger())
    finally:
        await db.close_database()
