"""A local WeChat server API for tests: /cgi-bin/token, /cgi-bin/message/custom/send, /cgi-bin/qrcode/create,
/cgi-bin/media/get (files users sent: wx.add_media(data, "image/jpeg", "jpg") -> media_id), and web OAuth: /connect/oauth2/authorize (channels.wechat.oauth_base_url = wx.base_url) and /sns/oauth2/access_token.

    async with FakeWeChat(app_id="wxtest", app_secret="s3cret") as wx:
        config: channels.wechat.api_base_url = wx.base_url
        wx.expire_tokens()            # every token issued so far now answers 42001 (or code=40001)
        wx.close_window("openid-1")   # sends to that user answer 45015 until wx.open_window(...)
        await wx.wait_sent("openid-1", 2)   # the texts delivered to that user, once there are 2
        wx.oauth_openid = "openid-1"  # who is "in the WeChat client" when a page sends the browser to authorize

Tokens, errcodes and errmsgs follow WeChat's documentation; a text over 2048 bytes answers 45002.
"""
from __future__ import annotations

import asyncio
import base64
import secrets
from collections import defaultdict

from aiohttp import web
from yarl import URL

from tests.fakes.local import serve_local

TEXT_LIMIT_BYTES = 2048
_ERRMSG = {
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40163: "code been used",
    41001: "access_token missing",
    42001: "access_token expired",
    44002: "empty post data",
    45002: "content size out of limit",
    45015: "response out of time limit or subscription is canceled",
    47001: "data format error",
}


def _error(code: int) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": f"{_ERRMSG.get(code, 'error')} rid: {secrets.token_hex(6)}"})


