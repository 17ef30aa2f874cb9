"""The operator console under /admin: users, balances, orders, usage and revenue, the catalogue, health and the
audit log. Pages on the /web base (sessions, CSRF, CSP, texts); every change goes through core's AdminService."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

HERE = Path(__file__).parent


def install(app: web.Application) -> None:
    import aiohttp_jinja2
    import jinja2

    from adapters.http.admin import audit_page, base, catalogue, health, orders, reports, session, users
    from adapters.http.web.base import redirect

    from adapters.http.web import HERE as WEB

    # The console's templates first, then /web's: admin_base.html extends the shared page skeleton (base.html).
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader([HERE / "templates", WEB / "templates"]),
                         app_key=base.TEMPLATES, autoescape=True)
    # Only the files of static/ (and static/vendor/), never a listing, never a symlink out of the folder.
    app.router.add_static(base.STATIC, HERE / "static", show_index=False, follow_symlinks=False)

    async def home(request: web.Request) -> web.StreamResponse:
        return redirect(base.HOME)

    app.router.add_get("/admin", home)
    app.router.add_get("/admin/", home)
    app.router.add_get(base.LOGIN, session.login_page)
    app.router.add_post(base.LOGIN, session.login)
    app.router.add_post("/admin/logout", session.logout)
    for module in (users, orders, reports, catalogue, health, audit_page):
        module.install(app)
