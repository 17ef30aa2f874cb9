"""Console: users (search, one user's facts), grant or deduct with a reason, block, and an audited look at a chat."""
from __future__ import annotations

from aiohttp import web

from adapters.http.admin.settings import facts_of
from adapters.http.admin.base import console_handler, int_field, open_console, render
from adapters.http.web.base import redirect
from core.admin_reports import OrderFilter
from core.errors import InvalidRequest

MAX_QUERY = 200


@console_handler
async def users_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    query = request.query.get("q", "").strip()[:MAX_QUERY]
    found = await console.services.queries.search_users(query, 50)
    return render(console.page, "admin_users.html", users=found, q=query)


async def _user_facts(console, user_id: str) -> dict:
    services = console.services
    user = await services.admin.user(user_id)
    queries = services.queries
    ledger = await queries.ledger(user.id, 50, None)
    orders = await queries.orders(OrderFilter(user_id=user.id), 50, None)
    return {"u": user, "holds": await queries.holds(user.id), "ledger": ledger.items, "orders": orders.items,
            "conversations": await queries.conversations(user.id, 50), "allowance": _allowance(console.page.request)}


def _allowance(request: web.Request):
    """quota.allowance when this version has it: {tokens, every}."""
    allowance = facts_of(request).allowance
    return allowance if allowance and getattr(allowance, "tokens", 0) else None


@console_handler
async def user_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    facts = await _user_facts(console, request.match_info["user_id"])
    return render(console.page, "admin_user.html", shown=None, **facts)


@console_handler
async def adjust(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    form = await console.form()
    user_id = request.match_info["user_id"]
    tokens = int_field(form, "tokens", minimum=1)
    if form.get("direction") not in ("grant", "deduct"):
        raise InvalidRequest("Choose grant or deduct.")
    signed = tokens if form["direction"] == "grant" else -tokens
    await console.services.admin.adjust(console.actor, user_id, signed, form.get("reason", ""))
    return redirect(f"/admin/users/{user_id}#ledger")


@console_handler
async def block(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    form = await console.form()
    user_id = request.match_info["user_id"]
    await console.services.admin.set_blocked(console.actor, user_id, form.get("blocked") == "1")
    return redirect(f"/admin/users/{user_id}")


@console_handler
async def show_conversation(request: web.Request) -> web.StreamResponse:
    """Message bodies only after the operator presses "show" (a POST, audited); a GET never reveals them."""
    console = await open_console(request)
    await console.form()
    user_id, conversation_id = request.match_info["user_id"], request.match_info["conversation_id"]
    page = await console.services.admin.show_messages(console.actor, user_id, conversation_id)
    facts = await _user_facts(console, user_id)
    return render(console.page, "admin_user.html", shown={"id": conversation_id, "messages": page.items}, **facts)


def install(app: web.Application) -> None:
    app.router.add_get("/admin/users", users_page)
    app.router.add_get("/admin/users/{user_id}", user_page)
    app.router.add_post("/admin/users/{user_id}/adjust", adjust)
    app.router.add_post("/admin/users/{user_id}/block", block)
    app.router.add_post("/admin/users/{user_id}/conversations/{conversation_id}/show", show_conversation)
