"""What an operator asks about users, orders, usage and revenue: the value types and the port (SQL in adapters)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import AsyncIterator, Protocol, Sequence

from core.domain import Hold, Order, Page, User

EXPORT_TABLES = ("users", "ledger", "orders")


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str
    role: str | None
    channel: str          # telegram, wechat, api (no chat), ...
    messages: int
    token_usage: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    method: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class UsageRow:
    """Assistant replies of one day, model and channel."""

    day: str
    model: str
    channel: str
    replies: int
    prompt_tokens: int
    completion_tokens: int
    cost: int


@dataclass(frozen=True)
class RevenueRow:
    """Paid orders of one day and payment method (refunded ones are counted apart)."""

    day: str
    method: str
    currency: str
    orders: int
    amount: Decimal
    refunded: int


@dataclass(frozen=True)
class ActiveUsers:
    day: str
    users: int


class OperatorQueries(Protocol):
    async def search_users(self, query: str, limit: int) -> list[User]:
        """Users whose id, name or identity (`telegram:123`, a WeChat openid, ...) matches `query`; newest first."""
        ...

    async def holds(self, user_id: str) -> list[Hold]:
        """The user's active quota holds (replies being written)."""
        ...

    async def conversations(self, user_id: str, limit: int) -> list[ConversationSummary]: ...

    async def ledger(self, user_id: str, limit: int, cursor: str | None) -> Page:
        """Ledger entries newest first."""
        ...

    async def orders(self, where: OrderFilter, limit: int, cursor: str | None) -> Page:
        """Orders newest first."""
        ...

    async def stuck_paying(self, older_than: datetime, limit: int) -> list[Order]:
        """Orders in `paying` since before `older_than` (their payment never settled)."""
        ...

    async def usage(self, since: datetime, until: datetime | None = None) -> list[UsageRow]: ...

    async def revenue(self, since: datetime, until: datetime | None = None) -> list[RevenueRow]: ...

    async def active_users(self, since: datetime, until: datetime | None = None) -> list[ActiveUsers]:
        """Users who sent a message, per day."""
        ...

    def export(self, table: str) -> AsyncIterator[dict]:
        """Every row of `users`, `ledger` or `orders` as plain values, in a stable order, in batches."""
        ...

    async def count(self, table: str) -> int: ...


def totals(rows: Sequence[UsageRow]) -> dict[str, int]:
    return {"replies": sum(r.replies for r in rows), "tokens": sum(r.prompt_tokens + r.completion_tokens for r in rows),
            "cost": sum(r.cost for r in rows)}

