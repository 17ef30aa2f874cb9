"""WeChat web OAuth (网页授权, snsapi_base): the authorize redirect with a state bound to the browser session,
and the code exchange at /sns/oauth2/access_token that names the WeChat user (their openid for our app)."""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp

from core.errors import Unauthorized, UpstreamError
from core.ports import EphemeralStore

log = logging.getLogger(__name__)

STATE_TTL = 600           # seconds between the authorize redirect and the callback
_NAMESPACE = "wechat-oauth-state"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class OAuthStart:
    url: str                  # where to send the browser: WeChat's authorize page
    state: str


class WeChatWebOAuth:
    """`begin` makes a single-use state (a nonce plus an HMAC binding it to the session) and the authorize URL;
    `finish` checks the state against the same session, spends it, and exchanges the code (itself single use)."""

    def __init__(self, *, app_id: str, app_secret: str, oauth_base_url: str, api_base_url: str, secret: str,
                 store: EphemeralStore, timeout_seconds: float = 10.0):
        self._app_id = app_id
        self._app_secret = app_secret
        self._oauth_base = oauth_base_url.rstrip("/")
        self._api_base = api_base_url.rstrip("/")
        self._key = hashlib.sha256(("wechat-web-oauth|" + secret).encode()).digest()
        self._store = store
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    def _mac(self, nonce: str, session_id: str) -> str:
        return hmac.new(self._key, f"{nonce}|{session_id}".encode(), hashlib.sha256).hexdigest()[:32]

    async def begin(self, session_id: str, redirect_uri: str, next_path: str) -> OAuthStart:
        nonce = secrets.token_hex(16)
        state = nonce + self._mac(nonce, session_id)   # 64 hex characters: within WeChat's 128, [a-zA-Z0-9]
        await self._store.put(_NAMESPACE, nonce, f"{next_path}|{time.time() + STATE_TTL}", STATE_TTL)
        query = urlencode({"appid": self._app_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": "snsapi_base", "state": state})
        return OAuthStart(f"{self._oauth_base}/connect/oauth2/authorize?{query}#wechat_redirect", state)

    async def finish(self, session_id: str, state: str, code: str) -> tuple[str, str]:
        """(openid, the page to go back to). Unauthorized (`invalid_state`, `invalid_code`) when the state is
        forged, another browser's, used or old, or WeChat refuses the code (unknown, used: 40163)."""
        state = state or ""
        nonce, mac = state[:32], state[32:]
        if len(state) != 64 or not set(state) <= _HEX or not hmac.compare_digest(mac, self._mac(nonce, session_id)):
            raise Unauthorized("This WeChat sign-in did not start in this browser; open the page again.",
                               reason="invalid_state")
        kept = await self._store.take(_NAMESPACE, nonce)
        if kept is None:
            raise Unauthorized("This WeChat sign-in was already used or has expired; open the page again.",
                               reason="invalid_state")
        next_path, _, expires = kept.rpartition("|")
        if float(expires) < time.time():
            raise Unauthorized("This WeChat sign-in has expired; open the page again.", reason="invalid_state")
        if not code or len(code) > 512:
            raise Unauthorized("WeChat sent no sign-in code; open the page again.", reason="invalid_code")
        return await self._exchange(code), next_path

    async def _exchange(self, code: str) -> str:
        params = {"appid": self._app_id, "secret": self._app_secret, "code": code,
                  "grant_type": "authorization_code"}
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as http:
                async with http.get(self._api_base + "/sns/oauth2/access_token", params=params) as resp:
                    body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise UpstreamError(f"WeChat could not be reached to finish the sign-in ({e.__class__.__name__}).",
                                reason="upstream_error") from None
        if not isinstance(body, dict):
            raise UpstreamError("WeChat answered the sign-in with something unexpected.", reason="upstream_error")
        if body.get("errcode"):
            log.warning("WeChat web OAuth code refused: %s %s", body.get("errcode"), body.get("errmsg"))
            if body["errcode"] in (40029, 40163, 41008, 42003):   # invalid, used, missing, expired code
                raise Unauthorized("WeChat refused this sign-in code (used or expired); open the page again.",
                                   reason="invalid_code")
            raise UpstreamError(f"WeChat refused the sign-in ({body['errcode']}).", reason="upstream_error")
        openid = body.get("openid")
        if not isinstance(openid, str) or not openid:
            raise UpstreamError("WeChat's sign-in answer has no openid.", reason="upstream_error")
        return openid
