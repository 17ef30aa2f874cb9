"""Starting a WeChat Pay payment for a caller: who the payer is (never the request body) and what the page needs."""
from __future__ import annotations

from aiohttp import web

from adapters.http.auth import client_address
from adapters.http.keys import services_of as _services
from adapters.wechatpay.gateway import WeChatPayGateway
from adapters.wechatpay.methods import H5, JSAPI, bridge_params
from core.domain import Order
from core.orders import Payer

SESSION_OPENID = "wechat_openid"   # WebSession.data key: the openid WeChat web OAuth gave this browser


async def _session_openid(request: web.Request, user_id: str) -> str | None:
    """The openid web OAuth put in this browser's session, when the session is this user's."""
    session = await _services(request).sessions.load(request)
    if session is None or session.user_id != user_id:
        return None
    return session.data.get(SESSION_OPENID) or None


async def payer_for(request: web.Request, user_id: str, method: str) -> Payer | None:
    """JSAPI: the openid of the caller's own WeChat identity (the one OAuth signed this browser in with, when there
    is one); H5: the caller's address. Nothing from the request body is ever used."""
    if method == JSAPI:
        user = await _services(request).accounts.get(user_id)
        openids = [i.external_id for i in user.identities if i.channel == "wechat"]
        chosen = await _session_openid(request, user_id)
        if chosen not in openids:
            chosen = openids[0] if len(openids) == 1 else None
        return Payer(openid=chosen)
    if method == H5:
        return Payer(client_ip=client_address(request))
    return None


def pay_fields(request: web.Request, order: Order) -> dict:
    """The answer's method-specific fields: the Native QR text, the JSAPI bridge parameters or the H5 link."""
    method, ref = order.payment_method, order.payment_ref
    if order.status != "paying" or not ref:
        return {}
    if method == JSAPI:
        gateway = _services(request).wechatpay
        assert isinstance(gateway, WeChatPayGateway) and gateway.signer is not None
        return {"jsapi": bridge_params(gateway.appid, ref, gateway.signer)}
    if method == H5:
        return {"h5_url": ref}
    return {"qrcode": ref}
