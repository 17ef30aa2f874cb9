"""Products and orders: the order state machine and the one place a payment turns into tokens."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Literal, Protocol, Sequence

from core.domain import Order, Page, Product
from core.errors import Conflict, InvalidRequest, NotFound, PaymentMismatch
from core.ports import OrderRepository, ProductRepository, Transactions, UserRepository
from core.quota import QuotaLedger, utcnow

log = logging.getLogger(__name__)

OPEN = ("unpaid", "paying")
# Money the provider confirms is never dropped: an order that expired or was cancelled while the
# user was paying is still credited.
SETTLEABLE = ("unpaid", "paying", "expired", "cancelled")
MB = 1024 * 1024
STARS = "XTR"  # Telegram Stars' currency code


@dataclass(frozen=True)
class PaymentStart:
    """What the user needs to pay: for WeChat Native, the code_url to show as a QR code."""

    payment_ref: str


@dataclass(frozen=True)
class Payer:
    """Who pays, as the channel knows them. WeChat Pay JSAPI needs the payer's openid (from the signed-in WeChat
    user, never from a request body), H5 the payer's address. A provider with `needs_payer = True` gets it."""

    openid: str | None = None
    client_ip: str | None = None


@dataclass(frozen=True)
class PaymentState:
    state: Literal["paid", "open", "closed", "refunded"]
    provider_txn_id: str | None = None
    amount: int | None = None
    currency: str | None = None


class PaymentProvider(Protocol):
    """A way to pay (WeChat Pay Native, Telegram Stars). `name` is the order's payment_method."""

    name: str

    async def start(self, order: Order) -> PaymentStart: ...

    async def query(self, order: Order) -> PaymentState: ...

    async def close(self, order: Order) -> None: ...

    async def refund(self, order: Order) -> None: ...


PaidListener = Callable[[Order], Awaitable[None]]


