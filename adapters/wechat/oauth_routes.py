"""The pages' WeChat sign-in: /web/wechat/oauth sends a browser inside WeChat to WeChat's authorize page, and its
callback signs the browser in (a new session) as the user of that openid, the same user as the chat's."""
from __future__ import annotations

from aiohttp import web

from adapters.http.keys import services_of, settings_of
from adapters.http.web.base import open_page, page_handler, redirect, sessions_of
from adapters.http.web.links import safe_next
from adapters.wechat.oauth import WeChatWebOAuth
from adapters.wechatpay.checkout import SESSION_OPENID
from core.domain import Identity
from core.errors import NotFound

START = "/web/wechat/oauth"
CALLBACK = "/web/wechat/oauth/callback"


def oauth_of(request: web.Request) -> WeChatWebOAuth | None:
    return services_of(request).wechat_oauth


def start_url(next_path: str) -> str:
    from urllib.parse import quote

    return f"{START}?next={quote(next_path, safe='/')}"


@page_handler
async def begin(request: web.Request) -> web.StreamResponse:
    oauth = oauth_of(request)
    if oauth is None:
        raise NotFound("WeChat sign-in is not configured.")
    page = await open_page(request, signed_in=False, new_session=True)
    assert page.session is not None
    callback = settings_of(request).public_url.rstrip("/") + CALLBACK
    started = await oauth.begin(page.session.id, callback, safe_next(request.query.get("next")))
    return web.Response(status=302, headers={"Location": started.url})


@page_handler
async def callback(request: web.Request) -> web.StreamResponse:
    """State first (this browser's, unused, recent), then the code; only then is anyone signed in."""
    oauth = oauth_of(request)
    if oauth is None:
        raise NotFound("WeChat sign-in is not configured.")
    page = await open_page(request, signed_in=False)
    from core.errors import Unauthorized

    if page.session is None:
        raise Unauthorized("This WeChat sign-in did not start in this browser; open the page again.",
                           reason="invalid_state")
    openid, next_path = await oauth.finish(page.session.id, request.query.get("state", ""),
                                           request.query.get("code", ""))
    # The openid of our own app: the same identity the chat's messages come from, so the same user.
    user = await page.services.accounts.ensure_user(Identity("wechat", openid))
    sessions = sessions_of(request)
    session = await sessions.sign_in(request, user.id)
    session.data[SESSION_OPENID] = openid
    await sessions.save(session)
    return redirect(safe_next(next_path))


def install(app: web.Application) -> None:
    """Only with the WeChat channel on (its app_id and secret are the web OAuth's; bot/http_wiring.py builds it)."""
    app.router.add_get(START, begin)
    app.router.add_get(CALLBACK, callback)
