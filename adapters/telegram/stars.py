"""Telegram Stars: invoices for orders, the pre-checkout check, settling a payment once, and refunds."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from telegram import LabeledPrice, PreCheckoutQuery, SuccessfulPayment, Update
from telegram import User as TelegramUser
from telegram.error import BadRequest, TelegramError
from telegram.ext import BaseHandler, ContextTypes, MessageHandler, PreCheckoutQueryHandler, filters

from adapters.telegram.parts import CHANNEL, ChannelParts, user_errors
from core.domain import Order
from core.errors import Conflict, DomainError, NotFound, PaymentMismatch, UpstreamError
from core.orders import OPEN, PaymentStart, PaymentState

log = logging.getLogger(__name__)

PROVIDER = "telegram_stars"
CURRENCY = "XTR"
PAID_NOTICE_TTL = 90 * 86400
ORDER_ID_CHARS = 36


def _invoice(order: Order) -> dict:
    description = order.product_name if order.tokens <= 0 else f"{order.tokens:,} tokens"
    if order.storage_mb:
        description += f" and {order.storage_mb} MB of storage"
    return {"title": order.product_name[:32], "description": description[:255], "payload": order.id,
            "currency": CURRENCY, "prices": [LabeledPrice(order.product_name[:32], order.stars)]}


def _order_id(payload: str) -> str:
    """The order an invoice payload names. Our payloads are order ids (uuids); anything longer, or with
    control characters, names no order (and is never looked up)."""
    if not 0 < len(payload) <= ORDER_ID_CHARS or not payload.isprintable():
        raise NotFound("This order does not exist.")
    return payload


class StarsProvider:
    """The `telegram_stars` PaymentProvider: Telegram confirms payments with updates, so start gives an
    invoice link, query has nothing to ask, and refund returns the Stars to the account that paid."""

    name = PROVIDER

    def __init__(self, parts: ChannelParts):
        self._parts = parts

    async def start(self, order: Order) -> PaymentStart:
        if order.stars <= 0:
            raise DomainError("This product is not sold for Telegram Stars.", reason="unsupported_payment_method")
        link = await self._parts.sender.bot.create_invoice_link(
            **_invoice(order), provider_token=self._parts.config.payments.telegram.provider_token)
        return PaymentStart(link)

    async def query(self, order: Order) -> PaymentState:
        return PaymentState("open")

    async def close(self, order: Order) -> None:
        """An invoice cannot be withdrawn; the pre-checkout check refuses orders that are no longer open."""

    async def refund(self, order: Order) -> None:
        if not order.provider_txn_id:
            raise Conflict("This order has no Telegram payment to refund.", reason="invalid_state")
        user = await self._parts.services.accounts.get(order.user_id)
        payers = [int(i.external_id) for i in user.identities if i.channel == CHANNEL and i.external_id.isdigit()]
        problem = "the user has no Telegram account"
        for payer in payers:  # normally one; a user who linked several Telegram accounts may have paid from any
            try:
                await self._parts.sender.bot.refund_star_payment(payer, order.provider_txn_id)
                return
            except BadRequest as e:
                if "already_refunded" in e.message.lower():
                    return
                problem = e.message
            except TelegramError as e:
                raise UpstreamError(f"Telegram did not answer the refund: {e.message}") from e
        raise UpstreamError(f"Telegram refused the refund: {problem}.", reason="refund_failed")


class StarsCheckout:
    def __init__(self, parts: ChannelParts):
        self._parts = parts

    def handlers(self) -> list[BaseHandler]:
        return [PreCheckoutQueryHandler(self.pre_checkout),
                MessageHandler(filters.UpdateType.MESSAGE & filters.SUCCESSFUL_PAYMENT,
                               user_errors(self._parts, self.paid))]

    async def send_invoice(self, update: Update, product_id: str) -> None:
        """The pressed pack becomes an order, and the order an invoice whose payload is its id (never a price)."""
        chat, who = update.effective_chat, update.effective_user
        assert chat is not None and who is not None
        if not self._parts.stars_enabled:
            raise DomainError("Buying in Telegram is not available here.")
        product = await self._parts.services.orders.product(product_id)
        if product.stars <= 0:
            raise DomainError("This pack is not sold for Telegram Stars.")
        user = await self._parts.user(who)
        order = await self._parts.services.orders.create(user.id, product_id, note="telegram")
        await self._parts.sender.call(chat.id, lambda: self._parts.sender.bot.send_invoice(
            chat.id, **_invoice(order), provider_token=self._parts.config.payments.telegram.provider_token),
            idempotent=False)

    async def pre_checkout(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.pre_checkout_query
        assert query is not None
        try:
            problem = await self.problem(query)
        except Exception:
            log.exception("pre-checkout check failed")
            problem = "Payments are not available right now; please try again later."
        await query.answer(ok=problem is None, error_message=problem)

    async def problem(self, query: PreCheckoutQuery) -> str | None:
        """Why this checkout must be refused, in words the payer can read; None when it may go ahead."""
        services = self._parts.services
        try:
            order = await services.orders.get(None, _order_id(query.invoice_payload))
        except NotFound:
            return "This order does not exist. Use /buy to start a new one."
        user = await self._parts.user(query.from_user)
        if order.user_id != user.id:
            return "This order belongs to another account."
        if order.status in ("paid", "refunded"):
            return "This order has already been paid."
        expired = order.expires_at is not None and order.expires_at <= datetime.now(timezone.utc)
        if order.status not in OPEN or expired:
            return "This order is no longer open. Use /buy to start a new one."
        if query.currency != CURRENCY:
            return "This order can only be paid in Telegram Stars."
        if query.total_amount != order.stars:
            return f"The amount does not match this order ({order.stars} ⭐)."
        return None

    async def paid(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.successful_payment is not None and message.from_user is not None
        payment = message.successful_payment
        services = self._parts.services
        try:
            # in_stars: this payment settles the order's Stars price, so it must be in XTR, never its money price
            order = await services.orders.settle_paid(_order_id(payment.invoice_payload), PROVIDER,
                                                      payment.telegram_payment_charge_id, payment.total_amount,
                                                      payment.currency, in_stars=True)
        except (NotFound, PaymentMismatch, Conflict) as e:
            await self._return_unapplied(update, message.from_user, payment, e)
            return
        # settle_paid credits once per order; a replayed update must not announce it twice either.
        if not await services.ephemeral.add("telegram_paid", payment.telegram_payment_charge_id, order.id,
                                            PAID_NOTICE_TTL):
            return
        user = await services.accounts.get(order.user_id)
        await self._parts.say(update, f"✅ Payment received: {order.product_name}, +{order.tokens:,} tokens.\n"
                                      f"Balance: {user.balance:,} tokens.")

    async def _return_unapplied(self, update: Update, payer: TelegramUser, payment: SuccessfulPayment,
                                error: DomainError) -> None:
        """Money that cannot go to its order (already paid another way, unknown, wrong amount) goes back."""
        log.warning("Stars payment %s for order %r not applied: %s", payment.telegram_payment_charge_id,
                    payment.invoice_payload, error.message)
        try:
            await self._parts.sender.bot.refund_star_payment(payer.id, payment.telegram_payment_charge_id)
            note = "the Stars have been refunded"
        except TelegramError as e:
            log.error("refunding unapplied Stars payment %s failed: %s", payment.telegram_payment_charge_id, e)
            note = f"contact support with payment id {payment.telegram_payment_charge_id}"
        await self._parts.say(update, f"This payment could not be applied ({error.message}); {note}.")


def paid_listener(parts: ChannelParts):
    """Tell a user on Telegram when an order they paid another way (WeChat Pay) has been credited."""

    async def notify(order: Order) -> None:
        if order.payment_method == PROVIDER:
            return  # the successful_payment handler has told them, in the chat where they paid
        user = await parts.services.accounts.get(order.user_id)
        for identity in user.identities:
            if identity.channel == CHANNEL and identity.external_id.isdigit():
                try:
                    await parts.sender.send(int(identity.external_id),
                                            f"✅ Payment received: {order.product_name}, +{order.tokens:,} tokens.\n"
                                            f"Balance: {user.balance:,} tokens.")
                except TelegramError as e:
                    log.info("could not tell Telegram user %s about order %s: %s", identity.external_id, order.id, e)

    return notify
