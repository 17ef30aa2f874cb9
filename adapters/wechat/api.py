"""The few WeChat server APIs we call (token, customer-service text, scene QR, media download), over aiohttp, with a
shared token cache."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.errors import UpstreamError
from core.ports import EphemeralStore

log = logging.getLogger(__name__)

# errcodes meaning "this access_token is no good": invalid, expired, or not the latest one.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
WINDOW_CLOSED = 45015     # the user has not talked to us for 48 hours: customer-service messages are refused
TOKEN_MARGIN_SECONDS = 300  # refresh a little before WeChat's expiry


class WeChatApiError(UpstreamError):
    """WeChat answered with an errcode (or could not be reached: errcode -1)."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class Media:
    """A file downloaded from /cgi-bin/media/get: at most `limit` + 1 bytes are read, so a longer one is known
    to be too large without fetching the rest."""

    data: bytes
    content_type: str
    filename: str


class WeChatApi:
    """access_token is cached in this process and in the EphemeralStore, so every worker shares one token."""

    def __init__(self, base_url: str, app_id: str, app_secret: str, store: EphemeralStore,
                 timeout_seconds: float = 10.0):
        self._base = base_url.rstrip("/")
        self._app_id = app_id
        self._secret = app_secret
        self._store = store
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None   # (token, monotonic expiry)
        self._token_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- endpoints ---

    async def send_text(self, openid: str, content: str) -> None:
        """Push one customer-service text message (content within the byte limit)."""
        await self._post("/cgi-bin/message/custom/send",
                         {"touser": openid, "msgtype": "text", "text": {"content": content}})

    async def create_qrcode(self, scene: str, expire_seconds: int) -> dict[str, Any]:
        """A temporary QR code carrying a string scene: {ticket, expire_seconds, url}."""
        return await self._post("/cgi-bin/qrcode/create", {
            "expire_seconds": expire_seconds, "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}}})

    async def download_media(self, media_id: str, limit: int) -> Media:
        """A user's image or voice by its MediaId (kept by WeChat for 3 days). WeChatApiError when WeChat
        answers an errcode (40007: invalid media_id) or cannot be reached."""
        token = await self.access_token()
        media = await self._download(media_id, token, limit)
        if isinstance(media, int):
            if media not in TOKEN_ERRORS:
                raise WeChatApiError(media, "media download refused")
            await self._forget(token)
            media = await self._download(media_id, await self.access_token(), limit)
            if isinstance(media, int):
                raise WeChatApiError(media, "media download refused")
        return media

    async def _download(self, media_id: str, token: str, limit: int) -> Media | int:
        """The file, or the errcode WeChat answered instead (as JSON, with a 200)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(self._base + "/cgi-bin/media/get",
                                         params={"access_token": token, "media_id": media_id}) as resp:
                if resp.status >= 400:
                    raise WeChatApiError(-1, f"HTTP {resp.status} from /cgi-bin/media/get")
                kind = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
                if kind in ("application/json", "text/plain"):
                    body = await resp.json(content_type=None)
                    return int(body.get("errcode") or -1) if isinstance(body, dict) else -1
                data = bytearray()
                async for piece in resp.content.iter_chunked(65536):
                    data += piece
                    if len(data) > limit:
                        break   # enough to know it is too large; the rest is never read
                return Media(bytes(data), kind, resp.content_disposition.filename if resp.content_disposition
                             and resp.content_disposition.filename else "")
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
            raise WeChatApiError(-1, f"/cgi-bin/media/get unreachable or unreadable ({e.__class__.__name__})") \
                from None

    # --- plumbing ---

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        token = await self.access_token()
        body = await self._request("POST", path, params={"access_token": token}, json=payload)
        if body.get("errcode") in TOKEN_ERRORS:
            log.info("WeChat refused the access_token (errcode %s); refreshing once", body["errcode"])
            await self._forget(token)
            token = await self.access_token()
            body = await self._request("POST", path, params={"access_token": token}, json=payload)
        _raise_for(body)
        return body

    async def access_token(self) -> str:
        cached = self._token
        if cached and cached[1] > time.monotonic():
            return cached[0]
        async with self._token_lock:
            cached = self._token
            if cached and cached[1] > time.monotonic():
                return cached[0]
            shared = await self._store.get("wechat-token", self._app_id)
            if shared:
                # The shared entry's own TTL bounds its age; keep it locally only briefly.
                self._token = (shared, time.monotonic() + 60)
                return shared
            body = await self._request("GET", "/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self._app_id, "secret": self._secret})
            _raise_for(body)
            token = str(body.get("access_token") or "")
            if not token:
                raise WeChatApiError(-1, "no access_token in the answer")
            ttl = max(60, int(body.get("expires_in", 7200)) - TOKEN_MARGIN_SECONDS)
            await self._store.put("wechat-token", self._app_id, token, ttl)
            self._token = (token, time.monotonic() + ttl)
            return token

    async def _forget(self, token: str) -> None:
        async with self._token_lock:
            if self._token and self._token[0] == token:
                self._token = None
            if await self._store.get("wechat-token", self._app_id) == token:
                await self._store.delete("wechat-token", self._app_id)

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.request(method, self._base + path, **kwargs) as resp:
                if resp.status >= 400:
                    raise WeChatApiError(-1, f"HTTP {resp.status} from {path}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
            raise WeChatApiError(-1, f"{path} unreachable or unreadable ({e.__class__.__name__})") from None
        if not isinstance(body, dict):
            raise WeChatApiError(-1, f"{path} answered something that is not a JSON object")
        return body


def _raise_for(body: dict[str, Any]) -> None:
    code = body.get("errcode") or 0
    if code:
        raise WeChatApiError(int(code), str(body.get("errmsg", "")))
