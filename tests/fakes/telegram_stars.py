"""Telegram Stars in the fake Bot API: invoices, the pre-checkout round trip, payments and refunds."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from tests.fakes.telegram_state import ApiError, FakeMessage


@dataclass(frozen=True)
class Payment:
    answer: dict                 # what the bot answered to the pre_checkout_query
    charge_id: str | None        # telegram_payment_charge_id, when the payment went through
    update: dict | None          # the successful_payment update, for replaying it


class StarsApi:
    """Mixed into FakeTelegram: the payment methods a bot calls, and a user paying an invoice."""

    issued_pre_checkouts: set[str]
    pre_checkout_answers: dict[str, dict]
    charges: dict[str, dict]
    invoice_links: dict[str, dict]

    def _invoice(self, params: dict) -> dict:
        if not 1 <= len(params.get("title", "")) <= 32:
            raise ApiError(400, "Bad Request: INVOICE_TITLE_INVALID")
        if not 1 <= len(params.get("description", "")) <= 255:
            raise ApiError(400, "Bad Request: INVOICE_DESCRIPTION_INVALID")
        if not 1 <= len(params.get("payload", "").encode()) <= 128:
            raise ApiError(400, "Bad Request: INVOICE_PAYLOAD_INVALID")
        prices = params.get("prices") or []
        currency = params.get("currency")
        if currency == "XTR" and (params.get("provider_token") or len(prices) != 1):
            raise ApiError(400, "Bad Request: STARS_INVOICE_INVALID")
        if not prices or any(not isinstance(p.get("amount"), int) or p["amount"] <= 0 for p in prices):
            raise ApiError(400, "Bad Request: INVOICE_PRICES_INVALID")
        return {"title": params["title"], "description": params["description"], "start_parameter": "",
                "currency": currency, "total_amount": sum(p["amount"] for p in prices)}

    async def api_sendInvoice(self, params: dict) -> dict:
        chat = self._chat(params.get("chat_id"))  # type: ignore[attr-defined]
        invoice = self._invoice(params)
        message = FakeMessage(chat, self._new_id(chat["id"]), self.me, reply_markup=params.get("reply_markup"),  # type: ignore[attr-defined]
                              extra={"invoice": invoice}, payload=params["payload"])
        return self.store(message).to_json()  # type: ignore[attr-defined]

    async def api_createInvoiceLink(self, params: dict) -> str:
        invoice = self._invoice(params)
        link = "https://t.me/$" + secrets.token_urlsafe(12)
        self.invoice_links[link] = {**invoice, "payload": params["payload"]}
        return link

    async def api_answerPreCheckoutQuery(self, params: dict) -> bool:
        query_id = params.get("pre_checkout_query_id")
        if query_id not in self.issued_pre_checkouts or query_id in self.pre_checkout_answers:
            raise ApiError(400, "Bad Request: QUERY_ID_INVALID")
        if not params.get("ok") and not params.get("error_message"):
            raise ApiError(400, "Bad Request: ERROR_MESSAGE_EMPTY")
        self.pre_checkout_answers[query_id] = params
        return True

    async def api_refundStarPayment(self, params: dict) -> bool:
        charge = self.charges.get(params.get("telegram_payment_charge_id", ""))
        if charge is None or charge["user_id"] != params.get("user_id"):
            raise ApiError(400, "Bad Request: CHARGE_NOT_FOUND")
        if charge["refunded"]:
            raise ApiError(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        charge["refunded"] = True
        return True

    # --- the paying user ----------------------------------------------------------------------

    async def pre_checkout(self, user: dict, payload: str, total_amount: int, currency: str = "XTR") -> dict:
        """Telegram asks the bot to confirm a checkout (as when the user taps Pay); returns the bot's answer."""
        query_id = secrets.token_hex(8)
        self.issued_pre_checkouts.add(query_id)
        query = {"id": query_id, "from": user, "currency": currency, "total_amount": total_amount,
                 "invoice_payload": payload}
        await self.deliver({"update_id": self.next_update_id(), "pre_checkout_query": query})  # type: ignore[attr-defined]
        return await self.wait_until(lambda: self.pre_checkout_answers.get(query_id))  # type: ignore[attr-defined]

    async def pay(self, chat: dict, user: dict, invoice: Any) -> Payment:
        """The user pays an invoice message: pre-checkout, then (if the bot said ok) successful_payment."""
        details = invoice.extra["invoice"]
        answer = await self.pre_checkout(user, invoice.payload, details["total_amount"], details["currency"])
        if not answer.get("ok"):
            return Payment(answer, None, None)
        charge_id = "stxn" + secrets.token_hex(12)
        self.charges[charge_id] = {"user_id": user["id"], "amount": details["total_amount"], "refunded": False}
        paid = {"currency": details["currency"], "total_amount": details["total_amount"],
                "invoice_payload": invoice.payload, "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": ""}
        message = FakeMessage(chat, self._new_id(chat["id"]), user, extra={"successful_payment": paid})  # type: ignore[attr-defined]
        self.store(message)  # type: ignore[attr-defined]
        update = {"update_id": self.next_update_id(), "message": message.to_json()}  # type: ignore[attr-defined]
        await self.deliver(update)  # type: ignore[attr-defined]
        return Payment(answer, charge_id, update)
