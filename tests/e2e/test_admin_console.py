"""The operator console over real HTTP: sign-in with an admin key, CSRF on every POST, expiry, grants and blocks
that the ledger, the API and the audit log then show."""
from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest

from tests.conftest import make_config
from tests.e2e.test_landing_pages import assert_strict_page
from tests.e2e.web_support import csrf_of, new_user

ADMIN_KEY = "admin-key"


@pytest.fixture
async def console(start_app, tmp_path, fake_llm):
    running = await start_app(make_config(tmp_path, fake_llm.base_url))
    async with aiohttp.ClientSession(running.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield running, http


async def sign_in(http: aiohttp.ClientSession, key: str = ADMIN_KEY, next_path: str = "") -> aiohttp.ClientResponse:
    async with http.get("/admin/login") as r:
        html = await r.text()
    async with http.post("/admin/login", data={"csrf_token": csrf_of(html), "key": key, "next": next_path},
                         allow_redirects=False) as r:
        await r.read()
        return r


async def page(http: aiohttp.ClientSession, path: str) -> tuple[int, str]:
    async with http.get(path, allow_redirects=False) as r:
        return r.status, await r.text()


async def post(http: aiohttp.ClientSession, path: str, data: dict, from_page: str) -> aiohttp.ClientResponse:
    _, html = await page(http, from_page)
    async with http.post(path, data={"csrf_token": csrf_of(html), **data}, allow_redirects=False) as r:
        await r.read()
        return r


async def test_the_console_needs_an_admin_key_and_a_wrong_one_signs_nobody_in(console) -> None:
    running, http = console
    status, _ = await page(http, "/admin/users")
    assert status == 303
    r = await sign_in(http, "not-the-key")
    assert r.status == 200 and "Set-Cookie" not in r.headers
    assert (await page(http, "/admin/users"))[0] == 303
    r = await sign_in(http, next_path="/admin/health")
    assert r.status == 303 and r.headers["Location"] == "/admin/health"
    async with http.get("/admin/health") as resp:
        assert resp.status == 200
        assert_strict_page(resp, await resp.text())
    entries = await running.services.admin.audit.list(10, action="admin.sign_in")
    assert len(entries.items) == 1 and entries.items[0].actor.startswith("admin:")
    assert ADMIN_KEY not in str(entries.items[0].actor)


async def test_a_user_session_or_the_user_api_key_is_not_an_admin_session(console) -> None:
    running, http = console
    alice = await new_user(http)
    async with http.get("/admin/users", headers={"X-API-Key": alice["api_key"]}, allow_redirects=False) as r:
        assert r.status == 303
    r = await sign_in(http, alice["api_key"])
    assert r.status == 200
    assert (await page(http, "/admin/users"))[0] == 303


async def test_grant_and_deduct_with_a_reason_show_in_the_balance_ledger_and_audit_log(console) -> None:
    running, http = console
    made = await new_user(http)
    alice = made["user"]
    await sign_in(http)
    where = f"/admin/users/{alice['id']}"
    r = await post(http, where + "/adjust", {"direction": "grant", "tokens": "250", "reason": "apology"}, where)
    assert r.status == 303
    r = await post(http, where + "/adjust", {"direction": "deduct", "tokens": "50", "reason": "typo"}, where)
    _, html = await page(http, where)
    assert re.search(r'id="balance">1200<', html)       # 1000 signup + 250 - 50
    async with http.get("/api/v1/me/ledger", headers={"X-API-Key": made["api_key"]}) as r:
        entries = (await r.json())["data"]
    assert sorted((e["kind"], e["amount"], e["ref"]) for e in entries if e["kind"] == "adjustment") == [
        ("adjustment", -50, "typo"), ("adjustment", 250, "apology")]
    audit = (await running.services.admin.audit.list(10, action="ledger.adjust")).items
    assert [(e.before["balance"], e.after["balance"]) for e in audit] == [(1250, 1200), (1000, 1250)]
    # A reason is required: nothing is posted without one.
    r = await post(http, where + "/adjust", {"direction": "grant", "tokens": "5", "reason": " "}, where)
    assert r.status == 400
    assert len((await running.services.queries.ledger(alice["id"], 10, None)).items) == 3


async def test_every_console_post_without_the_csrf_token_is_refused_and_changes_nothing(console) -> None:
    running, http = console
    alice = (await new_user(http))["user"]
    await sign_in(http)
    where = f"/admin/users/{alice['id']}"
    for path, data in [(where + "/adjust", {"direction": "grant", "tokens": "999", "reason": "csrf"}),
                       (where + "/block", {"blocked": "1"}),
                       ("/admin/roles", {"name": "evil", "system_prompt": "x"}),
                       ("/admin/logout", {})]:
        for token in (None, "wrong-token"):
            form = dict(data, **({"csrf_token": token} if token else {}))
            async with http.post(path, data=form, allow_redirects=False) as r:
                assert r.status == 403, path
                assert 'data-reason="csrf_failed"' in await r.text()
    user = await running.services.accounts.get(alice["id"])
    assert user.balance == 1000 and not user.blocked
    assert await running.services.repos.roles.get("evil") is None
    assert (await page(http, "/admin/users"))[0] == 200    # still signed in: the logout was refused too


async def test_a_console_session_expires(start_app, tmp_path, fake_llm) -> None:
    running = await start_app(make_config(tmp_path, fake_llm.base_url, security={
        "admin_api_keys": [ADMIN_KEY], "token_secret": "t" * 32, "admin_session_seconds": 1}))
    async with aiohttp.ClientSession(running.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        signed_at = time.time()
        await sign_in(http)
        if time.time() - signed_at < 0.9:
            assert (await page(http, "/admin/users"))[0] == 200
        while time.time() < signed_at + 1.1:    # the wall clock passes the sign-in's end (no scheduler involved)
            await asyncio.sleep(0.1)
        status, _ = await page(http, "/admin/users")
        assert status == 303


async def test_a_blocked_user_gets_403_user_blocked_from_the_api_until_unblocked(console) -> None:
    running, http = console
    alice = await new_user(http)
    key = {"X-API-Key": alice["api_key"]}
    await sign_in(http)
    where = f"/admin/users/{alice['user']['id']}"
    assert (await post(http, where + "/block", {"blocked": "1"}, where)).status == 303
    async with http.post("/api/v1/conversations", json={}, headers=key) as r:
        body = await r.json()
        assert r.status == 403 and body["error"]["reason"] == "user_blocked"
    async with http.get("/api/v1/me", headers=key) as r:
        assert r.status == 403
    assert (await post(http, where + "/block", {"blocked": "0"}, where)).status == 303
    async with http.get("/api/v1/me", headers=key) as r:
        assert r.status == 200
    actions = [e.action for e in (await running.services.admin.audit.list(10, target=f"user:{alice['user']['id']}")).items]
    assert actions == ["user.unblock", "user.block", "user.create"]   # created over the API with the admin key