class OrderService:
    def __init__(self, *, products: ProductRepository, orders: OrderRepository, users: UserRepository,
                 quota: QuotaLedger, tx: Transactions, order_ttl_seconds: int = 1800,
                 clock: Callable[[], datetime] = utcnow):
        self._products = products
        self._orders = orders
        self._users = users
        self._quota = quota
        self._tx = tx
        self._ttl = timedelta(seconds=order_ttl_seconds)
        self._clock = clock
        self.providers: dict[str, PaymentProvider] = {}
        self.paid_listeners: list[PaidListener] = []

    def add_provider(self, provider: PaymentProvider) -> None:
        self.providers[provider.name] = provider

    # --- products ---

    async def products(self) -> list[Product]:
        return await self._products.list()

    async def product(self, product_id: str) -> Product:
        product = await self._products.get(product_id)
        if product is None or not product.active:
            raise NotFound("No such product.")
        return product

    async def put_product(self, product: Product) -> Product:
        return await self._products.put(product)

    async def remove_product(self, product_id: str) -> None:
        if not await self._products.deactivate(product_id):
            raise NotFound("No such product.")

    async def sync_products(self, configured: Sequence[Product]) -> None:
        """Config products are upserted at start-up; ones made through the API are left alone."""
        for product in configured:
            await self._products.put(product)

    # --- orders ---

    async def create(self, user_id: str, product_id: str, note: str = "") -> Order:
        product = await self.product(product_id)
        return await self._orders.create(user_id=user_id, product=product, note=note,
                                         expires_at=self._clock() + self._ttl)

    async def get(self, user_id: str | None, order_id: str) -> Order:
        """An order; with `user_id`, only that user's (another user's order is simply not found)."""
        order = await self._orders.get(order_id)
        if order is None or (user_id is not None and order.user_id != user_id):
            raise NotFound("Order not found.")
        return order

    async def list(self, user_id: str, status: str | None, limit: int, cursor: str | None) -> Page:
        return await self._orders.list_for_user(user_id, status, limit, cursor)

    async def set_note(self, user_id: str, order_id: str, note: str) -> Order:
        await self.get(user_id, order_id)
        order = await self._orders.set_note(order_id, note)
        assert order is not None
        return order

    async def cancel(self, user_id: str | None, order_id: str) -> Order:
        order = await self.get(user_id, order_id)
        if order.status == "paying" and order.payment_method in self.providers:
            await self.providers[order.payment_method].close(order)
        moved = await self._orders.transition(order_id, OPEN, "cancelled")
        if moved is None:
            raise Conflict(f"Only an unpaid order can be cancelled; this one is {order.status}.",
                           reason="invalid_state")
        return moved

    async def pay(self, user_id: str, order_id: str, method: str, payer: Payer | None = None) -> Order:
        """Start paying with `method`; asking again for an order already being paid reuses its payment."""
        order = await self.get(user_id, order_id)
        provider = self.providers.get(method)
        if provider is None:
            raise InvalidRequest(f"Payment method {method!r} is not available.", reason="unsupported_payment_method")
        if order.status == "paying" and order.payment_method == method and order.payment_ref:
            return order
        if order.status not in OPEN:
            raise Conflict(f"This order is {order.status} and cannot be paid.", reason="invalid_state")
        if order.expires_at and order.expires_at <= self._clock():
            await self._orders.transition(order_id, OPEN, "expired")
            raise Conflict("This order has expired; create a new one.", reason="invalid_state")
        if getattr(provider, "needs_payer", False):
            start = await provider.start(order, payer or Payer())  # type: ignore[call-arg]
        else:
            start = await provider.start(order)
        moved = await self._orders.transition(order_id, OPEN, "paying", payment_method=method,
                                              payment_ref=start.payment_ref)
        if moved is None:
            raise Conflict("The order changed while starting the payment; try again.", reason="invalid_state")
        return moved

    def expected_amount(self, order: Order, currency: str, *, in_stars: bool = False) -> int:
        """What a payment of `order` must amount to: minor units of the order's own currency, or its stars
        for a Telegram Stars payment. A payment in any other currency than that one never settles it."""
        if in_stars:
            if currency != STARS:
                raise PaymentMismatch(f"A Stars payment must be in {STARS}, not {currency}.")
            return order.stars
        if currency != order.currency:
            raise PaymentMismatch(f"Paid in {currency}, but the order is priced in {order.currency}.")
        return order.price_minor

    async def settle_paid(self, order_id: str, provider: str, provider_txn_id: str, amount: int,
                          currency: str | None = None, *, in_stars: bool = False) -> Order:
        """Credit a paid order exactly once. `amount` is in minor units (fen) of `currency`, which must be
        the order's own; with `in_stars` (Telegram Stars) it is in stars and `currency` must be XTR.

        A repeated notice for the same transaction returns the paid order and credits nothing;
        a wrong amount or currency raises PaymentMismatch and credits nothing."""
        order = await self._orders.get(order_id)
        if order is None:
            raise NotFound("Order not found.")
        if amount != self.expected_amount(order, currency or order.currency, in_stars=in_stars):
            raise PaymentMismatch(f"Paid amount {amount} does not match the order's price.")
        async with self._tx.atomic():
            moved = await self._orders.transition(order_id, SETTLEABLE, "paid", payment_method=provider,
                                                  provider_txn_id=provider_txn_id, paid_at=self._clock())
            if moved is not None:
                await self._quota.credit(moved.user_id, moved.tokens, "purchase", key=f"purchase:{order_id}",
                                         ref=order_id)
                if moved.storage_mb:
                    await self._users.add_storage_limit(moved.user_id, moved.storage_mb * MB)
        if moved is None:
            current = await self.get(None, order_id)
            if current.provider_txn_id == provider_txn_id and current.status in ("paid", "refunded"):
                return current
            raise Conflict(f"Order is already {current.status}.", reason="invalid_state")
        for listener in self.paid_listeners:
            try:
                await listener(moved)
            except Exception:
                log.warning("paid listener failed for order %s", order_id, exc_info=True)
        return moved

    async def check_payment(self, order: Order) -> Order:
        """Ask the provider about an open order; settle it if paid (a lost notice still credits)."""
        if order.status != "paying" or order.payment_method not in self.providers:
            return order
        state = await self.providers[order.payment_method].query(order)
        if state.state == "paid" and state.provider_txn_id and state.amount is not None:
            return await self.settle_paid(order.id, order.payment_method, state.provider_txn_id, state.amount,
                                          state.currency)
        if state.state == "closed":
            return await self._orders.transition(order.id, ("paying",), "expired") or await self.get(None, order.id)
        return order

    async def refund(self, order_id: str) -> Order:
        """Refund a paid order at its provider and debit its tokens back, once."""
        order = await self.get(None, order_id)
        if order.status == "refunded":
            return order
        if order.status != "paid":
            raise Conflict(f"Only a paid order can be refunded; this one is {order.status}.", reason="invalid_state")
        provider = self.providers.get(order.payment_method or "")
        if provider is not None:
            await provider.refund(order)
        async with self._tx.atomic():
            moved = await self._orders.transition(order_id, ("paid",), "refunded")
            if moved is not None:
                await self._quota.debit(moved.user_id, moved.tokens, "refund", key=f"refund:{order_id}", ref=order_id)
                if moved.storage_mb:
                    await self._users.add_storage_limit(moved.user_id, -moved.storage_mb * MB)
        return moved or await self.get(None, order_id)

    async def sweep(self, limit: int = 100) -> int:
        """Settle paid orders whose notice was lost, and expire stale ones. Returns orders changed."""
        changed = 0
        now = self._clock()
        for status in OPEN:
            for order in await self._orders.list_by_status(status, limit):
                try:
                    if status == "paying":
                        after = await self.check_payment(order)
                        if after.status != order.status:
                            changed += 1
                            continue
                    if order.expires_at and order.expires_at <= now:
                        if status == "paying" and order.payment_method in self.providers:
                            await self.providers[order.payment_method].close(order)
                        if await self._orders.transition(order.id, (status,), "expired"):
                            changed += 1
                except Exception:
                    log.warning("sweep of order %s failed", order.id, exc_info=True)
        return changed
