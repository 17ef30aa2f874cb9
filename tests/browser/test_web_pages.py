"""The /web pages in a real browser: sign in by a /web link, an answer that visibly streams, stop, 👍, rename and
delete, the API key shown once, the language switch, and a 375x667 phone. Screenshots go to docs/screenshots/."""
from __future__ import annotations

import asyncio

from tests.e2e.wechat_support import client_for, wechat_config
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)
from tests.fakes.openai_server import Script

ANSWER = "Hello there, this answer arrives in small pieces."


async def start_conversation(web_app, page) -> str:
    await page.click("#new-conversation")
    await page.wait_for_url("**/web/chat/*")
    return page.url.rsplit("/", 1)[1]


async def test_sign_in_by_web_link_then_switch_language(web_app) -> None:
    alice = await web_app.new_user("alice")
    page = await web_app.new_page()
    await web_app.goto(page, "/web/me")
    assert "/web/login" in page.url and "next=/web/me" in page.url
    await web_app.shoot(page, "login")
    await web_app.sign_in(page, alice["user"]["id"])
    assert page.url.endswith("/web/chat")
    await web_app.shoot(page, "chat-empty")
    await page.click("button[data-locale=zh]")
    await page.wait_for_selector("text=退出登录")
    assert await page.inner_text(".brand") == "对话助手"
    assert (await web_app.services.accounts.get(alice["user"]["id"])).locale == "zh"
    await page.click("button[data-locale=en]")
    await page.wait_for_selector("text=Sign out")


async def test_an_answer_streams_visibly_then_is_rated(web_app, fake_llm) -> None:
    gate = asyncio.Event()
    fake_llm.script(Script(reply=ANSWER, chunk_chars=5, gate=gate, gate_after=2))
    alice = await web_app.new_user("alice")
    page = await web_app.new_page()
    await web_app.sign_in(page, alice["user"]["id"])
    conversation_id = await start_conversation(web_app, page)
    await page.fill("#prompt", "Say hello")
    await page.press("#prompt", "Enter")
    # Two chunks arrived and the model is held at the gate: the page already shows them, still streaming.
    from playwright.async_api import expect   # here, so a machine without playwright skips (conftest)

    partial = page.locator(".msg.assistant.streaming .content")
    await partial.wait_for()
    await expect(page.locator(".msg.assistant.streaming .content")).to_have_text("Hello ther")
    assert await page.is_visible("#stop")
    await web_app.shoot(page, "chat-streaming")
    gate.set()
    await page.wait_for_selector(".msg.assistant[data-status=complete] button.rate")
    assert await page.inner_text(".msg.assistant .content") == ANSWER
    assert not await page.is_visible("#stop")
    await page.click(".msg.assistant button.rate[data-rating='1']")
    await page.wait_for_selector(".msg.assistant button.rate[data-rating='1'][aria-pressed=true]")
    mid = await page.get_attribute(".msg.assistant", "data-mid")
    stored = await web_app.services.repos.messages.get(mid)
    assert stored.feedback == 1 and stored.content == ANSWER and stored.conversation_id == conversation_id
    await page.reload()   # the thread as the server renders it: both messages, the rating kept
    await page.wait_for_selector(".msg.assistant button.rate[data-rating='1'][aria-pressed=true]")
    assert await page.inner_text(".msg.user .content") == "Say hello"
    await web_app.shoot(page, "chat")


async def test_stop_keeps_what_was_generated(web_app, fake_llm) -> None:
    gate = asyncio.Event()
    fake_llm.script(Script(reply=ANSWER, chunk_chars=5, gate=gate, gate_after=2))
    alice = await web_app.new_user("alice")
    page = await web_app.new_page()
    await web_app.sign_in(page, alice["user"]["id"])
    await start_conversation(web_app, page)
    await page.fill("#prompt", "Say hello")
    await page.click("#send")
    from playwright.async_api import expect

    await expect(page.locator(".msg.assistant.streaming .content")).to_have_text("Hello ther")
    await page.click("#stop")
    await page.wait_for_selector(".msg.assistant[data-status=cancelled] .status")
    assert await page.inner_text(".msg.assistant .status") == "(stopped)"
    mid = await page.get_attribute(".msg.assistant", "data-mid")
    stored = await web_app.services.repos.messages.get(mid)
    assert stored.status == "cancelled" and stored.content == "Hello ther"
    gate.set()
    assert await page.is_enabled("#send")


async def test_rename_then_delete_a_conversation(web_app) -> None:
    alice = await web_app.new_user("alice")
    page = await web_app.new_page()
    await web_app.sign_in(page, alice["user"]["id"])
    conversation_id = await start_conversation(web_app, page)
    await page.fill("#rename-form input[name=title]", "Trip to Hangzhou")
    await page.click("#rename-form button")
    await page.wait_for_selector(".conversations a[aria-current=page] >> text=Trip to Hangzhou")
    assert await page.inner_text("#conversation-title") == "Trip to Hangzhou"
    conversation = await web_app.services.conversations.get(alice["user"]["id"], conversation_id)
    assert conversation.title == "Trip to Hangzhou"
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("#delete-form button")
    await page.wait_for_url("**/web/chat")
    assert await page.locator(".conversations li").count() == 0
    assert list((await web_app.services.conversations.list(alice["user"]["id"])).items) == []


