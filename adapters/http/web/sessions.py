"""Browser sessions: an opaque random id in an HttpOnly SameSite=Lax cookie; the state lives server-side in the
EphemeralStore (under a hash of the id), expires, and gets a new id at sign-in so a planted id is worthless."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from http.cookies import SimpleCookie
from dataclasses import dataclass, field

from aiohttp import web

from core.ports import EphemeralStore

COOKIE = "bot_session"
_NAMESPACE = "web-session"
ANONYMOUS_TTL = 3600          # a session nobody signed in with: the login page's CSRF token and QR ticket
_LOADED = web.RequestKey("web_session", object)
_COOKIE_OUT = web.RequestKey("web_session_cookie", object)


@dataclass
class WebSession:
    id: str
    csrf: str
    user_id: str | None = None
    locale: str | None = None
    expires: float = 0.0
    data: dict = field(default_factory=dict)   # small page state: the login QR ticket

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """Load, create, rotate and end sessions; the cookie is written when the response is prepared."""

    def __init__(self, store: EphemeralStore, ttl: int, secure: bool):
        self._store = store
        self._ttl = ttl
        self._secure = secure

    async def load(self, request: web.Request) -> WebSession | None:
        if _LOADED in request:
            return request[_LOADED]
        session = None
        sid = request.cookies.get(COOKIE, "")
        if 20 <= len(sid) <= 100:
            raw = await self._store.get(_NAMESPACE, _key(sid))
            state = json.loads(raw) if raw else None
            if state and state["expires"] > time.time():
                session = WebSession(sid, state["csrf"], state.get("user_id"), state.get("locale"),
                                     state["expires"], state.get("data") or {})
        request[_LOADED] = session
        return session

    async def ensure(self, request: web.Request) -> WebSession:
        """The visitor's session, made (anonymous) when they have none: forms need its CSRF token."""
        return await self.load(request) or await self._new(request, None, None)

    async def sign_in(self, request: web.Request, user_id: str) -> WebSession:
        """Sign `user_id` in under a NEW session id; the old session (and its id) is gone."""
        old = await self.load(request)
        if old is not None:
            await self._store.delete(_NAMESPACE, _key(old.id))
        return await self._new(request, user_id, old.locale if old else None)

    async def sign_out(self, request: web.Request) -> None:
        old = await self.load(request)
        if old is not None:
            await self._store.delete(_NAMESPACE, _key(old.id))
        request[_LOADED] = None
        request[_COOKIE_OUT] = ("", 0)

    async def save(self, session: WebSession) -> None:
        left = session.expires - time.time()
        if left > 0:
            state = {"csrf": session.csrf, "user_id": session.user_id, "locale": session.locale,
                     "expires": session.expires, "data": session.data}
            await self._store.put(_NAMESPACE, _key(session.id), json.dumps(state), left)

    async def _new(self, request: web.Request, user_id: str | None, locale: str | None) -> WebSession:
        ttl = self._ttl if user_id else ANONYMOUS_TTL
        session = WebSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user_id, locale, time.time() + ttl)
        await self.save(session)
        request[_LOADED] = session
        request[_COOKIE_OUT] = (session.id, ttl)
        return session

    def write_cookie(self, request: web.Request, response: web.StreamResponse) -> None:
        """on_response_prepare: send the cookie a sign-in, a new session or a sign-out asked for. (aiohttp has
        already turned response.set_cookie into headers by then, so the header is written here.)"""
        if _COOKIE_OUT not in request:
            return
        value, ttl = request[_COOKIE_OUT]
        jar: SimpleCookie = SimpleCookie()
        jar[COOKIE] = value
        morsel = jar[COOKIE]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        morsel["max-age"] = ttl
        if not value:
            morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
        if self._secure:
            morsel["secure"] = True
        response.headers.add("Set-Cookie", morsel.OutputString())
