"""The pages' WeChat sign-in: /web/wechat/oauth sends a browser inside WeChat to WeChat's authorize page, and its
callback signs the browser in (a new session) as the user of that openid, the same user as the chat's."""
from __future__ import annotations

from aiohttp import web

from adapters.http.web.base import open_page, page_handler, redirect, sessions_of
from adapters.http.web.links import safe_next
from adapters.wechat.oauth import WeChatWebOAuth
from adapters.wechatpay.checkout import SESSION_OPENID
from core.domain import Identity
from core.errors import NotFound

START = "/web/wechat/oauth"
CALLBACK = "/web/wechat/oauth/callback"
EXTRA = "wechat_web_oauth"   # services.extras key


def oauth_of(request: web.Request) -> WeChatWebOAuth | None:
    from bot.app import SERVICES

    return request.config_dict[SERVICES].extras.get(EXTRA)


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
    from bot.app import CONFIG

    callback = request.config_dict[CONFIG].server.public_url.rstrip("/") + CALLBACK
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


def service_hook(config):
    async def hook(services) -> None:
        wechat = config.channels.wechat
        services.extras[EXTRA] = WeChatWebOAuth(
            app_id=wechat.app_id, app_secret=wechat.app_secret, oauth_base_url=wechat.oauth_base_url,
            api_base_url=wechat.api_base_url, secret=config.security.token_secret or wechat.app_secret,
            store=services.ephemeral)

    return hook


def install(app: web.Application, config) -> None:
    """Only with the WeChat channel on (its app_id and secret are the web OAuth's)."""
    if not config.channels.wechat.enabled:
        return
    from bot.app import SERVICE_HOOKS

    app[SERVICE_HOOKS].append(service_hook(config))
    app.router.add_get(START, begin)
    app.router.add_get(CALLBACK, callback)
