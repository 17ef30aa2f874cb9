"""Allowance: a free token allowance that renews every day or week and is spent before purchased tokens."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Literal, Protocol

from core.domain import LedgerEntry
from core.ports import LedgerRepository

Every = Literal["day", "week"]
KIND = "allowance"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def period_of(now: datetime, every: Every) -> tuple[str, datetime]:
    """The period `now` falls in (its name, e.g. 2025-01-31 or 2025-W05) and when the next one starts (UTC)."""
    day = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if every == "day":
        return day.strftime("%Y-%m-%d"), day + timedelta(days=1)
    start = day - timedelta(days=day.weekday())
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}", start + timedelta(days=7)


class AllowanceLedger(Protocol):
    """What the allowance reads from the ledger beyond LedgerRepository."""

    async def last_entry(self, user_id: str, kind: str, key_prefix: str) -> LedgerEntry | None:
        """The user's newest entry of `kind` whose key starts with `key_prefix`."""
        ...

    async def spent_since(self, user_id: str, seq: int) -> int:
        """Tokens the user's `usage` entries after ledger entry `seq` took (a positive number)."""
        ...


@dataclass(frozen=True)
class AllowanceStatus:
    tokens: int           # granted every period
    every: Every
    left: int             # what is left of this period's allowance (spent before purchased tokens)
    renews_at: datetime


class Allowance:
    """The allowance lives in the one balance, so holds and settlements need nothing new and nothing can overdraw:
    each period a ledger entry (kind `allowance`) grants `tokens`, and the next period first takes back what is
    left of it (kind `allowance`, negative). Replies spend the allowance first: what is left of it is the grant
    minus the usage since, never more than the balance."""

    def __init__(self, ledger: LedgerRepository, reads: AllowanceLedger, tokens: int, every: Every,
                 clock: Callable[[], datetime] = utcnow):
        self._ledger = ledger
        self._reads = reads
        self.tokens = tokens
        self.every = every
        self._clock = clock
        self._renewed: dict[str, str] = {}  # user -> period already granted (this process)

    async def renew(self, user_id: str) -> None:
        """Grant this period's allowance once (after taking back what is left of the last one). Safe to call from
        any number of replies and workers at once: every entry's key is unique per user and period."""
        period, _ = period_of(self._clock(), self.every)
        if self._renewed.get(user_id) == period:
            return
        grant_key = f"{KIND}:{user_id}:{period}"
        if await self._ledger.find(grant_key) is None:
            last = await self._reads.last_entry(user_id, KIND, f"{KIND}:{user_id}:")
            if last is not None and last.ref != period:
                left = max(0, last.amount - await self._reads.spent_since(user_id, last.seq))
                if left:
                    await self._ledger.post(user_id, -left, KIND, f"{KIND}-expired:{user_id}:{last.ref}", ref=last.ref)
            await self._ledger.post(user_id, self.tokens, KIND, grant_key, ref=period)
        if len(self._renewed) > 100_000:
            self._renewed.clear()
        self._renewed[user_id] = period

    async def status(self, user_id: str, balance: int) -> AllowanceStatus:
        await self.renew(user_id)
        period, renews_at = period_of(self._clock(), self.every)
        grant = await self._ledger.find(f"{KIND}:{user_id}:{period}")
        left = 0
        if grant is not None:
            left = max(0, min(balance, grant.amount - await self._reads.spent_since(user_id, grant.seq)))
        return AllowanceStatus(self.tokens, self.every, left, renews_at)
