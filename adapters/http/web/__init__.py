"""The user pages under /web (sign-in, chat, account): server-rendered Jinja templates, a little plain JavaScript,
cookie sessions with CSRF tokens, a strict Content-Security-Policy. See docs/web.md for adding a page."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web


HERE = Path(__file__).parent


def install(app: web.Application, wechat_oauth: bool) -> None:
    """The pages; `wechat_oauth`: the WeChat channel is on, so a browser inside WeChat may sign in with it."""
    import aiohttp_jinja2
    import jinja2

    from adapters.http.auth import CREDENTIAL_RESOLVER
    from adapters.http.web import account, base, chat, login, pay, static

    # Our own Jinja environment (the landing page keeps its own): templates/ of this folder.
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), app_key=base.TEMPLATES,
                         autoescape=True)
    app.on_response_prepare.append(base.on_prepare)
    # The pages' scripts call the JSON API with the session cookie and the X-CSRF-Token header.
    app[CREDENTIAL_RESOLVER] = base.with_session_credentials(app.get(CREDENTIAL_RESOLVER))
    app.router.add_get(base.STATIC + "/{name}", static.asset)
    app.router.add_get("/web", base.to_home)
    app.router.add_get("/web/", base.to_home)
    app.router.add_post("/web/lang", base.set_language)
    login.install(app)
    chat.install(app)
    account.install(app)
    pay.install(app, wechat_oauth)   # /web/pay and WeChat web OAuth (issue 16)
