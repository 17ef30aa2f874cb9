"""Console: the audit log, newest first, filtered by action or target."""
from __future__ import annotations

from aiohttp import web

from adapters.http.admin.base import console_handler, open_console, render


@console_handler
async def audit_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    action = request.query.get("action", "").strip()[:64] or None
    target = request.query.get("target", "").strip()[:200] or None
    page = await console.services.admin.audit.list(100, request.query.get("cursor") or None, action=action,
                                                   target=target)
    return render(console.page, "admin_audit.html", entries=page.items, cursor=page.cursor, action=action or "",
                  target=target or "")


def install(app: web.Application) -> None:
    app.router.add_get("/admin/audit", audit_page)
