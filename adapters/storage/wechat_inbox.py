"""The WeChat inbox in the database: customer-service messages accepted but not yet answered, under a lease."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from adapters.storage.models_wechat import WeChatInboxRow

log = logging.getLogger(__name__)

ANSWERING, DONE, GIVEN_UP = "answering", "done", "given_up"


@dataclass(frozen=True)
class InboxMessage:
    """What is needed to answer one accepted message again, on any worker."""

    id: int
    account: str
    openid: str
    msg_key: str
    kind: str
    text: str | None = None
    event: str = ""
    event_key: str = ""
    attempts: int = 1


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _value(row: WeChatInboxRow) -> InboxMessage:
    return InboxMessage(row.id, row.account, row.openid, row.msg_key, row.kind, row.text, row.event, row.event_key,
                        row.attempts)


class TortoiseWeChatInbox:
    """Every call is one statement (or one per row); a claim is a conditional UPDATE, so of two workers
    racing for the same expired row exactly one gets it."""

    def __init__(self, worker: str, lease_seconds: float, *, max_attempts: int = 3,
                 give_up_after: timedelta = timedelta(hours=24), keep_for: timedelta = timedelta(days=7)):
        self.worker = worker
        self.lease = timedelta(seconds=lease_seconds)
        self._max_attempts = max_attempts
        self._give_up_after = give_up_after
        self._keep_for = keep_for

    async def accept(self, message: InboxMessage) -> int | None:
        """Record a new message as being answered by this worker; its row id, or None when it was seen before."""
        try:
            row = await WeChatInboxRow.create(
                account=message.account, msg_key=message.msg_key, openid=message.openid, kind=message.kind,
                text=message.text, event=message.event, event_key=message.event_key, status=ANSWERING,
                claimed_by=self.worker, lease_until=_now() + self.lease)
        except IntegrityError:
            return None
        return row.id

    async def renew(self, ids: Iterable[int]) -> int:
        """Extend this worker's leases on `ids` (rows another worker took over are left alone)."""
        ids = list(ids)
        if not ids:
            return 0
        return await WeChatInboxRow.filter(id__in=ids, claimed_by=self.worker, status=ANSWERING).update(
            lease_until=_now() + self.lease)

    async def done(self, row_id: int) -> bool:
        """The answer is delivered or parked in the outbox; False when another worker had taken the row over."""
        return bool(await WeChatInboxRow.filter(id=row_id, claimed_by=self.worker, status=ANSWERING).update(
            status=DONE, claimed_by=None))

    async def unfinished(self) -> bool:
        """Some message is still being answered (by any worker, or by one that stopped and whose lease runs)."""
        return await WeChatInboxRow.filter(status=ANSWERING).exists()

    def _orphans(self, now: datetime):
        return WeChatInboxRow.filter(status=ANSWERING, lease_until__lt=now, attempts__lt=self._max_attempts)

    async def orphaned_users(self, limit: int = 100) -> list[str]:
        """Users with a message whose worker stopped renewing its lease (it died, or was cut short)."""
        rows = await self._orphans(_now()).order_by("id").limit(limit).values_list("openid", flat=True)
        return list(dict.fromkeys(rows))

    async def claim_orphans(self, openid: str) -> list[InboxMessage]:
        """Take over this user's orphaned messages, oldest first; only the rows this worker won are returned."""
        now = _now()
        claimed = []
        for row in await self._orphans(now).filter(openid=openid).order_by("id"):
            won = await self._orphans(now).filter(id=row.id).update(
                claimed_by=self.worker, lease_until=now + self.lease, attempts=F("attempts") + 1)
            if won:
                claimed.append(_value(row))
        return claimed

    async def give_up_and_purge(self) -> int:
        """Give up (and log) messages left unanswered for `give_up_after` or after `max_attempts` workers tried;
        forget every row older than `keep_for` (the once-only guarantee lasts that long). Rows purged."""
        now = _now()
        hopeless = WeChatInboxRow.filter(
            Q(attempts__gte=self._max_attempts) | Q(created_at__lt=now - self._give_up_after),
            status=ANSWERING, lease_until__lt=now)
        for row in await hopeless:
            if await WeChatInboxRow.filter(id=row.id, status=ANSWERING, lease_until__lt=now).update(status=GIVEN_UP):
                log.error("gave up answering WeChat message %s of user %s (received %s, tried %d time(s))",
                          row.msg_key, row.openid, row.created_at.isoformat(), row.attempts)
        return await WeChatInboxRow.filter(created_at__lt=now - self._keep_for).delete()

    async def status(self, account: str, msg_key: str) -> str | None:
        row = await WeChatInboxRow.get_or_none(account=account, msg_key=msg_key)
        return row.status if row else None