async def test_an_api_key_is_shown_once_and_works(web_app) -> None:
    alice = await web_app.new_user("alice")
    page = await web_app.new_page()
    await web_app.sign_in(page, alice["user"]["id"])
    await web_app.goto(page, "/web/me")
    await page.click("#create-key")
    key = (await page.inner_text("#new-key")).strip()
    await web_app.shoot(page, "me-new-key")
    async with web_app.http.get("/api/v1/me", headers={"X-API-Key": key}) as r:
        assert r.status == 200 and (await r.json())["id"] == alice["user"]["id"]
    async with web_app.http.get("/api/v1/me", headers={"X-API-Key": alice["api_key"]}) as r:
        assert r.status == 401   # the new key replaced the old one
    await web_app.goto(page, "/web/me")
    assert await page.locator("#new-key").count() == 0 and key not in await page.content()
    await web_app.shoot(page, "me")


async def test_a_375_px_phone_signs_in_chats_and_sees_its_account(web_app, fake_llm) -> None:
    alice = await web_app.new_user("alice")
    page = await web_app.new_page(phone=True)
    await web_app.goto(page, "/web/login")
    await web_app.shoot(page, "login")
    await web_app.sign_in(page, alice["user"]["id"])
    await start_conversation(web_app, page)
    await page.fill("#prompt", "Hello from a phone")
    await page.click("#send")
    await page.wait_for_selector(".msg.assistant[data-status=complete]")
    assert await page.inner_text(".msg.assistant .content") == "Echo: Hello from a phone"
    from playwright.async_api import expect

    # Started without a title, the conversation is named after its first exchange, in place.
    await expect(page.locator("#conversation-title")).to_have_text("Hello from a phone")
    await expect(page.locator(".conversations a[aria-current=page]")).to_have_text("Hello from a phone")
    await web_app.shoot(page, "chat")
    for path in ("/web/chat", "/web/me"):
        await web_app.goto(page, path)
        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375, path
    await web_app.shoot(page, "me")


async def test_sign_in_by_scanning_the_wechat_qr_and_confirming(open_web_app, fake_llm, wx, tmp_path) -> None:
    web_app = await open_web_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(web_app.running, wx)
    page = await web_app.new_page()
    await web_app.goto(page, "/web/login?next=/web/me")
    await page.wait_for_selector("#qr-image[src^='data:image/png;base64,']")
    assert len(wx.qrcodes) == 1
    ticket, created = next(iter(wx.qrcodes.items()))
    scene = created["action_info"]["scene"]["scene_str"]
    await client.post(client.event("o-web", "SCAN", scene, ticket=ticket))
    await page.wait_for_selector("text=Scanned. Reply 确认 (confirm) in WeChat to finish signing in.")
    await web_app.shoot(page, "login-qr")
    assert "/web/login" in page.url   # scanning alone signs nobody in
    await client.post(client.text("o-web", "确认"))
    await page.wait_for_url("**/web/me")
    assert "o-web" in await page.inner_text("#identities")


async def test_an_answer_lists_its_sources_in_chinese(web_app) -> None:
    from bot.knowledge import knowledge_of
    from tests.fakes import rag_corpus as corpus

    alice = await web_app.new_user("alice")
    async with web_app.http.post("/api/v1/resources", headers={"X-API-Key": alice["api_key"]},
                                 json={"name": "Tower notes", "source": "text", "content": corpus.EIFFEL_MD,
                                       "format": "markdown"}) as r:
        assert r.status == 202
        resource = await r.json()
    await knowledge_of(web_app.services).service.wait(resource["id"])
    page = await web_app.new_page(locale="zh-CN")     # the browser asks for Chinese: the pages answer in it
    await web_app.sign_in(page, alice["user"]["id"])
    assert await page.inner_text("#new-conversation") == "新对话"
    await start_conversation(web_app, page)
    await page.fill("#prompt", "How tall is the Eiffel Tower?")
    await page.click("#send")
    await page.wait_for_selector(".msg.assistant[data-status=complete] .sources li")
    assert "Tower notes" in await page.inner_text(".msg.assistant .sources")
    mid = await page.get_attribute(".msg.assistant", "data-mid")
    stored = await web_app.services.repos.messages.get(mid)
    assert [c.title for c in stored.citations][:1] == ["Tower notes"]
    await page.reload()
    assert "Tower notes" in await page.inner_text(".msg.assistant .sources")
    await web_app.shoot(page, "chat-sources-zh")
