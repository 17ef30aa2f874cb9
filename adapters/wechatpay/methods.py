"""The `wechat_jsapi` (inside WeChat) and `wechat_h5` (a phone browser) providers, and the JSAPI bridge parameters.

Both open the order under the same out_trade_no as Native, so query, close, refund and the notify are shared.
"""
from __future__ import annotations

import secrets
import time

from adapters.wechatpay.provider import MerchantAccount, WeChatNativeProvider, prepay, prepay_body
from adapters.wechatpay.signing import MerchantSigner
from core.domain import Order
from core.errors import Conflict
from core.orders import Payer, PaymentStart, PaymentState

JSAPI = "wechat_jsapi"
H5 = "wechat_h5"
# WeChat's trade_type in a notify or query -> our payment_method.
METHOD_OF_TRADE_TYPE = {"NATIVE": "wechat_native", "JSAPI": JSAPI, "MWEB": H5}


class _SameTrade:
    """A prepay made with the merchant's client and account; query, close and refund go by out_trade_no,
    whichever way the order was opened, so the Native provider answers them."""

    def __init__(self, client, account: MerchantAccount, trades: WeChatNativeProvider):
        self._client = client
        self._account = account
        self._trades = trades

    async def query(self, order: Order) -> PaymentState:
        return await self._trades.query(order)

    async def close(self, order: Order) -> None:
        await self._trades.close(order)

    async def refund(self, order: Order) -> None:
        await self._trades.refund(order)


class WeChatJsapiProvider(_SameTrade):
    """POST /v3/pay/transactions/jsapi for the signed-in WeChat user; the payment_ref is the prepay_id."""

    name = JSAPI
    needs_payer = True

    async def start(self, order: Order, payer: Payer) -> PaymentStart:
        if not payer.openid:
            raise Conflict("Paying inside WeChat needs your WeChat sign-in; open the pay page in WeChat.",
                           reason="wechat_sign_in_required")
        body = {**prepay_body(order, self._account), "payer": {"openid": payer.openid}}
        return await prepay(self._client, "jsapi", body, "prepay_id")


class WeChatH5Provider(_SameTrade):
    """POST /v3/pay/transactions/h5 for a phone browser; the payment_ref is the h5_url to send the browser to."""

    name = H5
    needs_payer = True

    async def start(self, order: Order, payer: Payer) -> PaymentStart:
        scene = {"payer_client_ip": payer.client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
        body = {**prepay_body(order, self._account), "scene_info": scene}
        return await prepay(self._client, "h5", body, "h5_url")


def bridge_params(appid: str, prepay_id: str, signer: MerchantSigner, *, timestamp: int | None = None,
                  nonce: str | None = None) -> dict:
    """What a page passes to WeixinJSBridge.invoke('getBrandWCPayRequest', ...): paySign is the merchant key's
    RSA-SHA256 over appId, timeStamp, nonceStr and package, each followed by a newline."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(16)
    package = f"prepay_id={prepay_id}"
    return {"appId": appid, "timeStamp": ts, "nonceStr": nonce, "package": package, "signType": "RSA",
            "paySign": signer.sign(f"{appid}\n{ts}\n{nonce}\n{package}\n")}
