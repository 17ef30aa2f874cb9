"""PageFetcher: GET a web page with aiohttp within size, time and redirect limits; users' pages only from
globally routable addresses, vetted after name resolution and at every redirect hop."""
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
RESOLVE_SECONDS = 10
_ACCEPTED = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown", "application/pdf")
# IPv6 ranges `is_global` (Python 3.11) still calls global although nothing public lives there:
# deprecated site-local, local-use NAT64, IPv4-compatible (::a.b.c.d) and multicast.
_NOT_GLOBAL_V6 = tuple(ipaddress.IPv6Network(n) for n in ("fec0::/10", "64:ff9b:1::/48", "::/96", "ff00::/8"))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_global(address: str) -> bool:
    """True when the address is globally routable: never loopback, private, carrier NAT (100.64.0.0/10),
    link-local, site-local, multicast, reserved, nor an IPv6 form wrapping a non-global IPv4 address
    (IPv4-mapped, 6to4 2002::/16, NAT64 64:ff9b::/96, Teredo)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    except ValueError:
        return False
    if ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None or any(ip in net for net in _NOT_GLOBAL_V6):
            return False
        wrapped = ip.ipv4_mapped or ip.sixtofour
        if wrapped is None and ip in _NAT64:
            wrapped = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if wrapped is not None and not is_global(str(wrapped)):
            return False
    return ip.is_global


class NotGlobalAddress(OSError):
    """A name that resolves to no globally routable address (raised inside the connector)."""


def _refused(host: str) -> InvalidRequest:
    return InvalidRequest(f"The address {host} is private or local; only public web pages can be added.",
                          reason="private_address")


class _GlobalOnlyResolver(AbstractResolver):
    """Hands the connector only vetted addresses, so the connection goes to exactly what was checked
    (no DNS rebinding between the check and the connect)."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        answers = await self._inner.resolve(host, port, family)
        vetted = [a for a in answers if is_global(a["host"])]
        if not vetted:
            raise NotGlobalAddress(f"{host} resolves only to private or local addresses")
        return vetted

    async def close(self) -> None:
        """The inner resolver belongs to the PageFetcher (or to the fetch that made it)."""


def _kind(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse_url(url: str) -> URL:
    """An absolute http(s) URL without user info, or InvalidRequest (never a parser's ValueError)."""
    bad = InvalidRequest(f"The URL {url[:200]!r} is not a valid http(s) address.", reason="invalid_url")
    if any(c == "\\" or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise bad  # parsers disagree on these (`http://127.0.0.1:1\@example.com/`), so none is accepted
    try:
        target = URL(url)
        host, _ = target.host, target.port
    except (ValueError, TypeError, UnicodeError):
        raise bad from None
    if target.scheme not in ("http", "https") or not host:
        raise bad
    if target.user is not None or target.password is not None:
        raise InvalidRequest("The URL must not carry a user name or password.", reason="invalid_url")
    return target


class PageFetcher:
    """`resolver` turns names into addresses (aiohttp's resolver interface); None is the system's. Users'
    URLs connect only to the globally routable addresses it answers."""

    def __init__(self, *, max_bytes: int, timeout_seconds: float, user_agent: str = "chatbot-platform/knowledge-base",
                 resolver: AbstractResolver | None = None, accept: tuple[str, ...] = _ACCEPTED):
        self._max = max_bytes
        self._accept = accept  # the content types fetched (others: unsupported_file); images for chat files
        self._timeout = timeout_seconds
        self._agent = user_agent
        self.resolver = resolver

    async def check(self, url: str, allow_private: bool) -> None:
        target = parse_url(url)
        if allow_private:
            return
        host = target.host or ""
        if _is_ip(host):
            if not is_global(host):
                raise _refused(host)
            return
        inner = self.resolver or DefaultResolver()
        try:
            await asyncio.wait_for(_GlobalOnlyResolver(inner).resolve(host, target.port or 80, socket.AF_UNSPEC),
                                   RESOLVE_SECONDS)
        except NotGlobalAddress:
            raise _refused(host) from None
        except (OSError, asyncio.TimeoutError):
            raise InvalidRequest(f"The address {host} could not be resolved.", reason="fetch_failed") from None
        finally:
            if self.resolver is None:
                await inner.close()

    async def fetch(self, url: str, allow_private: bool) -> Fetched:
        inner = self.resolver or DefaultResolver()
        try:
            return await asyncio.wait_for(self._fetch(url, allow_private, inner), self._timeout)
        except asyncio.TimeoutError:
            raise InvalidRequest(f"The page did not answer within {self._timeout:g} seconds.",
                                 reason="fetch_timeout") from None
        finally:
            if self.resolver is None:
                await inner.close()

    async def _fetch(self, url: str, allow_private: bool, inner: AbstractResolver) -> Fetched:
        resolver = inner if allow_private else _GlobalOnlyResolver(inner)
        connector = aiohttp.TCPConnector(resolver=resolver, limit=2)
        async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": self._agent}) as http:
            for _ in range(MAX_REDIRECTS + 1):
                target = parse_url(url)  # every hop, redirects included
                host = target.host or ""
                if not allow_private and _is_ip(host) and not is_global(host):
                    raise _refused(host)  # IP literals skip the resolver, so check them here
                try:
                    async with http.get(target, allow_redirects=False) as resp:
                        if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                            url = urljoin(str(resp.url), resp.headers["Location"])
                            continue
                        return await self._page(resp)
                except aiohttp.ClientConnectorError as e:
                    if isinstance(e.os_error, NotGlobalAddress):
                        raise _refused(host) from None
                    raise _failed(e) from None
                except aiohttp.ClientError as e:
                    raise _failed(e) from None
            raise InvalidRequest(f"The page redirected more than {MAX_REDIRECTS} times.", reason="fetch_failed")

    async def _page(self, resp: aiohttp.ClientResponse) -> Fetched:
        if resp.status >= 400:
            raise InvalidRequest(f"The page returned {resp.status} ({resp.reason}).", reason="fetch_failed")
        kind = _kind(resp.headers.get("Content-Type", "text/html"))
        if kind not in self._accept:
            wanted = "a web page, text or PDF" if self._accept == _ACCEPTED else ", ".join(self._accept)
            raise InvalidRequest(f"The page is {kind}, not {wanted}.", reason="unsupported_file")
        body = await self._read(resp)
        return Fetched(str(resp.url), "text/html" if kind == "application/xhtml+xml" else kind, body)

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


def _failed(e: Exception) -> InvalidRequest:
    return InvalidRequest(f"The page could not be fetched ({e.__class__.__name__}: {e}).", reason="fetch_failed")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False