class FakeWeChat:
    def __init__(self, app_id: str = "wxtest0123456789", app_secret: str = "app-secret-for-tests",
                 token_ttl: int = 7200):
        self.app_id = app_id
        self.app_secret = app_secret
        self.token_ttl = token_ttl
        self.base_url = ""
        self.sent: dict[str, list[str]] = defaultdict(list)   # openid -> texts delivered, in order
        self.send_calls: list[dict] = []                      # every custom/send body, refused ones too
        self.token_calls = 0
        self.qrcodes: dict[str, dict] = {}                    # ticket -> the create request
        self.oauth_openid: str | None = None                  # the WeChat user an authorize redirect signs in
        self.oauth_domains: set[str] = set()                  # 网页授权域名; empty: any redirect_uri host
        self.oauth_codes: dict[str, str] = {}                 # code -> openid, until exchanged (single use)
        self.oauth_used: set[str] = set()
        self.oauth_exchanges: list[dict] = []                 # every /sns/oauth2/access_token query
        self.oauth_route: tuple[str, str] | None = None       # (server.public_url, where the app really is)
        self.media: dict[str, tuple[bytes, str, str]] = {}       # media_id -> (bytes, Content-Type, extension)
        self.media_gets: list[str] = []                       # every media_id asked for, unknown ones too
        self._valid: set[str] = set()
        self._expired: dict[str, int] = {}                    # token -> errcode it now answers
        self._closed: set[str] = set()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # --- scripting ---

    def expire_tokens(self, code: int = 42001) -> None:
        """Every token issued so far is refused with `code` (42001 expired, 40001 invalid/not latest)."""
        for token in self._valid:
            self._expired[token] = code
        self._valid.clear()

    def close_window(self, openid: str) -> None:
        """The user's 48-hour window is closed: customer-service messages to them answer 45015."""
        self._closed.add(openid)

    def open_window(self, openid: str) -> None:
        self._closed.discard(openid)

    def add_media(self, data: bytes, content_type: str, extension: str) -> str:
        """A file a user sent (kept by WeChat for 3 days): its media_id for an image or voice callback."""
        media_id = secrets.token_urlsafe(48)   # real ones are 64 characters of [A-Za-z0-9_-]
        self.media[media_id] = (data, content_type, extension)
        return media_id

    async def wait_sent(self, openid: str, count: int, timeout: float = 10.0) -> list[str]:
        """The texts delivered to `openid`, as soon as there are at least `count`."""
        await self._until(lambda: len(self.sent[openid]) >= count, timeout)
        return list(self.sent[openid])

    async def wait_calls(self, count: int, timeout: float = 10.0) -> list[dict]:
        """Every custom/send call (refused ones too), as soon as there are at least `count`."""
        await self._until(lambda: len(self.send_calls) >= count, timeout)
        return list(self.send_calls)

    async def _until(self, reached, timeout: float) -> None:
        async def wait() -> None:
            while not reached():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)

    def route_redirects(self, public_url: str, actual_base: str) -> None:
        """The app says it is at public_url but listens elsewhere (a random port): send browsers there."""
        self.oauth_route = (public_url.rstrip("/"), actual_base.rstrip("/"))

    # --- lifecycle ---

    async def start(self) -> "FakeWeChat":
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        app.router.add_post("/cgi-bin/qrcode/create", self._qrcode)
        app.router.add_get("/cgi-bin/media/get", self._media_get)
        app.router.add_get("/connect/oauth2/authorize", self._authorize)
        app.router.add_get("/sns/oauth2/access_token", self._oauth_token)
        self._runner, self.base_url = await serve_local(app, shutdown_timeout=0.5)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeWeChat":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- handlers ---

    async def _token(self, request: web.Request) -> web.Response:
        self.token_calls += 1
        q = request.query
        if q.get("grant_type") != "client_credential":
            return _error(40002)
        if q.get("appid") != self.app_id:
            return _error(40013)
        if q.get("secret") != self.app_secret:
            return _error(40125)
        token = secrets.token_urlsafe(48)
        self._valid.add(token)
        return web.json_response({"access_token": token, "expires_in": self.token_ttl})

    def _token_error(self, request: web.Request) -> int:
        token = request.query.get("access_token")
        if not token:
            return 41001
        if token in self._expired:
            return self._expired[token]
        return 0 if token in self._valid else 40001

    async def _json(self, request: web.Request) -> dict | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _send(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        self.send_calls.append(body or {})
        self._changed.set()
        if code := self._token_error(request):
            return _error(code)
        if body is None:
            return _error(47001)
        openid = body.get("touser")
        content = (body.get("text") or {}).get("content")
        if not openid:
            return _error(40003)
        if body.get("msgtype") != "text" or not isinstance(content, str):
            return _error(47001)
        if len(content.encode("utf-8")) > TEXT_LIMIT_BYTES:
            return _error(45002)
        if openid in self._closed:
            return _error(45015)
        self.sent[openid].append(content)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _qrcode(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if code := self._token_error(request):
            return _error(code)
        if body is None or body.get("action_name") not in ("QR_SCENE", "QR_STR_SCENE"):
            return _error(47001)
        expire = min(int(body.get("expire_seconds") or 60), 2592000)
        ticket = base64.b64encode(secrets.token_bytes(60)).decode()  # real tickets carry + / =
        self.qrcodes[ticket] = body
        return web.json_response({"ticket": ticket, "expire_seconds": expire,
                                  "url": f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}"})

    async def _media_get(self, request: web.Request) -> web.Response:
        """The file as WeChat sends it (its type, and the name in Content-disposition); an error is JSON sent as
        text/plain with a 200, as WeChat does."""
        media_id = request.query.get("media_id", "")
        self.media_gets.append(media_id)
        if code := self._token_error(request):
            return _plain_error(code)
        if media_id not in self.media:
            return _plain_error(40007)
        data, content_type, extension = self.media[media_id]
        return web.Response(body=data, headers={
            "Content-Type": content_type, "Content-disposition": f'attachment; filename="{media_id}.{extension}"',
            "Cache-Control": "no-cache, must-revalidate"})

    # --- web OAuth (网页授权, snsapi_base) ---

    async def _authorize(self, request: web.Request) -> web.Response:
        """WeChat's authorize page: inside the WeChat client it redirects at once (snsapi_base asks nothing) to
        redirect_uri with a fresh `code` and the page's `state`; elsewhere it shows WeChat's own error page."""
        q = request.query
        if "MicroMessenger" not in request.headers.get("User-Agent", ""):
            return _page("请在微信客户端打开链接")
        if q.get("appid") != self.app_id:
            return _page("appid 参数错误 (40013)")
        if q.get("response_type") != "code" or q.get("scope") not in ("snsapi_base", "snsapi_userinfo"):
            return _page("scope 参数错误或没有 scope 权限 (10005)")
        target = URL(q.get("redirect_uri", ""))
        if not target.is_absolute() or (self.oauth_domains and target.host not in self.oauth_domains):
            return _page("redirect_uri 域名与后台配置不一致 (10003)")
        if not self.oauth_openid:
            return _page("test set no wx.oauth_openid: nobody is signed in to this WeChat client")
        code = secrets.token_urlsafe(24)
        self.oauth_codes[code] = self.oauth_openid
        if self.oauth_route and str(target).startswith(self.oauth_route[0]):
            target = URL(self.oauth_route[1] + str(target)[len(self.oauth_route[0]):])
        query = {**target.query, "code": code}
        if "state" in q:
            query["state"] = q["state"]
        raise web.HTTPFound(str(target.with_query(query)))

    async def _oauth_token(self, request: web.Request) -> web.Response:
        q = request.query
        self.oauth_exchanges.append(dict(q))
        if q.get("grant_type") != "authorization_code":
            return _error(40002)
        if q.get("appid") != self.app_id:
            return _error(40013)
        if q.get("secret") != self.app_secret:
            return _error(40125)
        code = q.get("code", "")
        if code in self.oauth_used:
            return _error(40163)
        openid = self.oauth_codes.pop(code, None)
        if openid is None:
            return _error(40029)
        self.oauth_used.add(code)
        return web.json_response({"access_token": secrets.token_urlsafe(48), "expires_in": 7200,
                                  "refresh_token": secrets.token_urlsafe(48), "openid": openid,
                                  "scope": "snsapi_base", "is_snapshotuser": 0})


def _plain_error(code: int) -> web.Response:
    body = _error(code).body
    return web.Response(body=body, content_type="text/plain")


def _page(text: str) -> web.Response:
    return web.Response(text=f"<!doctype html><title>微信</title><p>{text}</p>", content_type="text/html")
