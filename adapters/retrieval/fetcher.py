"""PageFetcher: GET a web page with aiohttp within size, time and redirect limits, refusing private addresses."""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from yarl import URL

from core.errors import InvalidRequest
from core.knowledge_ports import Fetched

MAX_REDIRECTS = 5
_ACCEPTED = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown", "application/pdf")


def is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
            or ip.is_unspecified)


def _refused(host: str) -> InvalidRequest:
    return InvalidRequest(f"The address {host} is private or local; only public web pages can be added.",
                          reason="private_address")


class _PublicOnlyResolver(AbstractResolver):
    """Resolves names and drops private answers, so a public name cannot lead to an internal server."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        answers = await self._inner.resolve(host, port, family)
        public = [a for a in answers if not is_private(a["host"])]
        if not public:
            raise OSError(f"{host} resolves only to private addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


def _kind(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class PageFetcher:
    def __init__(self, *, max_bytes: int, timeout_seconds: float, user_agent: str = "chatbot-platform/knowledge-base"):
        self._max = max_bytes
        self._timeout = timeout_seconds
        self._agent = user_agent

    async def check(self, url: str, allow_private: bool) -> None:
        target = URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            raise InvalidRequest(f"The URL {url!r} is not an http(s) address.", reason="invalid_url")
        if allow_private:
            return
        host = target.host
        if _is_ip(host):
            if is_private(host):
                raise _refused(host)
            return
        try:
            infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(host, target.port or 80), 10)
        except (OSError, asyncio.TimeoutError):
            raise InvalidRequest(f"The address {host} could not be resolved.", reason="fetch_failed") from None
        if all(is_private(str(info[4][0])) for info in infos):
            raise _refused(host)

    async def fetch(self, url: str, allow_private: bool) -> Fetched:
        try:
            return await asyncio.wait_for(self._fetch(url, allow_private), self._timeout)
        except asyncio.TimeoutError:
            raise InvalidRequest(f"The page did not answer within {self._timeout:g} seconds.",
                                 reason="fetch_timeout") from None
        except aiohttp.ClientError as e:
            if "private addresses" in str(e):
                raise _refused(URL(url).host or url) from None
            raise InvalidRequest(f"The page could not be fetched ({e.__class__.__name__}: {e}).",
                                 reason="fetch_failed") from None

    async def _fetch(self, url: str, allow_private: bool) -> Fetched:
        resolver = None if allow_private else _PublicOnlyResolver()
        connector = aiohttp.TCPConnector(resolver=resolver, limit=2)
        async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": self._agent}) as http:
            for _ in range(MAX_REDIRECTS + 1):
                target = URL(url)
                if target.scheme not in ("http", "https") or not target.host:
                    raise InvalidRequest(f"The URL {url!r} is not an http(s) address.", reason="invalid_url")
                if not allow_private and _is_ip(target.host) and is_private(target.host):
                    raise _refused(target.host)  # IP literals skip the resolver, so check them here
                async with http.get(target, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                        url = urljoin(str(resp.url), resp.headers["Location"])
                        continue
                    if resp.status >= 400:
                        raise InvalidRequest(f"The page returned {resp.status} ({resp.reason}).",
                                             reason="fetch_failed")
                    kind = _kind(resp.headers.get("Content-Type", "text/html"))
                    if kind not in _ACCEPTED:
                        raise InvalidRequest(f"The page is {kind}, not a web page, text or PDF.",
                                             reason="unsupported_file")
                    body = await self._read(resp)
                    return Fetched(str(resp.url), "text/html" if kind == "application/xhtml+xml" else kind, body)
            raise InvalidRequest(f"The page redirected more than {MAX_REDIRECTS} times.", reason="fetch_failed")

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        too_large = InvalidRequest(f"The page is larger than the {self._max // 1024} KB limit.",
                                   reason="page_too_large")
        if resp.content_length is not None and resp.content_length > self._max:
            raise too_large
        body = bytearray()
        async for piece in resp.content.iter_chunked(65536):
            body += piece
            if len(body) > self._max:
                raise too_large  # stop reading: the rest is never downloaded
        return bytes(body)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False
