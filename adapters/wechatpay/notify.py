"""Payment notifies: verify, decrypt, check against the order, settle once, and answer as WeChat Pay expects.

WeChat Pay retries a notify (for about a day) until it gets 200/204. So the answer is a failure
only when a retry could help: a forged or stale request (401), a resource we cannot decrypt with
our apiv3_key (500, fixable by the operator), or our own outage (500). A genuine, signed notify
that can never settle (foreign merchant or app, unknown order, wrong amount or currency, not SUCCESS)
is acknowledged with 200 and logged as an error, crediting nothing; a wrong amount or currency is also
counted as a payment mismatch (bot_errors_total{source="wechatpay",reason="payment_mismatch"}) for the
operator to refund. A settled one answers 204.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from adapters.metrics import Metrics
from adapters.wechatpay.methods import METHOD_OF_TRADE_TYPE
from adapters.wechatpay.provider import NAME, MerchantAccount, order_id_of
from adapters.wechatpay.signing import PlatformVerifier, SignatureError, decrypt_resource
from core.errors import Conflict, NotFound, PaymentMismatch
from core.orders import OrderService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotifyAnswer:
    status: int
    body: dict | None = None
    outcome: str = "settled"   # settled | ignored | mismatch | rejected | retry

    @staticmethod
    def fail(status: int, message: str, outcome: str) -> "NotifyAnswer":
        return NotifyAnswer(status, {"code": "FAIL", "message": message}, outcome)

    @staticmethod
    def ignored(message: str, outcome: str = "ignored") -> "NotifyAnswer":
        return NotifyAnswer(200, {"code": "SUCCESS", "message": f"acknowledged, not credited: {message}"}, outcome)


class PaymentNotifyHandler:
    def __init__(self, verifier: PlatformVerifier, apiv3_key: str, account: MerchantAccount, orders: OrderService,
                 metrics: Metrics | None = None):
        self._verifier = verifier
        self._key = apiv3_key
        self._account = account
        self._orders = orders
        self._metrics = metrics

    async def handle(self, headers, body: bytes) -> NotifyAnswer:
        try:
            self._verifier.verify(headers, body)
        except SignatureError as e:
            log.warning("WeChat Pay notify rejected (%s): %s", e.reason, e.message)
            return NotifyAnswer.fail(401, e.message, "rejected")
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
        except (ValueError, KeyError, TypeError, RecursionError):
            return NotifyAnswer.fail(400, "The notify body is not a WeChat Pay event with a resource.", "rejected")
        try:
            txn = json.loads(decrypt_resource(self._key, resource))
        except ValueError as e:
            log.error("WeChat Pay notify %s: %s; check payments.wechatpay.apiv3_key", envelope.get("id"), e)
            return NotifyAnswer.fail(500, "The resource could not be decrypted.", "retry")
        if not isinstance(txn, dict):
            return NotifyAnswer.fail(400, "The decrypted resource is not an object.", "rejected")
        problem = self._foreign(txn)
        if problem:
            log.error("WeChat Pay notify %s not credited: %s", envelope.get("id"), problem)
            return NotifyAnswer.ignored(problem)
        return await self._settle(txn)

    def _foreign(self, txn: dict) -> str | None:
        if txn.get("mchid") != self._account.mchid:
            return f"mchid {txn.get('mchid')!r} is not ours"
        if txn.get("appid") != self._account.appid:
            return f"appid {txn.get('appid')!r} is not ours"
        if txn.get("trade_state") != "SUCCESS":
            return f"trade_state is {txn.get('trade_state')!r}, not SUCCESS"
        if not txn.get("transaction_id"):
            return "no transaction_id"
        if order_id_of(str(txn.get("out_trade_no") or "")) is None:
            return f"out_trade_no {txn.get('out_trade_no')!r} is not one of our orders"
        return None

    async def _settle(self, txn: dict) -> NotifyAnswer:
        order_id = order_id_of(str(txn["out_trade_no"]))
        amount = txn.get("amount") if isinstance(txn.get("amount"), dict) else {}
        total, currency = amount.get("total"), amount.get("currency")
        if not isinstance(total, int) or isinstance(total, bool):
            return NotifyAnswer.ignored("amount.total is missing")
        if not isinstance(currency, str) or not currency:
            return self._mismatch(txn, order_id, "amount.currency is missing")
        try:
            # The currency is the order's own (CNY): a notify in another one (XTR, USD) never credits it.
            method = METHOD_OF_TRADE_TYPE.get(str(txn.get("trade_type") or ""), NAME)
            await self._orders.settle_paid(order_id, method, str(txn["transaction_id"]), total, currency)
        except PaymentMismatch as e:
            return self._mismatch(txn, order_id, e.message)
        except (NotFound, Conflict) as e:
            # Signed by WeChat Pay yet impossible to credit: the same notify will never settle, so stop
            # the retries; the log line is the operator's cue to look.
            log.error("WeChat Pay transaction %s for order %s not credited: %s",
                      txn["transaction_id"], order_id, e.message)
            return NotifyAnswer.ignored(e.message)
        except Exception:
            log.exception("WeChat Pay notify for order %s could not be settled; WeChat Pay will retry", order_id)
            return NotifyAnswer.fail(500, "Temporarily unable to record the payment; please retry.", "retry")
        return NotifyAnswer(204)

    def _mismatch(self, txn: dict, order_id: str | None, problem: str) -> NotifyAnswer:
        """Money arrived that does not match its order: acknowledged (a retry cannot fix it), nothing
        credited, counted and logged so the operator refunds it."""
        log.error("WeChat Pay payment mismatch: transaction %s for order %s not credited: %s; refund it "
                  "in the merchant platform", txn.get("transaction_id"), order_id, problem)
        if self._metrics is not None:
            self._metrics.errors.labels("wechatpay", "payment_mismatch").inc()
        return NotifyAnswer.ignored(f"{problem} (transaction {txn.get('transaction_id')}, order {order_id})", "mismatch")
