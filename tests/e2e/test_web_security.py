"""Attacks on the /web pages over real HTTP from the real app: session fixation, CSRF, open redirects, a replayed
sign-in link, another user's conversation; and the strict CSP on every page."""
from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.test_landing_pages import assert_strict_page
from tests.e2e.web_support import csrf_of, new_user, sign_in_by_link


@pytest.fixture
async def site(start_app, config):
    running = await start_app(config)
    jar = aiohttp.CookieJar(unsafe=True)   # cookies for 127.0.0.1
    async with aiohttp.ClientSession(running.base_url, cookie_jar=jar) as http:
        yield running, http


def session_cookie(http: aiohttp.ClientSession) -> str | None:
    found = [c.value for c in http.cookie_jar if c.key == "bot_session"]
    return found[0] if found else None


async def test_session_fixation_a_session_id_from_before_sign_in_is_not_the_one_after(site) -> None:
    running, http = site
    alice = await new_user(http)
    async with http.get("/web/login") as r:
        assert r.status == 200
        cookie = r.cookies["bot_session"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
    before = session_cookie(http)
    r = await sign_in_by_link(http, running, alice["user"]["id"])
    assert r.status == 303 and r.headers["Location"] == "/web/chat"
    after = session_cookie(http)
    assert after and after != before
    async with http.get("/web/me", allow_redirects=False) as r:
        assert r.status == 200 and alice["user"]["name"] in await r.text()
    # The id planted before sign-in signs nobody in: an attacker who set it gains nothing.
    async with aiohttp.ClientSession(running.base_url, cookies={"bot_session": before}) as attacker:
        async with attacker.get("/web/me", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/web/login")


async def test_a_planted_unknown_session_id_is_replaced_at_sign_in(site) -> None:
    running, http = site
    alice = await new_user(http)
    planted = "attacker-chosen-session-id-0123456789"
    http.cookie_jar.update_cookies({"bot_session": planted})
    r = await sign_in_by_link(http, running, alice["user"]["id"])
    assert r.cookies["bot_session"].value not in ("", planted)
    async with aiohttp.ClientSession(running.base_url, cookies={"bot_session": planted}) as attacker:
        async with attacker.get("/web/me", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/web/login")


async def test_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(site) -> None:
    running, http = site
    alice = await new_user(http)
    key = {"X-API-Key": alice["api_key"]}
    await sign_in_by_link(http, running, alice["user"]["id"])
    async with http.post("/api/v1/conversations", json={"title": "keep me"}, headers=key) as r:
        conversation = await r.json()
    for form in ({}, {"csrf_token": "wrong"}):
        async with http.post("/web/me/api-key", data=form) as r:
            assert r.status == 403
            assert "new-key" not in await r.text()
        async with http.post(f"/web/chat/{conversation['id']}/delete", data=form, allow_redirects=False) as r:
            assert r.status == 403
        async with http.post("/web/lang", data={**form, "locale": "zh"}, allow_redirects=False) as r:
            assert r.status == 403
    # Nothing happened: the API key was not rotated, the conversation is there, the language is unchanged.
    async with http.get("/api/v1/me", headers=key) as r:
        assert r.status == 200
    async with http.get(f"/api/v1/conversations/{conversation['id']}", headers=key) as r:
        assert r.status == 200
    assert (await running.services.accounts.get(alice["user"]["id"])).locale is None
    # The JSON API takes the session only with its CSRF token: a cookie alone is no credential, a wrong token 403.
    async with http.get("/api/v1/me") as r:
        assert r.status == 401
    async with http.get("/api/v1/me", headers={"X-CSRF-Token": "wrong"}) as r:
        assert r.status == 403
    async with http.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "hi"},
                         headers={"X-CSRF-Token": "wrong"}) as r:
        assert r.status == 403
    async with http.get("/web/me") as r:
        token = csrf_of(await r.text())
    async with http.get("/api/v1/me", headers={"X-CSRF-Token": token}) as r:
        assert r.status == 200 and (await r.json())["id"] == alice["user"]["id"]


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil.example", "/%5Cevil.example",
                                    "http:/evil.example", "/api/v1/me", " //evil.example", "javascript:alert(1)"])
