"""OrderService on in-memory repositories: a payment turns into tokens and storage exactly once, a wrong amount
credits nothing, refunds take back once, and the sweep settles lost notices and expires stale orders."""
from __future__ import annotations

import pytest

from core.errors import Conflict, PaymentMismatch
from core.orders import MB, PaymentState
from tests.unit.commands_support import user
from tests.unit.memory_model import STARTER, RecordingPaymentProvider, build


async def _shop(grant: int = 0):
    core = build(grant=grant)
    await core.orders.put_product(STARTER)
    pay = RecordingPaymentProvider("wechat_native")
    core.orders.add_provider(pay)
    return core, pay


def _kinds(core, user_id: str) -> list[str]:
    return [e.kind for e in core.db.entries if e.user_id == user_id]


async def test_a_paid_order_credits_tokens_and_storage_once() -> None:
    core, _ = await _shop()
    alice = await user(core)
    told: list[str] = []

    async def listener(order) -> None:
        told.append(order.id)

    core.orders.paid_listeners.append(listener)
    order = await core.orders.create(alice.id, "starter")
    paid = await core.orders.settle_paid(order.id, "wechat_native", "txn-1", 990, "CNY")
    again = await core.orders.settle_paid(order.id, "wechat_native", "txn-1", 990, "CNY")   # a replayed notice
    assert paid.status == again.status == "paid" and told == [order.id]
    after = await core.accounts.get(alice.id)
    assert after.balance == 5000 and after.storage_limit_bytes == 5 * MB + 50 * MB
    assert _kinds(core, alice.id) == ["purchase"]
    with pytest.raises(Conflict):
        await core.orders.settle_paid(order.id, "wechat_native", "txn-other", 990, "CNY")
    assert (await core.accounts.get(alice.id)).balance == 5000


async def test_a_wrong_amount_or_currency_credits_nothing() -> None:
    core, _ = await _shop()
    alice = await user(core)
    order = await core.orders.create(alice.id, "starter")
    with pytest.raises(PaymentMismatch):
        await core.orders.settle_paid(order.id, "wechat_native", "txn-1", 1, "CNY")
    with pytest.raises(PaymentMismatch):
        await core.orders.settle_paid(order.id, "wechat_native", "txn-1", 990, "USD")
    assert (await core.orders.get(alice.id, order.id)).status == "unpaid" and _kinds(core, alice.id) == []


async def test_money_for_an_expired_order_is_still_credited() -> None:
    core, _ = await _shop()
    alice = await user(core)
    order = await core.orders.create(alice.id, "starter")
    core.clock.advance(1801)
    with pytest.raises(Conflict):
        await core.orders.pay(alice.id, order.id, "wechat_native")
    assert (await core.orders.get(alice.id, order.id)).status == "expired"
    paid = await core.orders.settle_paid(order.id, "wechat_native", "late-txn", 990, "CNY")
    assert paid.status == "paid" and (await core.accounts.get(alice.id)).balance == 5000


async def test_a_settlement_that_fails_halfway_leaves_the_order_open() -> None:
    core, _ = await _shop()
    alice = await user(core)
    order = await core.orders.create(alice.id, "starter")
    del core.db.users[alice.id]                 # the credit fails inside the transaction
    with pytest.raises(LookupError):
        await core.orders.settle_paid(order.id, "wechat_native", "txn-1", 990, "CNY")
    assert core.db.orders[order.id].status == "unpaid"


async def test_a_refund_takes_the_tokens_back_once() -> None:
    core, pay = await _shop(grant=100)
    alice = await user(core)
    order = await core.orders.create(alice.id, "starter")
    await core.orders.settle_paid(order.id, "wechat_native", "txn-1", 990, "CNY")
    refunded = await core.orders.refund(order.id)
    assert refunded.status == "refunded" and (await core.orders.refund(order.id)).status == "refunded"
    assert pay.calls == [("refund", order.id)]
    after = await core.accounts.get(alice.id)
    assert (after.balance, after.storage_limit_bytes) == (100, 5 * MB)
    assert _kinds(core, alice.id) == ["grant", "purchase", "refund"]


async def test_cancelling_a_payment_in_progress_closes_it_at_the_provider() -> None:
    core, pay = await _shop()
    alice = await user(core)
    order = await core.orders.pay(alice.id, (await core.orders.create(alice.id, "starter")).id, "wechat_native")
    assert (await core.orders.cancel(alice.id, order.id)).status == "cancelled"
    assert pay.calls == [("start", order.id), ("close", order.id)]
    with pytest.raises(Conflict):
        await core.orders.cancel(alice.id, order.id)


async def test_the_sweep_settles_lost_notices_and_expires_stale_orders() -> None:
    core, pay = await _shop()
    alice = await user(core)
    paying = await core.orders.pay(alice.id, (await core.orders.create(alice.id, "starter")).id, "wechat_native")
    stale = await core.orders.create(alice.id, "starter")
    pay.state = PaymentState("paid", "txn-lost", 990, "CNY")
    core.clock.advance(1801)
    assert await core.orders.sweep() == 2
    assert core.db.orders[paying.id].status == "paid" and core.db.orders[stale.id].status == "expired"
    assert (await core.accounts.get(alice.id)).balance == 5000
