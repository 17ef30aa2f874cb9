"""The operator console in a real browser: sign in with an admin key, a grant that the balance and ledger show, a
refund, a role changed without a restart and then used by the engine, charts drawn from real replies. Screenshots
(desktop and a 375x667 phone) go to docs/screenshots/admin-*.png."""
from __future__ import annotations

import aiohttp

from tests.browser.admin_support import accept_dialogs, admin_sign_in, open_user


async def _reply(web_app, api_key: str, text: str, role: str | None = None) -> dict:
    """A real reply through the API (the fake OpenAI answers), as a client program would get one."""
    key = {"X-API-Key": api_key}
    async with web_app.http.post("/api/v1/conversations", json={"role": role} if role else {}, headers=key) as r:
        conversation = await r.json()
        assert r.status == 201, conversation
    async with web_app.http.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"content": text},
                                 headers=key) as r:
        assert r.status in (200, 201), await r.text()
        return await r.json()


async def test_sign_in_then_a_grant_shows_in_the_balance_and_the_ledger(web_app) -> None:
    alice = await web_app.new_user("alice")
    for phone in (False, True):
        page = await web_app.new_page(phone=phone)
        await web_app.goto(page, "/admin/users")
        assert "/admin/login" in page.url
        await web_app.shoot(page, "admin-login")
        await page.fill("#key", "wrong-key")
        await page.click("#login-form button[type=submit]")
        await page.wait_for_selector("#login-error")
        await page.fill("#key", "admin-key")
        await page.click("#login-form button[type=submit]")
        await page.wait_for_url("**/admin/users")
        await page.wait_for_selector(f"tr[data-user-id='{alice['user']['id']}']")
        await web_app.shoot(page, "admin-users")
        await page.context.close()

    page = await web_app.new_page()
    await admin_sign_in(web_app, page)
    await open_user(web_app, page, "alice")
    assert await page.inner_text("#balance") == "1000"
    await page.select_option("#adjust-form select[name=direction]", "grant")
    await page.fill("#adjust-form input[name=tokens]", "300")
    await page.fill("#adjust-form input[name=reason]", "sorry for the outage")
    await page.click("#adjust-form button[type=submit]")
    await page.wait_for_selector("#balance:text('1300')")
    row = page.locator("#ledger-table tbody tr").first
    assert "adjustment" in await row.inner_text() and "sorry for the outage" in await row.inner_text()
    # The user sees it too, through their own API.
    async with web_app.http.get("/api/v1/me", headers={"X-API-Key": alice["api_key"]}) as r:
        assert (await r.json())["balance"] == 1300
    await web_app.shoot(page, "admin-user")
    phone = await web_app.new_page(phone=True)
    await admin_sign_in(web_app, phone)
    await open_user(web_app, phone, "alice")
    await web_app.shoot(phone, "admin-user")
    await web_app.goto(page, "/admin/audit")
    assert await page.locator("#audit tr[data-action='ledger.adjust']").count() == 1
    await web_app.shoot(page, "admin-audit")


async def test_a_paid_order_is_refunded_from_its_page(web_app) -> None:
    alice = await web_app.new_user("alice")
    user_id = alice["user"]["id"]
    orders = web_app.services.orders
    order = await orders.create(user_id, "starter")
    # WeChat Pay's notice, as the notify endpoint hands it to the order service once verified.
    await orders.settle_paid(order.id, "wechat_native", "4200000001", order.price_minor, "CNY")
    page = await web_app.new_page()
    asked = accept_dialogs(page)
    await admin_sign_in(web_app, page, "/admin/orders?status=paid")
    await page.click(f"#orders tr[data-order-id='{order.id}'] a")
    await page.wait_for_selector("#order[data-status=paid]")
    await web_app.shoot(page, "admin-order")
    await page.click("#refund")
    await page.wait_for_selector("#order[data-status=refunded]")
    assert asked and "5,000" in asked[0]      # the confirm names what is taken back
    assert (await web_app.services.orders.get(None, order.id)).status == "refunded"
    async with web_app.http.get("/api/v1/me/ledger", headers={"X-API-Key": alice["api_key"]}) as r:
        kinds = [(e["kind"], e["amount"]) for e in (await r.json())["data"]]
    assert ("refund", -5000) in kinds and ("purchase", 5000) in kinds
    assert await page.locator("#refund").count() == 0     # refunded once: no second refund offered
    assert len((await web_app.services.admin.audit.list(10, action="order.refund")).items) == 1
    await web_app.goto(page, "/admin/orders/attention")
    await page.wait_for_selector("#stuck")


async def test_a_role_edited_in_the_console_is_used_by_the_next_reply_without_a_restart(web_app, fake_llm) -> None:
    alice = await web_app.new_user("alice")
    page = await web_app.new_page()
    await admin_sign_in(web_app, page, "/admin/catalogue")
    role = page.locator("details[data-role=pirate]")
    await role.locator("summary").click()
    await role.locator("textarea[name=system_prompt]").fill("Answer only in haiku about the sea.")
    await role.locator("button[type=submit]").first.click()
    await page.wait_for_url("**/admin/catalogue#roles")
    await web_app.shoot(page, "admin-catalogue")
    await _reply(web_app, alice["api_key"], "hello", role="pirate")
    system = fake_llm.chat_requests[-1]["messages"][0]
    assert system["role"] == "system" and "Answer only in haiku about the sea." in system["content"]
    entries = (await web_app.services.admin.audit.list(5, action="role.put")).items
    assert entries[0].before["system_prompt"] == "Talk like a pirate."
    assert entries[0].after["system_prompt"] == "Answer only in haiku about the sea."


async def test_usage_charts_are_drawn_from_real_replies(web_app, fake_llm) -> None:
    alice = await web_app.new_user("alice")
    bob = await web_app.new_user("bob")
    first = await _reply(web_app, alice["api_key"], "What is the tide?")
    second = await _reply(web_app, bob["api_key"], "And the moon?")
    cost = first["cost"] + second["cost"]
    tokens = sum(m["usage"]["total_tokens"] for m in (first, second))
    assert cost > 0 and tokens > 0
    for phone in (False, True):
        page = await web_app.new_page(phone=phone)
        await admin_sign_in(web_app, page, "/admin/usage")
        await page.wait_for_selector("canvas[data-chart=tokens_by_model][data-rendered='1']")
        await page.wait_for_selector("canvas[data-chart=active_users][data-rendered='1']")
        assert await page.inner_text("#total-replies") == "2"
        assert await page.inner_text("#total-tokens") == str(tokens)
        assert await page.inner_text("#total-cost") == str(cost)
        await web_app.shoot(page, "admin-usage")
        if not phone:
            async with page.expect_download() as download:
                await page.click("#usage-csv")
            body = open(await (await download.value).path(), encoding="utf-8").read().splitlines()
            assert body[0].startswith("day,model,channel") and f",test-model,api,2," in body[1]
            await web_app.goto(page, "/admin/health")
            await page.wait_for_selector("tr[data-check=database] .badge.ok")
            await web_app.shoot(page, "admin-health")
        await page.context.close()
