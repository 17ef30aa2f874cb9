"""The pay page in a real browser: a desktop pays by scanning the Native QR, a phone inside WeChat pays through
WeixinJSBridge (the test stands in for the WeChat client and checks the paySign with the merchant's public key);
each page flips to paid once the fake WeChat Pay's notify has settled the order."""
from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from adapters.wechatpay.provider import out_trade_no
from tests.browser.conftest import PHONE, WebApp
from tests.e2e.pay_shop import GRANT, TOKENS, WECHAT_UA, open_pay_world, verify_pay_sign

# The WeChat client's bridge, as the page finds it inside WeChat: invoke() hands the request to the test
# (window.wechatClient, exposed from Python) and calls back with what WeChat would say.
BRIDGE = """
window.WeixinJSBridge = {
  invoke: function (name, params, callback) {
    window.wechatClient(name, params).then(function (said) { callback({err_msg: said}); });
  }
};
"""


@pytest.fixture
async def world(tmp_path: Path, start_app, browser):
    async with open_pay_world(tmp_path, start_app) as world:
        async with aiohttp.ClientSession(world.base_url) as http:
            app = WebApp(world.running, http, browser)
            app.world = world  # type: ignore[attr-defined]
            yield app
            assert app.blocked == [], f"the browser reported errors: {app.blocked}"


async def _order_page(web: WebApp, page) -> str:
    """From /web/pay?product=starter, the order button: the new order's id."""
    await web.goto(page, "/web/pay?product=starter")
    await page.click("form[action='/web/pay'] button")
    await page.wait_for_url("**/web/pay/*")
    return page.url.rsplit("/", 1)[1]


async def test_desktop_native_qr_flips_to_paid(world) -> None:
    web, fake = world, world.world.pay
    user = (await web.new_user("dora"))["user"]
    page = await web.new_page()
    await web.sign_in(page, user["id"])
    order_id = await _order_page(web, page)
    qr = page.locator("#pay-qr")
    await qr.wait_for(state="visible")
    await page.wait_for_function("document.getElementById('pay-qr').naturalWidth > 0")
    assert fake.trades[out_trade_no(order_id)].kind == "NATIVE"
    await web.shoot(page, "pay-qr")

    await fake.pay(out_trade_no(order_id))            # the user scans and pays; WeChat Pay notifies us
    await page.locator("#pay-paid").wait_for(state="visible")
    assert await qr.is_hidden()
    assert (await web.services.accounts.get(user["id"])).balance == GRANT + TOKENS
    await web.shoot(page, "pay-paid")


async def test_jsapi_inside_wechat_on_a_phone(world) -> None:
    web, fake, keys = world, world.world.pay, world.world.keys
    world.world.wx.oauth_openid = "o-wendy"
    asked: list[dict] = []

    async def wechat_client(name: str, params: dict) -> str:
        asked.append(params)
        if name != "getBrandWCPayRequest" or not verify_pay_sign(keys, params):
            return "get_brand_wcpay_request:fail"
        trade = fake.by_prepay_id(params["package"].removeprefix("prepay_id="))
        await fake.pay(trade.out_trade_no)            # the user confirms; WeChat Pay sends the notify
        return "get_brand_wcpay_request:ok"

    context = await web.browser.new_context(viewport=PHONE, user_agent=WECHAT_UA, locale="zh-CN",
                                            device_scale_factor=1, is_mobile=True, has_touch=True)
    await context.add_init_script(BRIDGE)
    await context.expose_function("wechatClient", wechat_client)
    page = await context.new_page()
    page.phone = True  # type: ignore[attr-defined]
    page.on("console", lambda m: web.blocked.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: web.blocked.append(str(e)))

    order_id = await _order_page(web, page)          # signed in on the way by WeChat web OAuth
    button = page.locator("#pay-jsapi")
    await button.wait_for(state="visible")
    trade = fake.trades[out_trade_no(order_id)]
    assert trade.kind == "JSAPI" and trade.body["payer"] == {"openid": "o-wendy"}
    await web.shoot(page, "pay-jsapi")

    await button.click()
    await page.locator("#pay-paid").wait_for(state="visible")
    assert await page.locator("#pay-paid").inner_text() == "支付成功"
    assert len(asked) == 1 and verify_pay_sign(keys, asked[0])
    wendy = await web.services.accounts.get((await web.services.orders.get(None, order_id)).user_id)
    assert wendy.balance == GRANT + TOKENS and ("wechat", "o-wendy") in [(i.channel, i.external_id)
                                                                        for i in wendy.identities]
    await web.shoot(page, "pay-paid")
    await context.close()
