"""AllowanceLedger on tortoise: the reads the free allowance needs (its last grant, usage since an entry)."""
from __future__ import annotations

from tortoise.functions import Sum

from adapters.storage.models import LedgerRow
from core.domain import LedgerEntry


class TortoiseAllowanceReads:
    async def last_entry(self, user_id: str, kind: str, key_prefix: str) -> LedgerEntry | None:
        row = await LedgerRow.filter(user_id=user_id, kind=kind, key__startswith=key_prefix).order_by("-seq").first()
        if row is None:
            return None
        return LedgerEntry(row.id, row.seq, row.user_id, row.kind, row.amount, row.balance_after, row.key, row.ref,
                           row.created_at)

    async def spent_since(self, user_id: str, seq: int) -> int:
        rows = await (LedgerRow.filter(user_id=user_id, kind="usage", seq__gt=seq).annotate(total=Sum("amount"))
                      .values("total"))
        total = rows[0]["total"] if rows else None
        return -int(total or 0)
