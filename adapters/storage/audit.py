"""The audit log and the config seed records on tortoise."""
from __future__ import annotations

import uuid
from typing import Any

from tortoise.exceptions import IntegrityError

from adapters.storage.models_admin import AuditRow, ConfigSeedRow
from adapters.storage.pages import page_of
from core.audit import AuditEntry
from core.domain import Page


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.id, row.seq, row.actor, row.action, row.target, row.before, row.after, row.created_at)


class TortoiseAuditLog:
    async def record(self, actor: str, action: str, target: str, before: Any = None, after: Any = None) -> AuditEntry:
        row = await AuditRow.create(id=str(uuid.uuid4()), actor=actor[:100], action=action[:64], target=target[:200],
                                    before=before, after=after)
        return _entry(row)

    async def list(self, limit: int, cursor: str | None = None, *, action: str | None = None,
                   target: str | None = None, actor: str | None = None) -> Page:
        query = AuditRow.all()
        if action:
            query = query.filter(action__startswith=action)
        if target:
            query = query.filter(target=target)
        if actor:
            query = query.filter(actor=actor)
        return await page_of(query, limit, cursor, _entry, newest_first=True)


class TortoiseSeedRecords:
    async def seeded(self, kind: str) -> set[str]:
        return set(await ConfigSeedRow.filter(kind=kind).values_list("key", flat=True))

    async def mark(self, kind: str, key: str) -> None:
        try:
            await ConfigSeedRow.get_or_create(kind=kind, key=key)
        except IntegrityError:   # another worker marked it at the same moment
            pass
