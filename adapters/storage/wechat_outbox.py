"""The WeChat outbox in the database: answers that could not be delivered yet, kept in order per user."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from adapters.storage.models_wechat import WeChatPendingRow


@dataclass(frozen=True)
class PendingText:
    id: int
    openid: str
    msg_key: str | None
    text: str


def _value(row: WeChatPendingRow) -> PendingText:
    return PendingText(row.id, row.openid, row.msg_key, row.text)


class TortoiseWeChatOutbox:
    async def park(self, openid: str, msg_key: str | None, parts: Sequence[str]) -> None:
        """Keep `parts` (each within one message's limit) after whatever the user is already owed."""
        for part in parts:
            if part:
                await WeChatPendingRow.create(openid=openid, msg_key=msg_key, text=part)

    async def pending(self, openid: str) -> list[PendingText]:
        rows = await WeChatPendingRow.filter(openid=openid).order_by("id")
        return [_value(r) for r in rows]

    async def remove(self, part_id: int) -> bool:
        """Forget one delivered part; False when another worker already delivered it."""
        return bool(await WeChatPendingRow.filter(id=part_id).delete())

    async def take(self, openid: str, budget_bytes: int, separator_bytes: int = 2) -> tuple[list[PendingText], bool]:
        """The oldest parts that fit together into `budget_bytes` (at least one), removed; and whether more remain.
        Each part after the first is counted with `separator_bytes` for whatever the caller joins them with."""
        taken: list[PendingText] = []
        used = 0
        for row in await self.pending(openid):
            size = len(row.text.encode("utf-8")) + (separator_bytes if taken else 0)
            if taken and used + size > budget_bytes:
                return taken, True
            if await self.remove(row.id):  # only the caller whose DELETE won delivers it
                taken.append(row)
                used += size
        return taken, False

    async def count(self, openid: str) -> int:
        return await WeChatPendingRow.filter(openid=openid).count()

    async def total(self) -> int:
        """Parts owed to all users (the `wechat_pending` queue depth)."""
        return await WeChatPendingRow.all().count()
