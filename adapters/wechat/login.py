"""POST /api/v1/auth/wechat-qrcode: a temporary scene QR code for logging in on the web by scanning it in WeChat."""
from __future__ import annotations

import secrets
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from aiohttp import web

from adapters.http.auth import client_address
from adapters.wechat.api import WeChatApiError
from adapters.wechat.responder import LOGIN_SCENE_PREFIX
from adapters.wechat.webhook import channel_of
from core.errors import RateLimited
from core.login import SCENE_TTL, LoginScene

SHOW_QRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
# The route is public (a login page calls it before anyone is signed in); each call costs a WeChat API
# call, so callers are limited: per client address, and in total for this process.
PER_CLIENT_PER_MINUTE = 10
TOTAL_PER_MINUTE = 120


class SlidingWindowLimiter:
    def __init__(self, per_key: int, total: int, window_seconds: float = 60.0):
        self._per_key = per_key
        self._total = total
        self._window = window_seconds
        self._hits: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def check(self, key: str, now: float | None = None) -> None:
        """Count one call for `key`, or raise RateLimited (429) when over a limit."""
        now = time.monotonic() if now is None else now
        if len(self._hits) > 1000:  # forget idle clients now and then
            self._hits = {k: h for k, h in self._hits.items() if h and h[-1] > now - self._window}
        mine = self._hits.setdefault(key, deque())
        for hits in (self._all, mine):
            while hits and hits[0] <= now - self._window:
                hits.popleft()
        if len(mine) >= self._per_key or len(self._all) >= self._total:
            raise RateLimited("Too many login QR codes requested; wait a minute and try again.")
        mine.append(now)
        self._all.append(now)


LIMITER = web.AppKey("wechat_qr_limiter", SlidingWindowLimiter)


def browser_agent(request: web.Request) -> str:
    """The asking browser's own name for itself (printable, at most 120 characters), shown to the scanner."""
    agent = "".join(ch for ch in request.headers.get("User-Agent", "") if ch.isprintable()).strip()
    return agent[:120] + ("…" if len(agent) > 120 else "")


async def open_login_qrcode(request: web.Request) -> dict:
    """Open a login scene: {url (WeChat's image of the QR), qrcode (the ticket to redeem), expires_at, content (what
    the QR code encodes, for a page that draws it itself)}. Shared by this API route and the web sign-in page."""
    request.app[LIMITER].check(client_address(request))
    channel = channel_of(request)
    scene = LOGIN_SCENE_PREFIX + secrets.token_urlsafe(24)
    answer = await channel.api.create_qrcode(scene, SCENE_TTL)
    ticket = str(answer.get("ticket") or "")
    if not ticket:
        raise WeChatApiError(-1, "qrcode/create answered without a ticket")
    expires_in = int(answer.get("expire_seconds") or SCENE_TTL)
    await channel.qr_login.open(LoginScene(scene, ticket, agent=browser_agent(request),
                                           address=client_address(request)), ttl=expires_in)
    expires_at = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    return {"url": SHOW_QRCODE_URL + quote(ticket, safe=""), "qrcode": ticket,
            "expires_at": expires_at.isoformat().replace("+00:00", "Z"), "content": str(answer.get("url") or "")}


async def create_login_qrcode(request: web.Request) -> web.Response:
    opened = await open_login_qrcode(request)
    return web.json_response({k: opened[k] for k in ("url", "qrcode", "expires_at")})


def install(app: web.Application) -> None:
    app[LIMITER] = SlidingWindowLimiter(PER_CLIENT_PER_MINUTE, TOTAL_PER_MINUTE)
    app.router.add_post("/api/v1/auth/wechat-qrcode", create_login_qrcode)
