"""Telegram Stars: invoices for orders, the pre-checkout check, settling a payment once, and refunds."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from telegram import LabeledPrice, PreCheckoutQuery, SuccessfulPayment, Update
from telegram import User as TelegramUser
from telegram.error import BadRequest, TelegramError
from telegram.ext import BaseHandler, ContextTypes, MessageHandler, PreCheckoutQueryHandler, filters

from adapters.telegram.sender import TelegramSender
from adapters.telegram.speaker import Speaker
from adapters.telegram.users import CHANNEL, TelegramUsers
from core.accounts import AccountService
from core.domain import Order
from core.errors import Conflict, DomainError, NotFound, PaymentMismatch, UpstreamError
from core.i18n import Text, Texts
from core.i18n_errors import error_text
from core.orders import OPEN, OrderService, PaymentStart, PaymentState
from core.ports import EphemeralStore

log = logging.getLogger(__name__)

PROVIDER = "telegram_stars"
CURRENCY = "XTR"
PAID_NOTICE_TTL = 90 * 86400
ORDER_ID_CHARS = 36


def _invoice(order: Order, texts: Texts, locale: str) -> dict:
    if order.tokens <= 0:
        description = order.product_name
    elif order.storage_mb:
        description = texts.get("invoice.tokens_storage", locale, tokens=order.tokens, mb=order.storage_mb)
    else:
        description = texts.get("invoice.tokens", locale, tokens=order.tokens)
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

    def __init__(self, sender: TelegramSender, accounts: AccountService, texts: Texts, provider_token: str):
        self._sender = sender
        self._accounts = accounts
        self._texts = texts
        self._provider_token = provider_token

    async def start(self, order: Order) -> PaymentStart:
        if order.stars <= 0:
            raise DomainError("This product is not sold for Telegram Stars.", reason="unsupported_payment_method")
        user = await self._accounts.get(order.user_id)
        locale = self._texts.locale_for(user.locale)
        link = await self._sender.bot.create_invoice_link(**_invoice(order, self._texts, locale),
                                                         provider_token=self._provider_token)
        return PaymentStart(link)

    async def query(self, order: Order) -> PaymentState:
        return PaymentState("open")

    async def close(self, order: Order) -> None:
        """An invoice cannot be withdrawn; the pre-checkout check refuses orders that are no longer open."""

    async def refund(self, order: Order) -> None:
        if not order.provider_txn_id:
            raise Conflict("This order has no Telegram payment to refund.", reason="invalid_state")
        user = await self._accounts.get(order.user_id)
        payers = [int(i.external_id) for i in user.identities if i.channel == CHANNEL and i.external_id.isdigit()]
        problem = "the user has no Telegram account"
        for payer in payers:  # normally one; a user who linked several Telegram accounts may have paid from any
            try:
                await self._sender.bot.refund_star_payment(payer, order.provider_txn_id)
                return
            except BadRequest as e:
                if "already_refunded" in e.message.lower():
                    return
                problem = e.message
            except TelegramError as e:
                raise UpstreamError(f"Telegram did not answer the refund: {e.message}") from e
        raise UpstreamError(f"Telegram refused the refund: {problem}.", reason="refund_failed")


class StarsCheckout:
    """Invoices for orders /buy made, the pre-checkout check, and settling a successful payment once."""

    def __init__(self, orders: OrderService, accounts: AccountService, seen: EphemeralStore, users: TelegramUsers,
                 speaker: Speaker, texts: Texts, provider_token: str):
        self._orders = orders
        self._accounts = accounts
        self._seen = seen
        self._users = users
        self._speaker = speaker
        self._sender = speaker.sender
        self._texts = texts
        self._provider_token = provider_token

    def handlers(self) -> list[BaseHandler]:
        return [PreCheckoutQueryHandler(self.pre_checkout),
                MessageHandler(filters.UpdateType.MESSAGE & filters.SUCCESSFUL_PAYMENT,
                               self._speaker.guarded(self.paid))]

    async def send_invoice(self, chat_id: int, order: Order, locale: str) -> None:
        """The invoice for an order /buy made: its payload is the order id (never a price)."""
        await self._sender.call(chat_id, lambda: self._sender.bot.send_invoice(
            chat_id, **_invoice(order, self._texts, locale), provider_token=self._provider_token), idempotent=False)

    async def pre_checkout(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.pre_checkout_query
        assert query is not None
        locale = self._texts.default_locale
        try:
            user, locale = await self._users.user_and_locale(query.from_user)
            problem = await self.problem(query, user.id)
        except Exception:
            log.exception("pre-checkout check failed")
            problem = Text.of("payment.unavailable")
        await query.answer(ok=problem is None,
                           error_message=self._texts.render(problem, locale) if problem is not None else None)

    async def problem(self, query: PreCheckoutQuery, user_id: str) -> Text | None:
        """Why this checkout must be refused, as a text the payer can read; None when it may go ahead."""
        try:
            order = await self._orders.get(None, _order_id(query.invoice_payload))
        except NotFound:
            return Text.of("checkout.no_order")
        if order.user_id != user_id:
            return Text.of("checkout.not_yours")
        if order.status in ("paid", "refunded"):
            return Text.of("checkout.already_paid")
        expired = order.expires_at is not None and order.expires_at <= datetime.now(timezone.utc)
        if order.status not in OPEN or expired:
            return Text.of("checkout.closed")
        if query.currency != CURRENCY:
            return Text.of("checkout.stars_only")
        if query.total_amount != order.stars:
            return Text.of("checkout.amount", stars=order.stars)
        return None

    async def paid(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.successful_payment is not None and message.from_user is not None
        payment = message.successful_payment
        try:
            # in_stars: this payment settles the order's Stars price, so it must be in XTR, never its money price
            order = await self._orders.settle_paid(_order_id(payment.invoice_payload), PROVIDER,
                                                   payment.telegram_payment_charge_id, payment.total_amount,
                                                   payment.currency, in_stars=True)
        except (NotFound, PaymentMismatch, Conflict) as e:
            await self._return_unapplied(update, message.from_user, payment, e)
            return
        # settle_paid credits once per order; a replayed update must not announce it twice either.
        if not await self._seen.add("telegram_paid", payment.telegram_payment_charge_id, order.id, PAID_NOTICE_TTL):
            return
        user = await self._accounts.get(order.user_id)
        await self._speaker.tell(update, payment_received(order, user.balance))

    async def _return_unapplied(self, update: Update, payer: TelegramUser, payment: SuccessfulPayment,
                                error: DomainError) -> None:
        """Money that cannot go to its order (already paid another way, unknown, wrong amount) goes back."""
        log.warning("Stars payment %s for order %r not applied: %s", payment.telegram_payment_charge_id,
                    payment.invoice_payload, error.message)
        locale = await self._speaker.locale_of(update)
        problem = self._texts.render(error_text(error), locale)
        try:
            await self._sender.bot.refund_star_payment(payer.id, payment.telegram_payment_charge_id)
            note = Text.of("payment.unapplied_refunded", problem=problem)
        except TelegramError as e:
            log.error("refunding unapplied Stars payment %s failed: %s", payment.telegram_payment_charge_id, e)
            note = Text.of("payment.unapplied_contact", problem=problem, payment=payment.telegram_payment_charge_id)
        await self._speaker.say(update, self._texts.render(note, locale))


def payment_received(order: Order, balance: int) -> Text:
    return Text.of("payment.received", product=order.product_name, tokens=order.tokens, balance=balance)


def paid_listener(accounts: AccountService, sender: TelegramSender, texts: Texts):
    """Tell a user on Telegram when an order they paid another way (WeChat Pay) has been credited."""

    async def notify(order: Order) -> None:
        if order.payment_method == PROVIDER:
            return  # the successful_payment handler has told them, in the chat where they paid
        user = await accounts.get(order.user_id)
        text = texts.render(payment_received(order, user.balance), texts.locale_for(user.locale))
        for identity in user.identities:
            if identity.channel == CHANNEL and identity.external_id.isdigit():
                try:
                    await sender.send(int(identity.external_id), text)
                except TelegramError as e:
                    log.info("could not tell Telegram user %s about order %s: %s", identity.external_id, order.id, e)

    return notify
