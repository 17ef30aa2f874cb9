"""LedgerRepository on tortoise: holds and entries whose balance changes are atomic on SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from adapters.storage.models import HoldRow, LedgerRow, UserRow
from adapters.storage.pages import page_of
from core.domain import Hold, LedgerEntry, Page


def _entry(row: LedgerRow) -> LedgerEntry:
    return LedgerEntry(row.id, row.seq, row.user_id, row.kind, row.amount, row.balance_after, row.key, row.ref,
                       row.created_at)


class TortoiseLedger:
    async def try_hold(self, user_id: str, amount: int, key: str, expires_at: datetime) -> Hold | None:
        hold_id = str(uuid.uuid4())
        try:
            async with in_transaction():
                # One conditional UPDATE: concurrent holds serialize on the user's row, and the
                # condition is re-checked against the committed balance, so none can overdraw.
                changed = await UserRow.filter(id=user_id, balance__gte=F("held") + amount).update(
                    held=F("held") + amount)
                if not changed:
                    return None
                await HoldRow.create(id=hold_id, user_id=user_id, amount=amount, key=key, expires_at=expires_at)
        except IntegrityError:
            return None
        return Hold(hold_id, user_id, amount, key, expires_at)

    async def settle(self, hold: Hold, cost: int, key: str, ref: str) -> LedgerEntry | None:
        try:
            async with in_transaction():
                live = await HoldRow.filter(id=hold.id, status="active").update(status="settled")
                released = hold.amount if live else 0
                user = await UserRow.filter(id=hold.user_id).select_for_update().get()
                held = user.held - released
                charge = max(0, min(cost, user.balance - held))
                balance = user.balance - charge
                await UserRow.filter(id=user.id).update(held=held, balance=balance)
                row = await LedgerRow.create(id=str(uuid.uuid4()), user_id=user.id, kind="usage", amount=-charge,
                                             balance_after=balance, key=key, ref=ref)
        except IntegrityError:
            return None
        return _entry(row)

    async def release(self, hold_id: str) -> bool:
        async with in_transaction():
            hold = await HoldRow.get_or_none(id=hold_id, status="active")
            if hold is None:
                return False
            return await self._free(hold, "released")

    async def _free(self, hold: HoldRow, status: str) -> bool:
        if not await HoldRow.filter(id=hold.id, status="active").update(status=status):
            return False
        await UserRow.filter(id=hold.user_id).update(held=F("held") - hold.amount)
        return True

    async def release_expired(self, now: datetime) -> int:
        freed = 0
        for hold in await HoldRow.filter(status="active", expires_at__lte=now).limit(500):
            async with in_transaction():
                freed += await self._free(hold, "expired")
        return freed

    async def post(self, user_id: str, amount: int, kind: str, key: str, ref: str = "") -> LedgerEntry | None:
        if await LedgerRow.exists(key=key):
            return None
        try:
            async with in_transaction():
                user = await UserRow.filter(id=user_id).select_for_update().get()
                if amount < 0:
                    amount = -min(-amount, max(0, user.balance - user.held))
                balance = user.balance + amount
                await UserRow.filter(id=user_id).update(balance=balance)
                row = await LedgerRow.create(id=str(uuid.uuid4()), user_id=user_id, kind=kind, amount=amount,
                                             balance_after=balance, key=key, ref=ref)
        except IntegrityError:
            return None
        return _entry(row)

    async def find(self, key: str) -> LedgerEntry | None:
        row = await LedgerRow.get_or_none(key=key)
        return _entry(row) if row else None

    async def entries(self, user_id: str, limit: int, cursor: str | None) -> Page:
        return await page_of(LedgerRow.filter(user_id=user_id), limit, cursor, _entry, newest_first=True)
