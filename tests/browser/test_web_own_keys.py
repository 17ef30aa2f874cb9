"""Keys users bring, in a real browser on /web/me: the form saves a key (checked with the provider), the page shows
its last 4 only, Delete removes it; on a 375 px phone nothing scrolls sideways. Screenshots: me-own-keys-*."""
from __future__ import annotations

import pytest

from tests.e2e.test_llm_failover import failover_config
from tests.fakes.openai_server import FakeOpenAI

OWN = "sk-alice-own-key-4242"


@pytest.fixture
async def backup():
    async with FakeOpenAI(api_key="sk-backup", models=["backup-model"]) as fake:
        yield fake


@pytest.mark.parametrize("phone", [False, True])
async def test_a_key_is_saved_shown_by_its_last_4_and_deleted(open_web_app, fake_llm, backup, tmp_path,
                                                              phone) -> None:
    web_app = await open_web_app(failover_config(tmp_path, fake_llm.base_url, backup.base_url))
    fake_llm.keys.add(OWN)
    alice = await web_app.new_user("alice")
    page = await web_app.new_page(phone=phone)
    await web_app.sign_in(page, alice["user"]["id"])
    await web_app.goto(page, "/web/me")
    await page.select_option("#own-key-form select[name=provider]", "main")
    await page.fill("#own-key-form input[name=api_key]", OWN)
    await page.click("#own-key-form button[type=submit]")
    await page.wait_for_selector("#own-key-notice")
    assert (await page.inner_text("#own-key-notice")).strip() == "Your key for main is saved (…4242)."
    assert await page.locator("code.own-key-hint").all_inner_texts() == ["…4242"]
    assert OWN not in await page.content()
    if phone:
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await page.locator("#own-keys").scroll_into_view_if_needed()
    await web_app.shoot(page, "me-own-keys")
    async with web_app.http.get("/api/v1/me/llm-keys/main", headers={"X-API-Key": alice["api_key"]}) as r:
        assert r.status == 200 and (await r.json())["api_key"] == "…4242"
    await page.click("#own-keys form[action='/web/me/llm-keys/main/delete'] button")
    await page.wait_for_selector("#own-key-notice")
    assert await page.locator("code.own-key-hint").count() == 0
    async with web_app.http.get("/api/v1/me/llm-keys/main", headers={"X-API-Key": alice["api_key"]}) as r:
        assert r.status == 404
