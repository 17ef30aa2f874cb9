"""Orders core against real SQLite and PostgreSQL: state machine, settle_paid exactly once, refunds."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from adapters.storage import db
from bot.wiring import Repositories
from core.accounts import AccountService
from core.domain import Identity, Order, Product
from core.errors import Conflict, NotFound, PaymentMismatch
from core.orders import OrderService, PaymentStart, PaymentState
from core.quota import QuotaLedger
from adapters.storage.ephemeral import DatabaseEphemeralStore

PACK = Product("pack", "Pack", "", Decimal("9.90"), "CNY", tokens=5000, storage_mb=10, stars=100)


class RecordingProvider:
    """A payment provider double at the port: records what the service asked of it."""

    name = "fakepay"

    def __init__(self) -> None:
        self.started: list[str] = []
        self.refunded: list[str] = []
        self.closed: list[str] = []
        self.state = PaymentState("open")

    async def start(self, order: Order) -> PaymentStart:
        self.started.append(order.id)
        return PaymentStart(f"weixin://pay/{order.id}")

    async def query(self, order: Order) -> PaymentState:
        return self.state

    async def close(self, order: Order) -> None:
        self.closed.append(order.id)

    async def refund(self, order: Order) -> None:
        self.refunded.append(order.id)


@pytest.fixture
async def shop(database_url: str):
    await db.open_database(database_url)
    repos = Repositories()
    quota = QuotaLedger(repos.ledger)
    accounts = AccountService(repos.users, quota, DatabaseEphemeralStore(), repos.tx, signup_grant=100,
                              default_storage_bytes=0)
    clock = [datetime.now(timezone.utc)]
    orders = OrderService(products=repos.products, orders=repos.orders, users=repos.users, quota=quota, tx=repos.tx,
                          order_ttl_seconds=600, clock=lambda: clock[0])
    provider = RecordingProvider()
    orders.add_provider(provider)
    await orders.sync_products([PACK])
    user = await accounts.ensure_user(Identity("test", "alice"))
    yield orders, accounts, user, provider, clock
    await db.close_database()


async def test_price_is_copied_and_settle_credits_once(shop) -> None:
    orders, accounts, user, provider, _ = shop
    order = await orders.create(user.id, "pack", note="gift")
    await orders.put_product(Product("pack", "Pack", "", Decimal("19.90"), "CNY", 1, 0, 1))  # price change later
    assert order.price == Decimal("9.90") and order.status == "unpaid"
    paid = await orders.settle_paid(order.id, "fakepay", "txn-1", 990, "CNY")
    again = await orders.settle_paid(order.id, "fakepay", "txn-1", 990, "CNY")
    assert paid.status == again.status == "paid"
    fresh = await accounts.get(user.id)
    assert fresh.balance == 100 + 5000
    assert fresh.storage_limit_bytes == 10 * 1024 * 1024


async def test_concurrent_notices_credit_once(shop) -> None:
    orders, accounts, user, _, _ = shop
    order = await orders.create(user.id, "pack")
    results = await asyncio.gather(*(orders.settle_paid(order.id, "fakepay", "txn-9", 990, "CNY")
                                     for _ in range(50)), return_exceptions=True)
    assert all(isinstance(r, Order) and r.status == "paid" for r in results), results
    assert (await accounts.get(user.id)).balance == 5100


async def test_wrong_amount_or_currency_credits_nothing(shop) -> None:
    orders, accounts, user, _, _ = shop
    order = await orders.create(user.id, "pack")
    with pytest.raises(PaymentMismatch):
        await orders.settle_paid(order.id, "fakepay", "txn-2", 1, "CNY")
    with pytest.raises(PaymentMismatch):
        await orders.settle_paid(order.id, "fakepay", "txn-2", 990, "USD")
    with pytest.raises(PaymentMismatch):
        await orders.settle_paid(order.id, "stars", "charge-1", 99, "XTR", in_stars=True)
    with pytest.raises(PaymentMismatch):  # the Stars price through a money provider: the order takes CNY
        await orders.settle_paid(order.id, "fakepay", "txn-2", 100, "XTR")
    with pytest.raises(PaymentMismatch):  # a Stars payment in the order's money currency and price
        await orders.settle_paid(order.id, "stars", "charge-1", 990, "CNY", in_stars=True)
    assert (await orders.get(user.id, order.id)).status == "unpaid"
    assert (await accounts.get(user.id)).balance == 100
    paid = await orders.settle_paid(order.id, "stars", "charge-1", 100, "XTR", in_stars=True)
    assert paid.status == "paid"


async def test_another_transaction_for_a_paid_order_is_a_conflict(shop) -> None:
    orders, _, user, _, _ = shop
    order = await orders.create(user.id, "pack")
    await orders.settle_paid(order.id, "fakepay", "txn-a", 990, "CNY")
    with pytest.raises(Conflict):
        await orders.settle_paid(order.id, "fakepay", "txn-b", 990, "CNY")


async def test_orders_are_private(shop) -> None:
    orders, accounts, user, _, _ = shop
    bob = await accounts.ensure_user(Identity("test", "bob"))
    order = await orders.create(user.id, "pack")
    with pytest.raises(NotFound):
        await orders.get(bob.id, order.id)
    with pytest.raises(NotFound):
        await orders.cancel(bob.id, order.id)
    with pytest.raises(NotFound):
        await orders.create(user.id, "no-such-product")


async def test_pay_reuses_open_payment_and_cancel_rules(shop) -> None:
    orders, _, user, provider, _ = shop
    order = await orders.create(user.id, "pack")
    first = await orders.pay(user.id, order.id, "fakepay")
    second = await orders.pay(user.id, order.id, "fakepay")
    assert first.status == "paying" and first.payment_ref == second.payment_ref
    assert provider.started == [order.id]
    cancelled = await orders.cancel(user.id, order.id)
    assert cancelled.status == "cancelled" and provider.closed == [order.id]
    with pytest.raises(Conflict):
        await orders.cancel(user.id, order.id)


async def test_lost_notice_is_recovered_by_check_and_sweep_expires(shop) -> None:
    orders, accounts, user, provider, clock = shop
    order = await orders.create(user.id, "pack")
    await orders.pay(user.id, order.id, "fakepay")
    provider.state = PaymentState("paid", "txn-late", 990, "CNY")
    checked = await orders.check_payment(await orders.get(user.id, order.id))
    assert checked.status == "paid" and (await accounts.get(user.id)).balance == 5100
    stale = await orders.create(user.id, "pack")
    clock[0] += timedelta(seconds=601)
    assert await orders.sweep() >= 1
    assert (await orders.get(user.id, stale.id)).status == "expired"


async def test_refund_debits_once(shop) -> None:
    orders, accounts, user, provider, _ = shop
    order = await orders.create(user.id, "pack")
    await orders.settle_paid(order.id, "fakepay", "txn-r", 990, "CNY")
    refunded = await orders.refund(order.id)
    again = await orders.refund(order.id)
    assert refunded.status == again.status == "refunded"
    assert provider.refunded == [order.id]
    fresh = await accounts.get(user.id)
    assert fresh.balance == 100 and fresh.storage_limit_bytes == 0
