"""OperatorQueries on tortoise: user search and facts, order filters, usage, revenue and exports (SQL for the sums)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import AsyncIterator

from tortoise.expressions import Q
from tortoise.functions import Count

from adapters.storage.commerce import _order
from adapters.storage.ledger import _entry
from adapters.storage.models import ConversationRow, HoldRow, IdentityRow, LedgerRow, MessageRow, OrderRow, UserRow
from adapters.storage.pages import page_of
from adapters.storage.sql import connection, is_postgres, sql, to_db_datetime
from adapters.storage.users import _user
from core.admin_reports import ActiveUsers, ConversationSummary, OrderFilter, RevenueRow, UsageRow
from core.domain import Hold, Order, Page, User
from core.errors import InvalidRequest

EXPORT_BATCH = 500
# A conversation's channel, from its chat key ("telegram:123", "wechat:OPENID"); no chat key: the HTTP APIs.
_CHANNEL = ("CASE WHEN c.chat_key IS NULL THEN 'api' WHEN c.chat_key LIKE 'telegram:%' THEN 'telegram' "
            "WHEN c.chat_key LIKE 'wechat%' THEN 'wechat' WHEN c.chat_key LIKE 'cli:%' THEN 'cli' ELSE 'other' END")


def _day(conn, column: str) -> str:
    if is_postgres(conn):
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"substr({column}, 1, 10)"   # tortoise writes SQLite datetimes as ISO text in UTC


def channel_of(chat_key: str | None) -> str:
    if not chat_key:
        return "api"
    head = chat_key.split(":", 1)[0]
    return head if head in ("telegram", "wechat", "cli") else "other"


class TortoiseOperatorQueries:
    async def search_users(self, query: str, limit: int) -> list[User]:
        query = query.strip()
        rows = UserRow.all()
        if query:
            owners = IdentityRow.filter(external_id=query)
            channel, sep, external = query.partition(":")
            if sep:
                owners = IdentityRow.filter(Q(external_id=query) | Q(channel=channel, external_id=external))
            ids = await owners.values_list("user_id", flat=True)
            rows = rows.filter(Q(id=query) | Q(name__icontains=query) | Q(id__in=list(ids)))
        found = await rows.order_by("-created_at", "id").limit(limit)
        idents = await IdentityRow.filter(user_id__in=[u.id for u in found]).order_by("id")
        return [_user(u, [i for i in idents if i.user_id == u.id]) for u in found]

    async def holds(self, user_id: str) -> list[Hold]:
        rows = await HoldRow.filter(user_id=user_id, status="active").order_by("created_at")
        return [Hold(r.id, r.user_id, r.amount, r.key, r.expires_at) for r in rows]

    async def conversations(self, user_id: str, limit: int) -> list[ConversationSummary]:
        rows = await ConversationRow.filter(user_id=user_id).order_by("-updated_at").limit(limit)
        counts = dict(await MessageRow.filter(conversation_id__in=[r.id for r in rows]).group_by("conversation_id")
                      .annotate(n=Count("seq")).values_list("conversation_id", "n"))
        return [ConversationSummary(r.id, r.title, r.role, channel_of(r.chat_key), counts.get(r.id, 0),
                                    r.token_usage, r.created_at, r.updated_at) for r in rows]

    async def ledger(self, user_id: str, limit: int, cursor: str | None) -> Page:
        return await page_of(LedgerRow.filter(user_id=user_id), limit, cursor, _entry, newest_first=True)

    async def orders(self, where: OrderFilter, limit: int, cursor: str | None) -> Page:
        query = OrderRow.all()
        if where.status:
            query = query.filter(status=where.status)
        if where.method:
            query = query.filter(payment_method=where.method)
        if where.since:
            query = query.filter(created_at__gte=where.since)
        if where.until:
            query = query.filter(created_at__lt=where.until)
        if where.user_id:
            query = query.filter(user_id=where.user_id)
        return await page_of(query, limit, cursor, _order, newest_first=True)

    async def stuck_paying(self, older_than: datetime, limit: int) -> list[Order]:
        rows = await OrderRow.filter(status="paying", created_at__lt=older_than).order_by("created_at").limit(limit)
        return [_order(r) for r in rows]

    async def usage(self, since: datetime, until: datetime | None = None) -> list[UsageRow]:
        conn = connection()
        day = _day(conn, "m.created_at")
        query = (f"SELECT {day} AS day, COALESCE(m.model, '') AS model, {_CHANNEL} AS channel, COUNT(*) AS replies, "
                 "COALESCE(SUM(m.prompt_tokens), 0) AS p, COALESCE(SUM(m.completion_tokens), 0) AS c, "
                 "COALESCE(SUM(m.cost), 0) AS cost FROM messages m LEFT JOIN conversations c "
                 "ON c.id = m.conversation_id WHERE m.role = 'assistant' AND m.created_at >= ?"
                 + (" AND m.created_at < ?" if until else "") + " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        _, rows = await conn.execute_query(sql(conn, query), self._range(since, until))
        return [UsageRow(r["day"], r["model"], r["channel"], int(r["replies"]), int(r["p"]), int(r["c"]),
                         int(r["cost"])) for r in rows]

    async def revenue(self, since: datetime, until: datetime | None = None) -> list[RevenueRow]:
        conn = connection()
        day = _day(conn, "paid_at")
        query = (f"SELECT {day} AS day, COALESCE(payment_method, '') AS method, currency, COUNT(*) AS n, "
                 "SUM(price) AS amount, SUM(CASE WHEN status = 'refunded' THEN 1 ELSE 0 END) AS refunded "
                 "FROM orders WHERE status IN ('paid', 'refunded') AND paid_at >= ?"
                 + (" AND paid_at < ?" if until else "") + " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        _, rows = await conn.execute_query(sql(conn, query), self._range(since, until))
        return [RevenueRow(r["day"], r["method"], r["currency"], int(r["n"]), Decimal(str(r["amount"])).quantize(
            Decimal("0.01")), int(r["refunded"])) for r in rows]

    async def active_users(self, since: datetime, until: datetime | None = None) -> list[ActiveUsers]:
        conn = connection()
        day = _day(conn, "created_at")
        query = (f"SELECT {day} AS day, COUNT(DISTINCT user_id) AS n FROM messages WHERE role = 'user' "
                 "AND created_at >= ?" + (" AND created_at < ?" if until else "") + " GROUP BY 1 ORDER BY 1")
        _, rows = await conn.execute_query(sql(conn, query), self._range(since, until))
        return [ActiveUsers(r["day"], int(r["n"])) for r in rows]

    @staticmethod
    def _range(since: datetime, until: datetime | None) -> list:
        return [to_db_datetime(since)] + ([to_db_datetime(until)] if until else [])

    async def count(self, table: str) -> int:
        return await _EXPORTS[self._table(table)][0].all().count()

    async def export(self, table: str) -> AsyncIterator[dict]:
        model, order, fields = _EXPORTS[self._table(table)]
        offset = 0
        while True:
            rows = await model.all().order_by(*order).offset(offset).limit(EXPORT_BATCH).values(*fields)
            if not rows:
                return
            if model is UserRow:
                idents = await IdentityRow.filter(user_id__in=[r["id"] for r in rows]).order_by("id")
                for r in rows:
                    r["identities"] = " ".join(f"{i.channel}:{i.external_id}" for i in idents if i.user_id == r["id"])
            for r in rows:
                yield {k: _plain(v) for k, v in r.items()}
            offset += len(rows)

    @staticmethod
    def _table(table: str) -> str:
        if table not in _EXPORTS:
            raise InvalidRequest(f"No export named {table!r} (have {', '.join(_EXPORTS)}).")
        return table


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


_EXPORTS = {
    "users": (UserRow, ("created_at", "id"), ("id", "name", "balance", "held", "storage_limit_bytes",
                                              "storage_used_bytes", "locale", "blocked", "created_at")),
    "ledger": (LedgerRow, ("seq",), ("seq", "id", "user_id", "kind", "amount", "balance_after", "key", "ref",
                                     "created_at")),
    "orders": (OrderRow, ("seq",), ("id", "user_id", "product_id", "product_name", "price", "currency", "tokens",
                                    "storage_mb", "stars", "status", "payment_method", "provider_txn_id", "note",
                                    "created_at", "paid_at", "expires_at")),
}
