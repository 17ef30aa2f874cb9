"""HTTP for WeChat Pay: the notify webhook and the payment QR as PNG (the gateway is built by bot/payments_wiring.py)."""
from __future__ import annotations

from aiohttp import web

from adapters.http.auth import require_user
from adapters.http.endpoint import ID_CHARS
from adapters.storage.urgency import urgent
from adapters.wechatpay import qr
from adapters.http.keys import services_of
from adapters.wechatpay.gateway import NOTIFY_PATH, WeChatPayGateway
from core.errors import Conflict, NotFound


async def notify(request: web.Request) -> web.Response:
    services = services_of(request)
    gateway = services.wechatpay
    assert isinstance(gateway, WeChatPayGateway), "payments.wechatpay is on but no gateway was built"
    body = await request.read()
    with urgent():   # WeChat Pay waits for this answer: settle the order before any queued work takes a turn
        answer = await gateway.notify.handle(request.headers, body)
    if answer.outcome in ("mismatch", "ignored") and answer.body:
        # Signed by WeChat Pay, yet not credited: the console lists it under payments needing attention.
        await services.admin.record("wechatpay", f"payment.{'mismatch' if answer.outcome == 'mismatch' else 'unmatched'}",
                                                  "wechatpay:notify", None, {"problem": answer.body.get("message", "")})
    if answer.body is None:
        return web.Response(status=answer.status)
    return web.json_response(answer.body, status=answer.status)


async def qrcode_png(request: web.Request) -> web.Response:
    principal = await require_user(request)
    if len(request.match_info["id"]) > ID_CHARS:
        raise NotFound("Order not found.")
    order = await services_of(request).orders.get(principal.user_id, request.match_info["id"])
    if order.status != "paying" or not order.payment_ref:
        raise Conflict(f"This order is {order.status} and has no payment QR; "
                       f"start paying with POST /api/v1/orders/{order.id}/pay.", reason="invalid_state")
    return web.Response(body=qr.png(order.payment_ref), content_type="image/png",
                        headers={"Cache-Control": "no-store"})


def install(app: web.Application, enabled: bool) -> None:
    """The QR always; the notify webhook when payments.wechatpay is on."""
    app.router.add_get("/api/v1/orders/{id}/qrcode.png", qrcode_png)
    if enabled:
        app.router.add_post(NOTIFY_PATH, notify)
