"""Paying inside WeChat: web OAuth signs the browser in as the chat's WeChat user, JSAPI prepay for that openid
(never one from the request), a paySign the WeChat client accepts, and a notify that settles once."""
from __future__ import annotations

from pathlib import Path

import pytest

from adapters.wechatpay.provider import out_trade_no
from core.domain import Identity
from tests.e2e.pay_shop import GRANT, TOKENS, WECHAT_UA, Browser, open_pay_world, verify_pay_sign
from tests.e2e.wechat_support import client_for


@pytest.fixture
async def world(tmp_path: Path, start_app):
    async with open_pay_world(tmp_path, start_app) as world:
        yield world


async def test_jsapi_pay_inside_wechat_credits_the_chat_user_once(world) -> None:
    # Alice talks to the Official Account first: her chat openid is her account.
    chat = client_for(world.running, world.wx)
    await chat.post(chat.text("o-alice", "/balance"))
    await world.wx.wait_sent("o-alice", 1)
    alice = await world.services.accounts.ensure_user(Identity("wechat", "o-alice"))

    world.wx.oauth_openid = "o-alice"
    browser = Browser(world.base_url, WECHAT_UA)
    try:
        order_id, html = await browser.order_from_product()
        assert 'data-method="wechat_jsapi"' in html
        csrf = browser.csrf(html)
        # A forged payer in the body is ignored: the prepay is for the signed-in WeChat user.
        status, answer = await browser.api("POST", f"/orders/{order_id}/pay", csrf,
                                           {"payment_method": "wechat_jsapi", "openid": "o-mallory"})
        assert status == 200, answer
        assert answer["status"] == "paying" and answer["qrcode"] is None
        params = answer["jsapi"]
        trade = world.pay.trades[out_trade_no(order_id)]
        assert trade.kind == "JSAPI" and trade.body["payer"] == {"openid": "o-alice"}
        assert params["package"] == f"prepay_id={trade.prepay_id}" and params["signType"] == "RSA"
        assert params["appId"] == world.wx.app_id and verify_pay_sign(world.keys, params)
        assert not verify_pay_sign(world.keys, {**params, "package": "prepay_id=wx-other"})

        delivery = await world.pay.pay(trade.out_trade_no)
        assert delivery.status == 204
        status, order = await browser.api("GET", f"/orders/{order_id}", csrf)
        assert order["status"] == "paid" and order["payment_method"] == "wechat_jsapi"
        assert order["id"] == order_id
        assert (await world.services.accounts.get(alice.id)).balance == GRANT + TOKENS
        # The notify again (WeChat Pay missed our answer): acknowledged, nothing more credited.
        replay = await world.pay.deliver(world.pay.notify_for(trade.out_trade_no))
        assert replay.status == 204
        assert (await world.services.accounts.get(alice.id)).balance == GRANT + TOKENS
        ledger = await world.services.repos.ledger.entries(alice.id, 50, None)
        assert [e.kind for e in ledger.items].count("purchase") == 1
        status, html, _ = await browser.get(f"/web/pay/{order_id}")
        assert status == 200 and 'data-status="paid"' in html
    finally:
        await browser.close()


async def test_jsapi_for_a_user_without_wechat_is_refused_and_opens_nothing(world) -> None:
    import aiohttp

    admin = {"X-API-Key": "admin-key"}
    async with aiohttp.ClientSession(world.base_url) as http:
        async with http.post("/api/v1/users", json={"name": "tg-only"}, headers=admin) as r:
            key = {"X-API-Key": (await r.json())["api_key"]}
        async with http.post("/api/v1/orders", json={"product_id": "starter"}, headers=key) as r:
            order = await r.json()
        async with http.post(f"/api/v1/orders/{order['id']}/pay", headers=key,
                             json={"payment_method": "wechat_jsapi", "openid": "o-someone-elses"}) as r:
            assert r.status == 409 and (await r.json())["error"]["reason"] == "wechat_sign_in_required"
        assert world.pay.prepays(out_trade_no(order["id"])) == 0


async def test_buy_in_the_wechat_chat_links_to_the_pay_page_which_pays_by_jsapi(world) -> None:
    """The money path on a phone: /buy in the chat answers a link (a weixin:// code cannot be scanned from the
    screen showing it); opened inside WeChat it signs the chat's user in by OAuth and pays by JSAPI."""
    import re

    chat = client_for(world.running, world.wx)
    await chat.post(chat.text("o-bob", "/buy starter"))
    offer = (await world.wx.wait_sent("o-bob", 1))[0]
    public = world.services.config.server.public_url.rstrip("/")
    link = re.search(r"(https?://\S+/web/pay/(\S+))", offer)
    assert link is not None and "weixin://" not in offer, offer
    assert link.group(1).startswith(public + "/web/pay/")    # absolute, on server.public_url
    order_id = link.group(2)
    assert world.pay.prepays(out_trade_no(order_id)) == 0     # nothing is opened until the page asks

    world.wx.oauth_openid = "o-bob"
    browser = Browser(world.base_url, WECHAT_UA)
    try:
        status, html, _ = await browser.get(f"/web/pay/{order_id}")
        assert status == 200 and 'data-method="wechat_jsapi"' in html, html
        status, answer = await browser.api("POST", f"/orders/{order_id}/pay", browser.csrf(html),
                                           {"payment_method": "wechat_jsapi"})
        assert status == 200 and verify_pay_sign(world.keys, answer["jsapi"]), answer
        trade = world.pay.trades[out_trade_no(order_id)]
        assert trade.body["payer"] == {"openid": "o-bob"}
        assert (await world.pay.pay(trade.out_trade_no)).status == 204
        bob = await world.services.accounts.ensure_user(Identity("wechat", "o-bob"))
        assert bob.balance == GRANT + TOKENS
        notice = (await world.wx.wait_sent("o-bob", 2))[1]
        assert f"{TOKENS:,}" in notice
    finally:
        await browser.close()
