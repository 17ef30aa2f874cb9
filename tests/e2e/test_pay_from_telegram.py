"""Paying from Telegram on the web: with WeChat Pay on, /buy in Telegram offers (beside the Stars packs) a URL button
with a one-time sign-in link that signs the Telegram user in and lands on the pay page; paying there (Native QR,
then the fake WeChat Pay's notify) credits the Telegram user. The fake Bot API, the fake WeChat Pay, the real app."""
from __future__ import annotations

import contextlib
from urllib.parse import parse_qs, urlsplit

from adapters.wechatpay.provider import out_trade_no
from tests.e2e.pay_shop import DESKTOP_UA, Browser
from tests.e2e.telegram_harness import en, launch, services_user, tg  # noqa: F401
from tests.e2e.web_support import field_of
from tests.fakes.wechatpay_server import FakeWeChatPay, WeChatPayKeys

PUBLIC = "http://127.0.0.1:8080"     # make_config's server.public_url
STARS_PACK = "Starter pack: 5,000 tokens for 100 ⭐"
GRANT, TOKENS = 1000, 5000           # make_config's signup grant and "starter" pack


@contextlib.asynccontextmanager
async def wechat_pay(tmp_path):
    keys = WeChatPayKeys.generate()
    async with FakeWeChatPay(keys) as pay:
        yield pay, {"wechatpay": keys.config_section(tmp_path, pay.base_url, methods=["native"])}


async def menu_of(tg, chat, user, text: str = "/buy"):
    """Send `text`; the newest bot message with buttons, and its buttons (text -> callback data or url)."""
    before = len(tg.bot_messages(chat))
    await tg.send_text(chat, user, text)
    found = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat)[before:] if tg.buttons(m)])
    return found[-1], tg.buttons(found[-1])


async def follow_link(browser: Browser, url: str) -> tuple[int, str, str]:
    """What a person's browser does with the link: open it (a page with one button), press the button."""
    assert url.startswith(PUBLIC + "/web/login/link?token=")      # absolute, on server.public_url
    status, html, _ = await browser.get(url.removeprefix(PUBLIC))
    assert status == 200, html
    html = html[html.index('id="link-form"'):]
    form = {name: field_of(html, name) for name in ("csrf_token", "token", "next")}
    return await browser.post_form("/web/login/link", form)


async def test_buy_in_telegram_offers_the_web_pay_page_and_paying_there_credits_the_telegram_user(
        launch, tg, tmp_path) -> None:
    async with wechat_pay(tmp_path) as (pay, payments):
        running = await launch("polling", payments=payments)
        pay.route_notifies(PUBLIC, running.base_url)
        alice = tg.user(3101, "Alice")
        chat = tg.private_chat(alice)
        _, buttons = await menu_of(tg, chat, alice)
        assert buttons[STARS_PACK] == "buy:starter"                  # Stars as before
        url = buttons[en("buy.pay_on_web")]
        assert en("buy.pay_on_web") == "Pay with WeChat Pay on the web"
        assert parse_qs(urlsplit(url).query)["next"] == ["/web/pay?product=starter"]
        user = await services_user(running, alice)

        browser, stranger = Browser(running.base_url, DESKTOP_UA), Browser(running.base_url, DESKTOP_UA)
        try:
            status, html, landed = await follow_link(browser, url)
            assert status == 200, html
            assert landed == running.base_url + "/web/pay?product=starter"   # signed in, on the pack's pay page
            assert "Starter pack" in html
            status, html, landed = await browser.post_form("/web/pay", {"csrf_token": browser.csrf(html),
                                                                         "product": "starter"})
            assert status == 200, html
            order_id = landed.rsplit("/", 1)[1]
            order = await running.services.orders.get(user.id, order_id)   # the order is the Telegram user's
            assert order.status == "unpaid"
            csrf = browser.csrf(html)
            status, paying = await browser.api("POST", f"/orders/{order_id}/pay", csrf,
                                               {"payment_method": "wechat_native"})
            assert status == 200 and paying["status"] == "paying" and paying["qrcode"], paying
            delivery = await pay.pay(out_trade_no(order_id))
            assert delivery.status == 204
            status, paid = await browser.api("GET", f"/orders/{order_id}", csrf)
            assert paid["status"] == "paid" and paid["payment_method"] == "wechat_native"
            assert (await running.services.accounts.get(user.id)).balance == GRANT + TOKENS
            ledger = await running.services.repos.ledger.entries(user.id, 50, None)
            assert sorted(e.kind for e in ledger.items) == ["grant", "purchase"]
            await tg.send_text(chat, alice, "/balance")
            shown = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if m.text.startswith("Balance:")])
            assert shown[-1].text.startswith("Balance: 6,000 tokens")

            # The link works once: a second browser with the same link is refused and not signed in.
            status, html, landed = await follow_link(stranger, url)
            assert status == 401 and urlsplit(landed).path == "/web/login/link"
            status, _, landed = await stranger.get("/web/pay?product=starter")
            assert urlsplit(landed).path == "/web/login"
        finally:
            await browser.close()
            await stranger.close()


