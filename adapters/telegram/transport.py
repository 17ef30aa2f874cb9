"""AiohttpBotRequest: PTB's HTTP transport on aiohttp, each request's headers and JSON body in one write.

Why: PTB's default transport (httpx) writes a request's headers and its form-encoded body separately and
encodes every parameter on its own; at one edit a second per chat that was about an eighth of the CPU of a
streamed answer (docs/benchmarks.md). Here the parameters go as one JSON body (the Bot API takes JSON), encoded
with orjson when it is installed, and aiohttp sends small requests in one piece. Files still go as multipart.
"""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from adapters.jsontext import dumps_bytes, loads


class AiohttpBotRequest(BaseRequest):
    """One aiohttp session (a pool of `pool_size` keep-alive connections) for every Bot API call of a bot."""

    def __init__(self, pool_size: int = 256, read_timeout: float = 5.0, connect_timeout: float = 5.0,
                 pool_timeout: float = 1.0):
        self._pool_size = pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._pool_size),
                                                  headers={"User-Agent": self.USER_AGENT}, auto_decompress=False)

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def parse_json_payload(self, payload: bytes) -> Any:
        try:
            return loads(payload)
        except ValueError:
            return super().parse_json_payload(payload)    # raises PTB's own error with the payload shown

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("This AiohttpBotRequest is not initialized!")
        timeout = aiohttp.ClientTimeout(
            total=None, sock_read=_given(read_timeout, self._read_timeout),
            sock_connect=_given(connect_timeout, self._connect_timeout),
            connect=_sum(_given(pool_timeout, self._pool_timeout), _given(connect_timeout, self._connect_timeout)))
        kwargs: dict[str, Any] = {"timeout": timeout}
        if request_data is not None and request_data.contains_files:
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, part in request_data.multipart_data.items():
                filename, content, *rest = part
                form.add_field(name, content, filename=filename, content_type=rest[0] if rest else None)
            kwargs["data"] = form
        elif request_data is not None and request_data.parameters:
            kwargs["data"] = dumps_bytes(request_data.parameters)
            kwargs["headers"] = {"Content-Type": "application/json"}
        try:
            async with self._session.request(method, url, **kwargs) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as e:
            raise TimedOut from e
        except aiohttp.ClientError as e:
            raise NetworkError(f"aiohttp.{e.__class__.__name__}: {e}") from e


def _given(value: Any, default: float | None) -> float | None:
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b