async def test_next_never_leads_off_our_pages(site, target) -> None:
    running, http = site
    alice = await new_user(http)
    r = await sign_in_by_link(http, running, alice["user"]["id"], next_path=aiohttp.helpers.quote(target, safe=""))
    assert r.status == 303 and r.headers["Location"] == "/web/chat"
    async with http.get("/web/me") as page:
        token = csrf_of(await page.text())
    async with http.post("/web/lang", data={"csrf_token": token, "locale": "en", "next": target},
                         allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/web/chat"


async def test_next_to_one_of_our_pages_is_kept(site) -> None:
    running, http = site
    alice = await new_user(http)
    r = await sign_in_by_link(http, running, alice["user"]["id"], next_path="/web/me")
    assert r.headers["Location"] == "/web/me"


async def test_a_sign_in_link_works_once(site) -> None:
    running, http = site
    alice = await new_user(http)
    link = await running.services.sign_in.issue(alice["user"]["id"])
    token = link.url.split("token=", 1)[1]
    assert link.url.startswith("http://127.0.0.1:8080/web/login/link?token=")
    async with http.get("/web/login") as r:
        csrf = csrf_of(await r.text())
    async with http.post("/web/login/link", data={"csrf_token": csrf, "token": token}, allow_redirects=False) as r:
        assert r.status == 303
    async with aiohttp.ClientSession(running.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        async with other.get("/web/login") as r:
            csrf = csrf_of(await r.text())
        async with other.post("/web/login/link", data={"csrf_token": csrf, "token": token},
                              allow_redirects=False) as r:
            assert r.status == 401 and "/web/login/link" not in r.headers.get("Location", "")
        async with other.get("/web/me", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/web/login")


async def test_another_users_conversation_is_a_404_page(site) -> None:
    running, http = site
    alice, bob = await new_user(http, "alice"), await new_user(http, "bob")
    async with http.post("/api/v1/conversations", json={"title": "bob's"}, headers={"X-API-Key": bob["api_key"]}) as r:
        theirs = await r.json()
    await sign_in_by_link(http, running, alice["user"]["id"])
    async with http.get(f"/web/chat/{theirs['id']}") as r:
        assert r.status == 404 and "bob's" not in await r.text()
    async with http.get("/web/me") as r:
        token = csrf_of(await r.text())
    async with http.post(f"/web/chat/{theirs['id']}/delete", data={"csrf_token": token}) as r:
        assert r.status == 404
    async with http.get(f"/api/v1/conversations/{theirs['id']}", headers={"X-API-Key": bob["api_key"]}) as r:
        assert r.status == 200


async def test_every_page_sends_the_strict_csp(site) -> None:
    running, http = site
    alice = await new_user(http)
    async with http.get("/web/login") as r:
        assert_strict_page(r, await r.text())
        assert "form-action 'self'" in r.headers["Content-Security-Policy"]
    link = await running.services.sign_in.issue(alice["user"]["id"])
    async with http.get(link.url.split("8080", 1)[1]) as r:
        assert_strict_page(r, await r.text())
    await sign_in_by_link(http, running, alice["user"]["id"])
    async with http.post("/api/v1/conversations", json={"title": "t"}, headers={"X-API-Key": alice["api_key"]}) as r:
        conversation = await r.json()
    for path in ("/web/chat/" + conversation["id"], "/web/me"):
        async with http.get(path) as r:
            assert_strict_page(r, await r.text())
    async with http.get("/web/chat/no-such-conversation") as r:
        assert r.status == 404 and "default-src 'none'" in r.headers["Content-Security-Policy"]
    async with http.get("/web/static/chat.js") as r:
        assert r.status == 200 and r.content_type == "text/javascript"
    async with http.get("/web/static/..%2Fbase.py") as r:
        assert r.status == 404