async def test_the_chosen_pack_gets_its_invoice_and_a_web_link_too(launch, tg, tmp_path) -> None:
    async with wechat_pay(tmp_path) as (pay, payments):
        running = await launch("polling", payments=payments)
        bob = tg.user(3201, "Bob")
        chat = tg.private_chat(bob)
        menu, buttons = await menu_of(tg, chat, bob)
        before = len(tg.bot_messages(chat))
        query = await tg.press(bob, menu, buttons[STARS_PACK])
        await tg.callback_answer(query)
        invoices = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "invoice" in m.extra])
        user = await services_user(running, bob)
        assert (await running.services.orders.get(user.id, invoices[-1].payload)).stars == 100   # Stars as today
        offers = [m for m in tg.bot_messages(chat)[before:] if tg.buttons(m)]
        url = tg.buttons(offers[-1])[en("buy.pay_on_web")]
        assert url != buttons[en("buy.pay_on_web")]                  # a new one-time link
        browser = Browser(running.base_url, DESKTOP_UA)
        try:
            status, html, landed = await follow_link(browser, url)
            assert status == 200 and landed.endswith("/web/pay?product=starter"), html
        finally:
            await browser.close()


async def test_in_chinese_the_button_says_so(launch, tg, tmp_path) -> None:
    async with wechat_pay(tmp_path) as (_, payments):
        await launch("polling", payments=payments)
        li = {**tg.user(3301, "李"), "language_code": "zh-hans"}
        _, buttons = await menu_of(tg, tg.private_chat(li), li, "/buy")
        assert "用微信支付（网页）" in buttons


async def test_without_wechat_pay_there_is_no_web_button(launch, tg) -> None:
    await launch("polling")
    carol = tg.user(3401, "Carol")
    chat = tg.private_chat(carol)
    _, buttons = await menu_of(tg, chat, carol)
    assert buttons == {STARS_PACK: "buy:starter"}


async def test_a_sign_in_link_lands_only_on_a_user_page(launch, tg) -> None:
    """An open redirect through the link's `next`: made by the service or edited in the URL, it lands on /web."""
    running = await launch("polling")
    user = await services_user(running, tg.user(3501, "Dave"))
    assert "next=" not in (await running.services.sign_in.issue(user.id, "https://evil.example/")).url
    assert "next=" not in (await running.services.sign_in.issue(user.id, "/api/v1/me")).url
    for forged in ("https://evil.example/web/pay", "//evil.example/web/pay", "/admin/users", "/\\evil.example"):
        url = (await running.services.sign_in.issue(user.id, "/web/pay?product=starter")).url
        url = url.split("&next=")[0] + "&next=" + forged
        browser = Browser(running.base_url, DESKTOP_UA)
        try:
            async with browser.http.get(running.base_url + url.removeprefix(PUBLIC)) as r:
                html = await r.text()
            html = html[html.index('id="link-form"'):]
            form = {name: field_of(html, name) for name in ("csrf_token", "token", "next")}
            async with browser.http.post(running.base_url + "/web/login/link", data=form,
                                         allow_redirects=False) as r:
                assert r.status in (302, 303) and r.headers["Location"] == "/web/chat", (forged, r.headers)
        finally:
            await browser.close()


async def test_with_stars_off_the_chosen_pack_is_paid_on_its_order_page(launch, tg, tmp_path) -> None:
    async with wechat_pay(tmp_path) as (_, payments):
        running = await launch("polling", payments={**payments, "telegram": {"enabled": False}})
        erin = tg.user(3601, "Erin")
        chat = tg.private_chat(erin)
        menu, buttons = await menu_of(tg, chat, erin)
        assert [data for data in buttons.values() if data.startswith("buy:")] == ["buy:starter"]
        before = len(tg.bot_messages(chat))
        query = await tg.press(erin, menu, "buy:starter")
        await tg.callback_answer(query)
        offer = (await tg.wait_until(lambda: [m for m in tg.bot_messages(chat)[before:] if tg.buttons(m)]))[-1]
        assert not [m for m in tg.bot_messages(chat) if "invoice" in m.extra]       # no Stars invoice
        user = await services_user(running, erin)
        orders = await running.services.orders.list(user.id, None, 10, None)
        order_id = orders.items[0].id
        assert order_id in offer.text
        browser = Browser(running.base_url, DESKTOP_UA)
        try:
            status, html, landed = await follow_link(browser, tg.buttons(offer)[en("buy.pay_on_web")])
            assert status == 200 and landed == f"{running.base_url}/web/pay/{order_id}", html
            assert 'data-method="wechat_native"' in html
        finally:
            await browser.close()


async def test_a_public_url_telegram_refuses_for_buttons_leaves_the_button_out(launch, tg, tmp_path) -> None:
    """Telegram refuses a whole message whose URL button points at a host without a dot (localhost)."""
    async with wechat_pay(tmp_path) as (_, payments):
        await launch("polling", payments=payments, server={"public_url": "http://localhost:8080",
                                                            "shutdown_grace_seconds": 3})
        frank = tg.user(3701, "Frank")
        _, buttons = await menu_of(tg, tg.private_chat(frank), frank)
        assert buttons == {STARS_PACK: "buy:starter"}
