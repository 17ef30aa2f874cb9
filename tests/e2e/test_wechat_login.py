"""QR login end to end: POST /api/v1/auth/wechat-qrcode, a SCAN (or subscribe) in WeChat, POST /api/v1/auth/token."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest

from bot.wechat_wiring import wechat_slot
from core.domain import Identity
from tests.e2e.wechat_support import client_for, wechat_config, zh
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)


async def _json(http: aiohttp.ClientSession, url: str, body: dict | None = None) -> tuple[int, dict]:
    async with http.post(url, json=body) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("event", ["SCAN", "subscribe"])
async def test_scan_to_log_in(wx, start_app, fake_llm, tmp_path, event) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    api = running.base_url + "/api/v1"
    async with aiohttp.ClientSession() as http:
        status, qr = await _json(http, api + "/auth/wechat-qrcode")
        assert status == 200, qr
        ticket = qr["qrcode"]
        assert parse_qs(urlparse(qr["url"]).query)["ticket"] == [ticket]
        assert qr["url"].startswith("https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=")
        remaining = (datetime.fromisoformat(qr["expires_at"]) - datetime.now(timezone.utc)).total_seconds()
        assert 290 < remaining <= 300
        created = wx.qrcodes[ticket]
        assert created["expire_seconds"] == 300 and created["action_name"] == "QR_STR_SCENE"
        scene = created["action_info"]["scene"]["scene_str"]
        assert scene.startswith("login_")

        status, body = await _json(http, api + "/auth/token", {"qrcode": ticket})
        assert (status, body["error"]["reason"]) == (401, "pending")

        key = scene if event == "SCAN" else "qrscene_" + scene
        await client.post(client.event("o-login", event, key, ticket=ticket))
        sent = await wx.wait_sent("o-login", 1)
        assert "登录请求：来自 127.0.0.1 的网页浏览器" in sent[-1] and "请在 4 分钟内回复“确认”" in sent[-1]
        status, body = await _json(http, api + "/auth/token", {"qrcode": ticket})
        assert (status, body["error"]["reason"]) == (401, "pending")  # scanned, not yet confirmed

        await client.post(client.text("o-login", "确认"))
        assert (await wx.wait_sent("o-login", 2))[-1] == zh("confirm.done")
        status, body = await _json(http, api + "/auth/token", {"qrcode": ticket})
        assert status == 200, body
        async with http.get(api + "/me", headers={"Authorization": f"Bearer {body['token']}"}) as resp:
            me = await resp.json()
        user = await running.services.accounts.ensure_user(Identity("wechat", "o-login"))
        assert me["id"] == user.id

        status, body = await _json(http, api + "/auth/token", {"qrcode": ticket})
        assert status == 401  # once only


async def test_an_unknown_scene_is_not_a_login(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    await client.post(client.event("o-x", "SCAN", "login_forged-scene"))
    await client.post(client.event("o-x", "SCAN", "poster_42", create_time=1_700_000_000))
    await client.post(client.text("o-x", "/balance"))
    sent = await wx.wait_sent("o-x", 2)
    assert sent[0] == zh("login.expired")
    assert sent[1].startswith("余额：")  # the non-login scene got no reply


async def test_qrcode_creation_is_rate_limited(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    async with aiohttp.ClientSession() as http:
        statuses = [(await _json(http, running.base_url + "/api/v1/auth/wechat-qrcode"))[0] for _ in range(11)]
        status, body = await _json(http, running.base_url + "/api/v1/auth/wechat-qrcode")
    assert statuses[:10] == [200] * 10 and statuses[10] == 429
    assert body["error"]["reason"] == "rate_limited"
    assert len(wx.qrcodes) == 10


async def test_no_wechat_routes_when_disabled(start_app, config) -> None:
    running = await start_app(config)
    async with aiohttp.ClientSession() as http:
        async with http.post(running.base_url + "/api/v1/auth/wechat-qrcode") as resp:
            assert resp.status == 404
        async with http.post(running.base_url + "/webhooks/wechat") as resp:
            assert resp.status == 404
    assert wechat_slot(running.app) is None


async def test_following_by_scanning_logs_in_with_a_passive_reply(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, reply_mode="passive",
                                            welcome="Welcome aboard."))
    client = client_for(running, wx)
    api = running.base_url + "/api/v1"
    async with aiohttp.ClientSession() as http:
        _, qr = await _json(http, api + "/auth/wechat-qrcode")
        scene = wx.qrcodes[qr["qrcode"]]["action_info"]["scene"]["scene_str"]
        reply = await client.post(client.event("o-new", "subscribe", "qrscene_" + scene, ticket=qr["qrcode"]))
        assert reply.content.startswith("Welcome aboard.\n\n登录请求：来自 127.0.0.1 的网页浏览器")
        status, body = await _json(http, api + "/auth/token", {"qrcode": qr["qrcode"]})
        assert (status, body["error"]["reason"]) == (401, "pending")
        reply = await client.post(client.text("o-new", "confirm"))
        assert reply.content == zh("confirm.done")
        status, body = await _json(http, api + "/auth/token", {"qrcode": qr["qrcode"]})
    assert status == 200 and body["type"] == "Bearer"
    assert wx.send_calls == []
