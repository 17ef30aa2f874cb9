"""/web/pay: paying for an order in the way the visitor's screen allows. Inside WeChat: web OAuth, then JSAPI
(WeixinJSBridge); a desktop browser: the Native QR; a phone browser outside WeChat: H5 pay, or the QR with a hint.
The page's script starts the payment and watches the order through the JSON API (same services, no copy)."""
from __future__ import annotations

import re
from urllib.parse import quote

from aiohttp import web

from adapters.http.web.base import Page, open_page, page_handler, redirect, render
from adapters.wechatpay import qr
from adapters.wechatpay.checkout import SESSION_OPENID
from core.domain import Order
from core.errors import Conflict, NotFound

PAY = "/web/pay"
NATIVE, JSAPI, H5 = "wechat_native", "wechat_jsapi", "wechat_h5"
WECHAT_METHODS = (NATIVE, JSAPI, H5)
# The methods each screen can use, preferred first. A QR can be long-pressed inside WeChat, and scanned from
# another phone when shown on a phone.
USABLE = {"wechat": (JSAPI, NATIVE), "mobile": (H5, NATIVE), "desktop": (NATIVE,)}
_MOBILE = re.compile(r"Mobile|Android|iPhone|iPad|iPod|HarmonyOS", re.I)
_ID = re.compile(r"^[0-9a-fA-F-]{32,36}$")


def screen_of(request: web.Request) -> str:
    agent = request.headers.get("User-Agent", "")
    if "MicroMessenger" in agent:
        return "wechat"
    return "mobile" if _MOBILE.search(agent) else "desktop"


def pay_link(public_url: str, order_id: str) -> str:
    """The absolute pay page link a chat sends, built on server.public_url."""
    return f"{public_url.rstrip('/')}{PAY}/{order_id}"


class PayPagePaths:
    """core.commands_results.PayPageLinks: the pay page of a pack (the page's button makes the order) or of an
    order, where a one-time sign-in link from a chat lands."""

    def product_path(self, product_id: str) -> str:
        return f"{PAY}?product={quote(product_id, safe='')}"

    def order_path(self, order_id: str) -> str:
        return f"{PAY}/{quote(order_id, safe='')}"


def choose_method(screen: str, enabled: set[str], order: Order) -> tuple[str | None, str]:
    """(the method to pay with here, or None; a text key explaining the choice or its absence)."""
    usable = USABLE[screen]
    if order.status == "paying" and order.payment_method in WECHAT_METHODS:
        # WeChat Pay keeps one way to pay per order number: go on with the one started.
        if order.payment_method in usable:
            return order.payment_method, _hint(screen, order.payment_method)
        return None, f"pay.elsewhere.{order.payment_method}"
    for method in usable:
        if method in enabled:
            return method, _hint(screen, method)
    return None, "pay.open_in_wechat" if JSAPI in enabled else "pay.unavailable"


def _hint(screen: str, method: str) -> str:
    if method == NATIVE:
        return {"wechat": "pay.hint.long_press", "mobile": "pay.hint.open_in_wechat"}.get(screen, "pay.hint.scan")
    return "pay.hint." + method


async def _open(request: web.Request) -> Page | web.StreamResponse:
    """The page's context; inside WeChat (with web OAuth on) the browser must be signed in as a WeChat user by
    OAuth first, so the JSAPI payer is the user who asked in the chat."""
    from adapters.wechat.oauth_routes import oauth_of, start_url

    if screen_of(request) == "wechat" and oauth_of(request) is not None:
        page = await open_page(request, signed_in=False)
        if page.user is None or not (page.session and page.session.data.get(SESSION_OPENID)):
            return web.Response(status=302, headers={"Location": start_url(request.path_qs)})
        return page
    return await open_page(request)


def _enabled(page: Page) -> set[str]:
    return {m for m in WECHAT_METHODS if m in page.services.orders.providers}


@page_handler
async def order_page(request: web.Request) -> web.StreamResponse:
    opened = await _open(request)
    if not isinstance(opened, Page):
        return opened
    page = opened
    order_id = request.match_info["id"]
    if not _ID.match(order_id):
        raise NotFound(page.t("pay.not_found"))
    try:
        order = await page.services.orders.get(page.user_id, order_id)   # another user's order: 404
    except NotFound:
        raise NotFound(page.t("pay.not_found")) from None
    screen = screen_of(request)
    method, why = choose_method(screen, _enabled(page), order)
    return render(page, "pay.html", order=order, method=method or "", why=why, screen=screen,
                  status_text=page.t(f"order.status.{order.status}"))


@page_handler
async def product_page(request: web.Request) -> web.StreamResponse:
    """/web/pay?product=ID: what is bought, and a button (a CSRF-checked POST) that makes the order."""
    opened = await _open(request)
    if not isinstance(opened, Page):
        return opened
    product = await opened.services.orders.product(request.query.get("product", ""))
    return render(opened, "pay_product.html", product=product)


@page_handler
async def create_order(request: web.Request) -> web.StreamResponse:
    page = await open_page(request)
    form = await page.form()
    order = await page.services.orders.create(page.user_id, form.get("product", ""), note="web")
    return redirect(f"{PAY}/{order.id}")


@page_handler
async def qrcode_png(request: web.Request) -> web.StreamResponse:
    """The Native QR of the signed-in user's order as a PNG (an <img> sends the cookie, no CSRF header: it only reads)."""
    page = await open_page(request)
    order_id = request.match_info["id"]
    if not _ID.match(order_id):
        raise NotFound(page.t("pay.not_found"))
    order = await page.services.orders.get(page.user_id, order_id)
    if order.status != "paying" or order.payment_method != NATIVE or not order.payment_ref:
        raise Conflict(f"This order is {order.status} and has no payment QR.", reason="invalid_state")
    return web.Response(body=qr.png(order.payment_ref), content_type="image/png",
                        headers={"Cache-Control": "no-store"})


def install(app: web.Application, wechat_oauth: bool) -> None:
    from adapters.wechat import oauth_routes

    if wechat_oauth:
        oauth_routes.install(app)
    app.router.add_get(PAY, product_page)
    app.router.add_post(PAY, create_order)
    app.router.add_get(PAY + "/{id}", order_page)
    app.router.add_get(PAY + "/{id}/qrcode.png", qrcode_png)
