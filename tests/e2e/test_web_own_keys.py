"""Keys users bring, on the user centre page /web/me over real HTTP: saved through the same service as
PUT /api/v1/me/llm-keys (checked with the provider, shown by its last 4), deleted; a refused key or a form without
its CSRF token stores nothing."""
from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.test_llm_failover import failover_config
from tests.e2e.web_support import csrf_of_form, new_user, sign_in_by_link
from tests.fakes.openai_server import FakeOpenAI

OWN = "sk-alice-own-key-4242"


@pytest.fixture
async def backup():
    async with FakeOpenAI(api_key="sk-backup", models=["backup-model"]) as fake:
        yield fake


@pytest.fixture
async def site(start_app, tmp_path, fake_llm, backup):
    running = await start_app(failover_config(tmp_path, fake_llm.base_url, backup.base_url))
    async with aiohttp.ClientSession(running.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        alice = await new_user(http)
        await sign_in_by_link(http, running, alice["user"]["id"])
        yield http, {"X-API-Key": alice["api_key"]}


async def _page(http, path: str = "/web/me", form: dict | None = None, lang: str = "en") -> tuple[int, str]:
    headers = {"Accept-Language": lang}
    if form is None:
        async with http.get(path, headers=headers) as r:
            return r.status, await r.text()
    async with http.post(path, data=form, headers=headers) as r:
        return r.status, await r.text()


async def _keys(http, key) -> list[dict]:
    async with http.get("/api/v1/me/llm-keys", headers=key) as r:
        return (await r.json())["data"]


async def test_a_key_saved_on_the_page_is_checked_shown_by_its_last_4_and_deleted(site, fake_llm) -> None:
    http, key = site
    status, html = await _page(http)
    assert status == 200 and 'id="own-key-form"' in html
    assert '<option value="main">' in html and '<option value="backup">' in html
    fake_llm.keys.add(OWN)
    status, html = await _page(http, "/web/me/llm-keys",
                               {"csrf_token": csrf_of_form(html), "provider": "main", "api_key": OWN})
    assert status == 200 and "Your key for main is saved (…4242)." in html
    assert '<code class="own-key-hint">…4242</code>' in html and OWN not in html
    assert fake_llm.authorizations[-1] == OWN                      # checked with the provider
    assert [(k["provider"], k["api_key"]) for k in await _keys(http, key)] == [("main", "…4242")]
    status, html = await _page(http, lang="zh")
    assert "自带模型密钥" in html and "…4242" in html and OWN not in html
    status, html = await _page(http, "/web/me/llm-keys/main/delete", {"csrf_token": csrf_of_form(html)}, "zh")
    assert status == 200 and "已删除您在 main 的密钥。" in html and "…4242" not in html
    assert await _keys(http, key) == []


async def test_a_refused_key_and_a_form_without_csrf_store_nothing(site, fake_llm) -> None:
    http, key = site
    _, html = await _page(http)
    token = csrf_of_form(html)
    status, html = await _page(http, "/web/me/llm-keys", {"csrf_token": token, "provider": "main",
                                                          "api_key": "sk-not-a-key-9999"})
    assert status == 400 and "main did not accept this key" in html and "9999" not in html
    status, html = await _page(http, "/web/me/llm-keys", {"csrf_token": token, "provider": "main", "api_key": "x y"})
    assert status == 400 and "did not accept this key" in html
    fake_llm.keys.add(OWN)
    for form in ({}, {"csrf_token": "wrong"}):
        status, _ = await _page(http, "/web/me/llm-keys", {**form, "provider": "main", "api_key": OWN})
        assert status == 403
    status, _ = await _page(http, "/web/me/llm-keys/nobody/delete", {"csrf_token": token})
    assert status == 404
    assert await _keys(http, key) == []
