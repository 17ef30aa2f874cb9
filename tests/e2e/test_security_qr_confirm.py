"""QR login confirmation: a victim who scans an attacker's login QR does not log the attacker in as the victim."""
from __future__ import annotations

import asyncio

import aiohttp

from core.domain import Identity
from core.login import LoginScene
from tests.e2e.http_native import assert_error
from tests.e2e.security_support import client_from
from tests.e2e.wechat_support import client_for, wechat_config, zh
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)

ATTACKER_BROWSER = {"User-Agent": "EvilBrowser/6.6 (X11; Linux)"}


async def _attacker_qr(running, wx) -> tuple[str, str]:
    """The attacker's browser (at 127.0.0.2) asks for a login QR: its ticket and scene."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))) as http:
        async with http.post(running.base_url + "/api/v1/auth/wechat-qrcode", headers=ATTACKER_BROWSER) as resp:
            assert resp.status == 200
            ticket = (await resp.json())["qrcode"]
    return ticket, wx.qrcodes[ticket]["action_info"]["scene"]["scene_str"]


async def test_a_scan_without_confirmation_gives_the_attacker_nothing(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    ticket, scene = await _attacker_qr(running, wx)
    await client.post(client.event("o-victim", "SCAN", scene, ticket=ticket))
    [prompt] = await wx.wait_sent("o-victim", 1)
    # The victim is told what is asking: the attacker's browser and address.
    assert "来自 127.0.0.2 的网页浏览器（EvilBrowser/6.6 (X11; Linux)）" in prompt and "确认" in prompt
    async with client_from("127.0.0.2", running.base_url) as attacker:
        for _ in range(15):   # polling a pending login is not a failure: no 429 either
            assert_error(await attacker.post("/auth/token", {"qrcode": ticket}), 401, "pending")
        # Someone else's 确认 (here the attacker's own WeChat, which never scanned) confirms nothing...
        await client.post(client.text("o-attacker", "确认"))
        assert (await wx.wait_sent("o-attacker", 1))[0] != zh("confirm.done")
        # ...and neither does the attacker scanning too: the login then waits for the attacker's own yes.
        await client.post(client.event("o-attacker", "SCAN", scene, ticket=ticket))
        await wx.wait_sent("o-attacker", 2)
        await client.post(client.text("o-victim", "确认"))
        assert (await wx.wait_sent("o-victim", 2))[1] != zh("confirm.done")
        assert_error(await attacker.post("/auth/token", {"qrcode": ticket}), 401, "pending")
        await client.post(client.text("o-attacker", "confirm"))
        assert (await wx.wait_sent("o-attacker", 3))[2] == zh("confirm.done")
        reply = await attacker.post("/auth/token", {"qrcode": ticket})
    victim = await running.services.accounts.ensure_user(Identity("wechat", "o-victim"))
    attacker_user = await running.services.accounts.ensure_user(Identity("wechat", "o-attacker"))
    assert reply.status == 200 and reply.body["user_id"] == attacker_user.id != victim.id


async def test_the_token_is_issued_only_after_the_scanner_confirms(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    ticket, scene = await _attacker_qr(running, wx)   # here the browser is the scanner's own
    await client.post(client.event("o-owner", "SCAN", scene, ticket=ticket))
    await wx.wait_sent("o-owner", 1)
    async with client_from("127.0.0.2", running.base_url) as browser:
        assert_error(await browser.post("/auth/token", {"qrcode": ticket}), 401, "pending")
        await client.post(client.text("o-owner", "确认"))
        assert (await wx.wait_sent("o-owner", 2))[1] == zh("confirm.done")
        reply = await browser.post("/auth/token", {"qrcode": ticket})
        owner = await running.services.accounts.ensure_user(Identity("wechat", "o-owner"))
        assert reply.status == 200 and reply.body["user_id"] == owner.id
        assert_error(await browser.post("/auth/token", {"qrcode": ticket}), 401, "invalid_qrcode")   # once


async def test_a_menu_click_mapped_to_confirm_confirms(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, menu={"M_OK": "/confirm"}))
    client = client_for(running, wx)
    ticket, scene = await _attacker_qr(running, wx)
    await client.post(client.event("o-menu", "subscribe", "qrscene_" + scene, ticket=ticket))
    await wx.wait_sent("o-menu", 1)
    # (an event's identity is its sender and CreateTime: a click in the same second would be a retry)
    await client.post(client.event("o-menu", "CLICK", "M_OK", create_time=1_700_000_001))
    assert (await wx.wait_sent("o-menu", 2))[1] == zh("confirm.done")
    async with aiohttp.ClientSession() as http:
        async with http.post(running.base_url + "/api/v1/auth/token", json={"qrcode": ticket}) as resp:
            assert resp.status == 200


async def test_confirm_words_are_chat_when_no_login_waits(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    await client.post(client.text("o-chat", "confirm"))
    assert (await wx.wait_sent("o-chat", 1))[0] == "Echo: confirm"      # the model answered it
    await client.post(client.text("o-chat", "/confirm"))
    assert (await wx.wait_sent("o-chat", 2))[1] == zh("confirm.nothing")


async def test_a_confirmation_after_the_qr_expired_logs_nobody_in(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    await running.services.qr_login.open(LoginScene("login_short", "ticket-short"), ttl=1)
    await client.post(client.event("o-late", "SCAN", "login_short"))
    await wx.wait_sent("o-late", 1)
    await asyncio.sleep(1.2)   # the QR's lifetime (1 s here) passes; expiry is by the clock, not by scheduling
    await client.post(client.text("o-late", "确认"))
    assert (await wx.wait_sent("o-late", 2))[1] != zh("confirm.done")
    async with aiohttp.ClientSession() as http:
        async with http.post(running.base_url + "/api/v1/auth/token", json={"qrcode": "ticket-short"}) as resp:
            assert resp.status == 401
