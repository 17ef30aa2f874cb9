"""The `wechat_native` PaymentProvider: Native prepay (a code_url for a QR), query, close and refund."""
from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta, timezone

from adapters.wechatpay.client import WeChatPayClient
from core.domain import Order
from core.errors import Conflict, InvalidRequest, UpstreamError
from core.orders import PaymentStart, PaymentState

log = logging.getLogger(__name__)

NAME = "wechat_native"
CHINA = timezone(timedelta(hours=8))
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_TRADE_STATES = {"SUCCESS": "paid", "NOTPAY": "open", "USERPAYING": "open", "ACCEPT": "open",
                 "CLOSED": "closed", "REVOKED": "closed", "PAYERROR": "closed", "REFUND": "refunded"}


def out_trade_no(order_id: str) -> str:
    """Our order id as WeChat's out_trade_no (at most 32 characters): a uuid without its dashes."""
    compact = order_id.replace("-", "").lower()
    return compact if _HEX32.match(compact) else order_id


def order_id_of(trade_no: str) -> str | None:
    """The order id behind an out_trade_no, or None when it cannot be one of ours."""
    if not _HEX32.match(trade_no or ""):
        return None
    return str(uuid.UUID(hex=trade_no))


def out_refund_no(order_id: str) -> str:
    """One refund per order, so asking again repeats the same refund instead of making a second one."""
    return "R" + out_trade_no(order_id)


@dataclass(frozen=True)
class MerchantAccount:
    mchid: str
    appid: str
    notify_url: str


def prepay_body(order: Order, account: MerchantAccount) -> dict:
    """What every prepay (native, jsapi, h5) sends about the order."""
    if order.currency != "CNY":
        raise InvalidRequest(f"WeChat Pay takes CNY; this order is priced in {order.currency}.",
                             reason="unsupported_currency")
    body: dict = {"appid": account.appid, "mchid": account.mchid,
                  "description": (order.product_name or order.product_id)[:127],
                  "out_trade_no": out_trade_no(order.id), "notify_url": account.notify_url,
                  "amount": {"total": order.price_minor, "currency": "CNY"}}
    if order.expires_at is not None:
        body["time_expire"] = order.expires_at.astimezone(CHINA).isoformat(timespec="seconds")
    return body


async def prepay(client: WeChatPayClient, kind: str, body: dict, answer_field: str) -> PaymentStart:
    """POST /v3/pay/transactions/{kind}; the answer's `answer_field` (code_url, prepay_id, h5_url) is the ref."""
    answer = await client.call("POST", f"/v3/pay/transactions/{kind}", body)
    if answer.ok and answer.body.get(answer_field):
        return PaymentStart(payment_ref=str(answer.body[answer_field]))
    if answer.code == "ORDERPAID":
        raise Conflict("WeChat Pay says this order is already paid; check its status.", reason="invalid_state")
    if answer.code == "INVALID_REQUEST":
        # The same out_trade_no was opened before with another way to pay (or other details).
        raise Conflict("This order is already being paid another way; finish that payment or order again.",
                       reason="invalid_state")
    raise UpstreamError(f"WeChat Pay refused the payment ({answer.code or answer.status}): {answer.message}",
                        reason="payment_provider_error")


class WeChatNativeProvider:
    name = NAME

    def __init__(self, client: WeChatPayClient, account: MerchantAccount):
        self._client = client
        self._account = account

    async def start(self, order: Order) -> PaymentStart:
        return await prepay(self._client, "native", prepay_body(order, self._account), "code_url")

    async def query(self, order: Order) -> PaymentState:
        no = out_trade_no(order.id)
        answer = await self._client.call("GET", f"/v3/pay/transactions/out-trade-no/{no}",
                                         query={"mchid": self._account.mchid})
        if answer.code == "ORDER_NOT_EXIST":
            # Nothing can be paid on a transaction WeChat Pay does not know; the sweep closes it at expiry.
            return PaymentState("open")
        if not answer.ok:
            raise UpstreamError(f"WeChat Pay query failed ({answer.code or answer.status}): {answer.message}",
                                reason="payment_provider_error")
        data = answer.body
        if data.get("mchid") != self._account.mchid or data.get("out_trade_no") != no:
            raise UpstreamError("WeChat Pay answered about another merchant or order.", reason="payment_provider_error")
        state = _TRADE_STATES.get(str(data.get("trade_state")), "open")
        amount = data.get("amount") or {}
        if state == "paid":
            return PaymentState("paid", str(data.get("transaction_id") or ""), _int(amount.get("total")),
                                str(amount.get("currency") or "CNY"))
        return PaymentState(state, data.get("transaction_id"))  # type: ignore[arg-type]

    async def close(self, order: Order) -> None:
        no = out_trade_no(order.id)
        answer = await self._client.call("POST", f"/v3/pay/transactions/out-trade-no/{no}/close",
                                         {"mchid": self._account.mchid})
        if answer.ok or answer.code == "ORDER_NOT_EXIST":
            return
        # ORDERPAID above all: the user paid meanwhile, so the order must not be expired.
        raise UpstreamError(f"WeChat Pay could not close the order ({answer.code or answer.status}): {answer.message}",
                            reason="payment_provider_error")

    async def refund(self, order: Order) -> None:
        total = order.price_minor
        body = {"out_trade_no": out_trade_no(order.id), "out_refund_no": out_refund_no(order.id),
                "reason": "refund by operator", "amount": {"refund": total, "total": total, "currency": "CNY"}}
        answer = await self._client.call("POST", "/v3/refund/domestic/refunds", body)
        status = str(answer.body.get("status") or "")
        if answer.ok and status in ("SUCCESS", "PROCESSING"):
            log.info("WeChat Pay refund %s for order %s: %s", answer.body.get("refund_id"), order.id, status)
            return
        raise UpstreamError(f"WeChat Pay refused the refund ({answer.code or status or answer.status}): "
                            f"{answer.message or 'refund ' + status.lower()}", reason="payment_provider_error")


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
