"""A small WeChat Pay API v3 HTTP client on aiohttp: signs each request, verifies each answer's signature."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import aiohttp
from yarl import URL

from adapters.wechatpay.signing import MerchantSigner, PlatformVerifier, SignatureError
from core.errors import UpstreamError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: dict
    code: str = ""        # WeChat Pay's error code on a 4xx/5xx answer (ORDER_NOT_EXIST, ORDERPAID, ...)
    message: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class WeChatPayClient:
    def __init__(self, base_url: str, signer: MerchantSigner, verifier: PlatformVerifier, timeout: float = 10.0):
        self._base = URL(base_url.rstrip("/"))
        self._signer = signer
        self._verifier = verifier
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, path: str, body: dict | None = None, query: dict | None = None) -> ApiAnswer:
        """One API call. A 2xx answer must carry a valid platform signature; errors become UpstreamError,
        except WeChat Pay's own 4xx/5xx answers, which come back with their `code` for the caller to judge."""
        url = self._base.with_path(self._base.path.rstrip("/") + path)
        if query:
            url = url.with_query(query)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        headers = {"Authorization": self._signer.authorization(method, url.raw_path_qs, text),
                   "Accept": "application/json", "Wechatpay-Serial": self._verifier.public_key_id,
                   "User-Agent": "chatbot-platform wechatpay-v3"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.request(method, url, data=text.encode() if body is not None else None,
                                             headers=headers) as resp:
                raw = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except (aiohttp.ClientError, TimeoutError) as e:
            raise UpstreamError(f"WeChat Pay is unreachable ({e.__class__.__name__}); try again.",
                                reason="payment_provider_unavailable") from None
        if 200 <= status < 300:
            try:
                self._verifier.verify(resp_headers, raw)
            except SignatureError as e:
                log.error("WeChat Pay answer to %s %s failed verification: %s", method, path, e.message)
                raise UpstreamError("WeChat Pay's answer failed signature verification.",
                                    reason="payment_provider_error") from None
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        answer = ApiAnswer(status, data, str(data.get("code") or ""), str(data.get("message") or ""))
        if not answer.ok:
            log.warning("WeChat Pay %s %s answered %s %s: %s", method, path, status, answer.code, answer.message)
            if status >= 500 or status in (401, 429):
                raise UpstreamError(f"WeChat Pay failed ({status} {answer.code or 'error'}): {answer.message}",
                                    reason="payment_provider_error")
        return answer
