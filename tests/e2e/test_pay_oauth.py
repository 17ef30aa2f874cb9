"""Attacks on the pay page's WeChat sign-in and orders: a forged or another browser's OAuth state, a replayed code,
another user's order. Each is refused and leaves nothing signed in, linked, created or prepaid."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.storage.models import IdentityRow
from adapters.wechatpay.provider import out_trade_no
from tests.e2e.pay_shop import GRANT, PHONE_UA, TOKENS, WECHAT_UA, Browser, open_pay_world


@pytest.fixture
async def world(tmp_path: Path, start_app):
    async with open_pay_world(tmp_path, start_app) as world:
        yield world


async def _callback_url(browser: Browser, world, openid: str) -> str:
    """Start the sign-in and let WeChat authorize, stopping before our callback runs: its URL (code, state)."""
    world.wx.oauth_openid = openid
    async with browser.http.get(browser.base_url + "/web/wechat/oauth?next=/web/me", allow_redirects=False) as r:
        assert r.status == 302
        authorize = r.headers["Location"]
    assert authorize.startswith(world.wx.base_url + "/connect/oauth2/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["scope"] == ["snsapi_base"] and query["appid"] == [world.wx.app_id]
    assert authorize.endswith("#wechat_redirect")
    async with browser.http.get(authorize.split("#")[0], allow_redirects=False) as r:
        assert r.status == 302
        return r.headers["Location"]


async def _signed_in(browser: Browser) -> bool:
    async with browser.http.get(browser.base_url + "/web/me", allow_redirects=False) as r:
        return r.status == 200


async def _identities() -> list:
    return sorted(await IdentityRow.all().values_list("channel", "external_id"))


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())).geturl()


@pytest.mark.parametrize("forge", ["flipped", "made up", "missing", "another browser's"])
async def test_a_forged_state_signs_nobody_in(world, forge: str) -> None:
    victim, attacker = Browser(world.base_url, WECHAT_UA), Browser(world.base_url, WECHAT_UA)
    try:
        before = await _identities()
        if forge == "another browser's":
            # Login CSRF: the attacker finishes his own sign-in up to the callback and hands the victim the link.
            url = await _callback_url(attacker, world, "o-eve")
            await victim.get("/web/pay?product=starter", allow_redirects=False)   # the victim has a session
        else:
            url = await _callback_url(victim, world, "o-eve")
            state = parse_qs(urlsplit(url).query)["state"][0]
            url = {"flipped": _with(url, state=("0" if state[0] != "0" else "1") + state[1:]),
                   "made up": _with(url, state="a" * 64),
                   "missing": _with(url, state="")}[forge]
        status, html, _ = await victim.get(url.replace("http://127.0.0.1:8080", world.base_url))
        assert status == 401 and 'data-reason="invalid_state"' in html
        assert not await _signed_in(victim)
        assert await _identities() == before                 # nobody created or linked
        assert world.wx.oauth_exchanges == []                # the code was never even spent
    finally:
        await victim.close()
        await attacker.close()


async def test_a_replayed_code_is_refused(world) -> None:
    browser = Browser(world.base_url, WECHAT_UA)
    try:
        first = await _callback_url(browser, world, "o-alice")
        status, _, url = await browser.get(first)
        assert status == 200 and url.endswith("/web/me")
        used_code = parse_qs(urlsplit(first).query)["code"][0]
        # A second sign-in in the same browser, with the first (spent) code in place of the new one.
        again = await _callback_url(browser, world, "o-alice")
        status, html, _ = await browser.get(_with(again, code=used_code))
        assert status == 401 and 'data-reason="invalid_code"' in html
        assert world.wx.oauth_exchanges[-1]["code"] == used_code      # WeChat said 40163 (code been used)
        # The same callback URL twice: its state is spent, so it never reaches WeChat again.
        exchanges = len(world.wx.oauth_exchanges)
        status, html, _ = await browser.get(first)
        assert status == 401 and 'data-reason="invalid_state"' in html
        assert len(world.wx.oauth_exchanges) == exchanges
    finally:
        await browser.close()


async def test_another_users_order_is_404_everywhere(world) -> None:
    alice, bob = Browser(world.base_url, WECHAT_UA), Browser(world.base_url, WECHAT_UA)
    try:
        world.wx.oauth_openid = "o-alice"
        order_id, _ = await alice.order_from_product()
        world.wx.oauth_openid = "o-bob"
        status, html, _ = await bob.get(f"/web/pay/{order_id}")
        assert status == 404, html
        status, html, _ = await bob.get("/web/me")
        assert status == 200
        csrf = bob.csrf(html)
        status, _ = await bob.api("POST", f"/orders/{order_id}/pay", csrf, {"payment_method": "wechat_jsapi"})
        assert status == 404
        status, _, _ = await bob.get(f"/web/pay/{order_id}/qrcode.png")
        assert status == 404
        assert world.pay.prepays(out_trade_no(order_id)) == 0      # nothing was opened at WeChat Pay
    finally:
        await alice.close()
        await bob.close()


async def test_h5_in_a_phone_browser_pays_and_settles_once(world) -> None:
    user = await world.services.accounts.create_user("carol")   # e.g. a Telegram user, signed in by a /web link
    browser = Browser(world.base_url, PHONE_UA)
    try:
        link = await world.services.sign_in.issue(user.id)
        status, html, _ = await browser.get(link.url.replace("http://127.0.0.1:8080", world.base_url))
        token = parse_qs(urlsplit(link.url).query)["token"][0]
        status, html, _ = await browser.post_form("/web/login/link", {"csrf_token": browser.csrf(html), "token": token,
                                                                      "next": "/web/me"})
        assert status == 200
        order_id, html = await browser.order_from_product()
        assert 'data-method="wechat_h5"' in html
        status, answer = await browser.api("POST", f"/orders/{order_id}/pay", browser.csrf(html),
                                           {"payment_method": "wechat_h5"})
        assert status == 200 and answer["h5_url"].startswith(world.pay.base_url) and answer["jsapi"] is None
        trade = world.pay.trades[out_trade_no(order_id)]
        assert trade.kind == "MWEB" and trade.body["scene_info"]["payer_client_ip"] == "127.0.0.1"
        status, _, _ = await browser.get(answer["h5_url"])       # WeChat's cashier: the user pays
        assert status == 200
        status, order = await browser.api("GET", f"/orders/{order_id}", browser.csrf(html))
        assert order["status"] == "paid" and order["payment_method"] == "wechat_h5"
        assert (await world.services.accounts.get(user.id)).balance == GRANT + TOKENS
        replay = await world.pay.deliver(world.pay.notify_for(trade.out_trade_no))
        assert replay.status == 204 and (await world.services.accounts.get(user.id)).balance == GRANT + TOKENS
    finally:
        await browser.close()
