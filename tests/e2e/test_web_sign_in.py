"""Signing in on /web from a chat: `/web` in WeChat answers a one-time link on server.public_url that signs the
sender in once; a `/link` code works on the sign-in page too. Real HTTP, the fake WeChat, the real app."""
from __future__ import annotations

import re

import aiohttp
import pytest

from core.domain import Identity
from tests.e2e.web_support import csrf_of, field_of
from tests.e2e.wechat_support import client_for, wechat_config
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)


@pytest.fixture
async def wechat_site(wx, start_app, fake_llm, tmp_path):
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    async with aiohttp.ClientSession(running.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield running, http, client_for(running, wx)


async def press_link(http: aiohttp.ClientSession, path: str) -> aiohttp.ClientResponse:
    async with http.get(path) as r:
        html = (await r.text())
    html = html[html.index('id="link-form"'):]
    form = {name: field_of(html, name) for name in ("csrf_token", "token", "next")}
    async with http.post("/web/login/link", data=form, allow_redirects=False) as r:
        await r.read()
        return r


async def test_web_in_wechat_answers_a_link_that_signs_the_sender_in_once(wechat_site, wx) -> None:
    running, http, client = wechat_site
    await client.post(client.text("o-alice", "/web"))
    sent = (await wx.wait_sent("o-alice", 1))[-1]
    url = re.search(r"https?://\S+", sent).group(0)
    assert url.startswith("http://127.0.0.1:8080/web/login/link?token=")   # server.public_url, absolute
    path = url.removeprefix("http://127.0.0.1:8080")
    r = await press_link(http, path)
    assert r.status == 303 and r.headers["Location"] == "/web/chat"
    async with http.get("/web/me") as page:
        html = await page.text()
    alice = await running.services.accounts.ensure_user(Identity("wechat", "o-alice"))
    assert page.status == 200 and "o-alice" in html and alice.name in html
    async with aiohttp.ClientSession(running.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        r = await press_link(other, path)     # the same link again: refused, nobody signed in
        assert r.status == 401
        async with other.get("/web/me", allow_redirects=False) as page:
            assert page.status == 303


async def test_a_link_code_signs_in_on_the_page(wechat_site, wx) -> None:
    running, http, client = wechat_site
    await client.post(client.text("o-bob", "/link"))
    code = re.search(r"\b[A-Z0-9]{6,8}\b", (await wx.wait_sent("o-bob", 1))[-1]).group(0)
    async with http.get("/web/login?next=/web/me") as r:
        html = await r.text()
    async with http.post("/web/login/code", data={"csrf_token": csrf_of(html), "code": "WRONG1",
                                                  "next": "/web/me"}, allow_redirects=False) as r:
        assert r.status in (400, 401, 404) and "Could not sign in" in await r.text()
    async with http.post("/web/login/code", data={"csrf_token": csrf_of(html), "code": code.lower(),
                                                  "next": "/web/me"}, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/web/me"
    async with http.get("/web/me") as r:
        assert "o-bob" in await r.text()
