"""Console: orders with filters, one order, a refund through OrderService.refund, and payments needing attention."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aiohttp import web

from adapters.http.admin.base import console_handler, open_console, render
from adapters.http.web.base import redirect
from core.admin_reports import OrderFilter
from core.domain import ORDER_STATUSES
from core.errors import InvalidRequest

STUCK_AFTER = timedelta(minutes=30)   # an order still `paying` this long after it was made needs a look


def parse_day(text: str | None, name: str) -> datetime | None:
    """A date from a form (2024-05-01), as the start of that day in UTC."""
    if not text:
        return None
    try:
        return datetime.strptime(text.strip()[:10], "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date like 2024-05-01.") from None


def order_filter(query) -> OrderFilter:
    status = query.get("status") or None
    if status and status not in ORDER_STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(ORDER_STATUSES)}.")
    until = parse_day(query.get("until"), "until")
    return OrderFilter(status, (query.get("method") or "").strip()[:32] or None, parse_day(query.get("since"), "since"),
                       until + timedelta(days=1) if until else None)


@console_handler
async def orders_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    where = order_filter(request.query)
    page = await console.services.queries.orders(where, 50, request.query.get("cursor") or None)
    methods = sorted(console.services.orders.providers)
    return render(console.page, "admin_orders.html", orders=page.items, cursor=page.cursor, statuses=ORDER_STATUSES,
                  methods=methods, f=request.query)


@console_handler
async def order_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    order = await console.services.orders.get(None, request.match_info["order_id"])
    history = await console.services.admin.audit.list(20, target=f"order:{order.id}")
    return render(console.page, "admin_order.html", o=order, history=history.items)


@console_handler
async def refund(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    await console.form()
    order_id = request.match_info["order_id"]
    await console.services.admin.refund(console.actor, order_id)
    return redirect(f"/admin/orders/{order_id}")


@console_handler
async def attention_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    stuck = await console.services.queries.stuck_paying(datetime.now(timezone.utc) - STUCK_AFTER, 100)
    unmatched = await console.services.admin.audit.list(100, action="payment.")
    return render(console.page, "admin_attention.html", stuck=stuck, unmatched=unmatched.items,
                  minutes=int(STUCK_AFTER.total_seconds() // 60))


@console_handler
async def check_payment(request: web.Request) -> web.StreamResponse:
    """Ask the provider about a stuck order now (the sweep's own step): a lost notice still credits."""
    console = await open_console(request)
    await console.form()
    order = await console.services.orders.get(None, request.match_info["order_id"])
    after = await console.services.orders.check_payment(order)
    await console.services.admin.record(console.actor, "order.check_payment", f"order:{order.id}",
                                        {"status": order.status}, {"status": after.status})
    return redirect(f"/admin/orders/{order.id}")


def install(app: web.Application) -> None:
    app.router.add_get("/admin/orders", orders_page)
    app.router.add_get("/admin/orders/attention", attention_page)
    app.router.add_get("/admin/orders/{order_id}", order_page)
    app.router.add_post("/admin/orders/{order_id}/refund", refund)
    app.router.add_post("/admin/orders/{order_id}/check", check_payment)
