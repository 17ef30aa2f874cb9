"""SSRF: a user's web-page URL reaches only globally routable addresses, vetted after name resolution and
again when connecting. Names are answered by a stand-in resolver given to the fetcher; nothing leaves 127.0.0.1."""
from __future__ import annotations

import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from adapters.storage.models_rag import ResourceRow
from bot.knowledge import knowledge_of
from core.knowledge_ports import Viewer
from tests.conftest import make_config
from tests.e2e.test_rag_api import ADMIN, new_user
from tests.fakes.local import serve_local

# Answered only by the stand-in resolver, never by real DNS, and never connected to (it would be refused or,
# in the rebinding case, is re-resolved to loopback before any connection).
GLOBAL_ADDRESS = "192.0.0.9"
OPERATOR = Viewer(None, is_admin=True)


class StandInResolver(AbstractResolver):
    """Answers names from a table; a name may answer differently on each lookup (DNS rebinding)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        self.asked.append(host)
        answers = self.table.get(host)
        if not answers:
            raise OSError(f"stand-in resolver: no such name {host}")
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        fam = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [{"hostname": host, "host": address, "port": port, "family": fam, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        pass


class CountingPages:
    """A page on 127.0.0.1 that counts every request it gets."""

    def __init__(self) -> None:
        self.hits = 0

    async def _page(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(text="<html><head><title>Secret</title></head><body><p>internal admin notes "
                                 "about the quarterly numbers</p></body></html>", content_type="text/html")

    async def __aenter__(self) -> "CountingPages":
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._page)
        self._runner, self.base_url = await serve_local(app)
        self.port = int(self.base_url.rsplit(":", 1)[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


async def _post_url(http: aiohttp.ClientSession, base: str, headers: dict, url: str) -> tuple[int, dict]:
    async with http.post(base + "/api/v1/resources", json={"source": "website", "url": url},
                         headers=headers) as resp:
        return resp.status, await resp.json()


NON_GLOBAL = [
    "100.100.100.200",    # carrier NAT 100.64.0.0/10 (cloud metadata lives here)
    "169.254.169.254",    # link-local metadata
    "10.1.2.3", "127.0.0.1", "0.0.0.0", "224.0.0.1",
    "2002:7f00:1::",      # 6to4 wrapping 127.0.0.1
    "2002:6464:64c8::1",  # 6to4 wrapping 100.100.100.200
    "fec0::1",            # deprecated site-local
    "::ffff:127.0.0.1",   # IPv4-mapped loopback
    "::127.0.0.1",        # IPv4-compatible loopback
    "64:ff9b::a00:1",     # NAT64 wrapping 10.0.0.1
    "64:ff9b:1::1",       # local-use NAT64
    "fd00::1", "fe80::1", "::1", "ff0e::1",
]


@pytest.mark.parametrize("address", NON_GLOBAL)
async def test_a_users_url_to_a_non_global_address_is_refused(start_app, config, address: str) -> None:
    running = await start_app(config)
    resolver = StandInResolver({"evil.example": [address]})
    knowledge_of(running.services).fetcher.resolver = resolver
    literal = f"[{address}]" if ":" in address else address
    async with aiohttp.ClientSession() as http:
        user_id, alice = await new_user(http, running.base_url, "alice")
        for url in ("http://evil.example/latest/meta-data/", f"http://{literal}/latest/meta-data/"):
            status, body = await _post_url(http, running.base_url, alice, url)
            assert (status, body["error"]["reason"]) == (400, "private_address"), (url, body)
    assert resolver.asked == ["evil.example"]  # the name was resolved, then its answer refused
    assert await ResourceRow.filter(owner_id=user_id).count() == 0


async def test_dns_rebinding_between_check_and_fetch_reaches_nothing(start_app, config) -> None:
    async with CountingPages() as pages:
        running = await start_app(config)
        # First lookup (the check when the URL is added) says global; the next (the fetch) says loopback.
        resolver = StandInResolver({"rebind.example": [GLOBAL_ADDRESS, "127.0.0.1"]})
        knowledge_of(running.services).fetcher.resolver = resolver
        kb = knowledge_of(running.services).service
        async with aiohttp.ClientSession() as http:
            user_id, alice = await new_user(http, running.base_url, "alice")
            status, body = await _post_url(http, running.base_url, alice, f"http://rebind.example:{pages.port}/x")
            assert status == 202, body
            await kb.wait(body["id"])
            async with http.get(f"{running.base_url}/api/v1/resources/{body['id']}", headers=alice) as resp:
                final = await resp.json()
        assert (final["status"], final["error_reason"]) == ("failed", "private_address")
        assert resolver.asked == ["rebind.example", "rebind.example"]
        assert pages.hits == 0  # the loopback server was never contacted
        assert final["chunks"] == 0 and (await running.services.accounts.get(user_id)).storage_used_bytes == 0


async def test_admin_may_use_any_address_and_the_opt_out_still_works(start_app, tmp_path, fake_llm) -> None:
    async with CountingPages() as pages:
        for allow in (False, True):
            cfg = make_config(tmp_path / str(allow), fake_llm.base_url, rag={"allow_private_urls": allow})
            running = await start_app(cfg)
            knowledge_of(running.services).fetcher.resolver = StandInResolver({"intranet.example": ["127.0.0.1"]})
            kb = knowledge_of(running.services).service
            url = f"http://intranet.example:{pages.port}/handbook"
            async with aiohttp.ClientSession() as http:
                _, alice = await new_user(http, running.base_url, "alice")
                status, body = await _post_url(http, running.base_url, alice, url)
                if allow:
                    assert status == 202, body
                    await kb.wait(body["id"])
                    assert (await kb.get(OPERATOR, body["id"])).status == "ready"
                else:
                    assert (status, body["error"]["reason"]) == (400, "private_address")
                status, body = await _post_url(http, running.base_url, ADMIN, url + f"?{allow}")
                assert status == 202, body
                await kb.wait(body["id"])
                assert (await kb.get(OPERATOR, body["id"])).status == "ready"
        assert pages.hits == 3  # the admin twice, the user only when the operator opted out


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:1\\@example.com/",
    "http://example.com\\@127.0.0.1/",
    "http://user:secret@example.com/",
    "http://[::1/",
    "http://example.com:99999/",
    "http://exa mple.com/",
    "ftp://example.com/file",
])
async def test_url_parse_oddities_are_a_clear_400(start_app, config, url: str) -> None:
    running = await start_app(config)
    resolver = StandInResolver({})
    knowledge_of(running.services).fetcher.resolver = resolver
    async with aiohttp.ClientSession() as http:
        user_id, alice = await new_user(http, running.base_url, "alice")
        for headers in (alice, ADMIN):
            status, body = await _post_url(http, running.base_url, headers, url)
            assert (status, body["error"]["reason"]) == (400, "invalid_url"), body
            assert "correlationId" in body
    assert resolver.asked == [] and await ResourceRow.all().count() == 0
