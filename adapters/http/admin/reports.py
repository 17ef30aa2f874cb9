"""Console: usage (tokens and cost by day, model, channel), revenue by day and method, active users: charts and CSV."""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from aiohttp import web

from adapters.http.admin.base import console_handler, open_console, render
from adapters.http.admin.orders import parse_day

DEFAULT_DAYS = 30


def _range(request: web.Request) -> tuple[datetime, datetime | None]:
    since = parse_day(request.query.get("since"), "since")
    until = parse_day(request.query.get("until"), "until")
    if since is None:
        since = (datetime.now(timezone.utc) - timedelta(days=DEFAULT_DAYS - 1)).replace(hour=0, minute=0, second=0,
                                                                                        microsecond=0)
    return since, until + timedelta(days=1) if until else None


def _series(rows, key, value) -> dict:
    """{"labels": days, "sets": {name: [value per day]}} for a chart."""
    days = sorted({r.day for r in rows})
    sets: dict[str, list] = defaultdict(lambda: [0] * len(days))
    for r in rows:
        sets[key(r)][days.index(r.day)] += value(r)
    return {"labels": days, "sets": dict(sets)}


@console_handler
async def usage_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    since, until = _range(request)
    queries = console.services.queries
    usage = await queries.usage(since, until)
    revenue = await queries.revenue(since, until)
    active = await queries.active_users(since, until)
    charts = {
        "tokens_by_model": _series(usage, lambda r: r.model, lambda r: r.prompt_tokens + r.completion_tokens),
        "cost_by_channel": _series(usage, lambda r: r.channel, lambda r: r.cost),
        "revenue_by_method": _series(revenue, lambda r: f"{r.method} ({r.currency})", lambda r: float(r.amount)),
        "active_users": {"labels": [a.day for a in active], "sets": {"users": [a.users for a in active]}},
    }
    return render(console.page, "admin_usage.html", usage=usage, revenue=revenue, active=active,
                  charts=json.dumps(charts), since=since.strftime("%Y-%m-%d"),
                  until=(until - timedelta(days=1)).strftime("%Y-%m-%d") if until else "",
                  totals={"replies": sum(r.replies for r in usage), "cost": sum(r.cost for r in usage),
                          "tokens": sum(r.prompt_tokens + r.completion_tokens for r in usage)})


def _csv(name: str, header: list[str], rows: list[list]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return web.Response(body=out.getvalue().encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@console_handler
async def usage_csv(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    rows = await console.services.queries.usage(*_range(request))
    return _csv("usage", ["day", "model", "channel", "replies", "prompt_tokens", "completion_tokens", "cost"],
                [[r.day, r.model, r.channel, r.replies, r.prompt_tokens, r.completion_tokens, r.cost] for r in rows])


@console_handler
async def revenue_csv(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    rows = await console.services.queries.revenue(*_range(request))
    return _csv("revenue", ["day", "method", "currency", "orders", "amount", "refunded"],
                [[r.day, r.method, r.currency, r.orders, str(r.amount), r.refunded] for r in rows])


@console_handler
async def active_csv(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    rows = await console.services.queries.active_users(*_range(request))
    return _csv("active-users", ["day", "users"], [[a.day, a.users] for a in rows])


def install(app: web.Application) -> None:
    app.router.add_get("/admin/usage", usage_page)
    app.router.add_get("/admin/usage.csv", usage_csv)
    app.router.add_get("/admin/revenue.csv", revenue_csv)
    app.router.add_get("/admin/active-users.csv", active_csv)
