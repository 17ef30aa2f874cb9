"""Orders: buy a product, pay for it, check the payment, cancel it; refunds by an admin."""
from __future__ import annotations

from aiohttp import web

from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.schemas import PageOut
from adapters.http.schemas_commerce import (
    OrderGetQuery, OrderIn, OrderListQuery, OrderOut, OrderPatch, PayIn, PayOut, RefundIn,
)
from adapters.http.keys import services_of


def _owner(call: Call) -> str | None:
    """The user whose orders the caller may see; None for an admin key, which sees every order."""
    assert call.principal is not None
    return call.principal.user_id


async def create_order(call: Call) -> OrderOut:
    body: OrderIn = call.body
    return OrderOut.of(await services_of(call.request).orders.create(call.user_id, body.product_id, body.note))


async def list_orders(call: Call) -> PageOut[OrderOut]:
    q: OrderListQuery = call.query
    page = await services_of(call.request).orders.list(call.user_id, q.status, q.limit, q.cursor)
    return PageOut[OrderOut](data=[OrderOut.of(o) for o in page.items], cursor=page.cursor, has_more=page.has_more)


async def get_order(call: Call) -> OrderOut:
    q: OrderGetQuery = call.query
    orders = services_of(call.request).orders
    order = await orders.get(_owner(call), call.path("id"))
    if q.check_payment:
        order = await orders.check_payment(order)
    return OrderOut.of(order)


async def update_order(call: Call) -> OrderOut:
    body: OrderPatch = call.body
    return OrderOut.of(await services_of(call.request).orders.set_note(call.user_id, call.path("id"), body.note))


async def cancel_order(call: Call) -> OrderOut:
    return OrderOut.of(await services_of(call.request).orders.cancel(call.user_id, call.path("id")))


async def pay_order(call: Call) -> PayOut:
    from adapters.wechatpay.checkout import pay_fields, payer_for

    body: PayIn = call.body   # body.openid is never used: the payer is the caller (see payer_for)
    payer = await payer_for(call.request, call.user_id, body.payment_method)
    order = await services_of(call.request).orders.pay(call.user_id, call.path("id"), body.payment_method, payer)
    fields = pay_fields(call.request, order)
    return PayOut(status=order.status, qrcode=fields.get("qrcode", order.payment_ref if not fields else None),
                  order_id=order.id, jsapi=fields.get("jsapi"), h5_url=fields.get("h5_url"))


async def refund_order(call: Call) -> OrderOut:
    return OrderOut.of(await services_of(call.request).admin.refund(call.actor, call.path("id")))


def install(app: web.Application, prefix: str) -> None:
    tag = "orders"
    one = "/orders/{id}"
    add_all(app, prefix, [
        Endpoint("POST", "/orders", create_order, "Order a product (status unpaid)", body=OrderIn,
                 response=OrderOut, status=201, tag=tag),
        Endpoint("GET", "/orders", list_orders, "Your orders, newest first", query=OrderListQuery,
                 response=PageOut[OrderOut], tag=tag),
        Endpoint("GET", one, get_order, "One order; check_payment=true asks the payment provider", access="any",
                 query=OrderGetQuery, response=OrderOut, tag=tag),
        Endpoint("PATCH", one, update_order, "Change an order's note", body=OrderPatch, response=OrderOut, tag=tag),
        Endpoint("DELETE", one, cancel_order, "Cancel an unpaid order", response=OrderOut, tag=tag),
        Endpoint("POST", one + "/pay", pay_order, "Start paying (e.g. wechat_native: a code_url to show as QR)",
                 body=PayIn, response=PayOut, tag=tag),
        Endpoint("POST", one + "/refund", refund_order, "Refund a paid order (admin)", access="admin",
                 body=RefundIn, body_required=False, response=OrderOut, tag=tag),
    ])
