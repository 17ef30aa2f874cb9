"""/buy and /paid through the command layer: no order without a payment method, the pack choice, then the
payment to show (WeChat Pay's code_url, or an order for the channel's own invoice), and a late payment found."""
from __future__ import annotations

from core.commands_results import TELEGRAM_STARS, WECHAT_NATIVE
from core.commands_text import as_plain_text
from core.orders import PaymentState
from tests.unit.commands_support import context, shown, user
from tests.unit.memory_model import STARS_ONLY, STARTER, RecordingPaymentProvider, build


async def _shop():
    core = build(grant=1000)
    await core.orders.put_product(STARTER)
    await core.orders.put_product(STARS_ONLY)
    return core


async def test_buy_without_a_payment_method_says_so_and_makes_no_order() -> None:
    core = await _shop()
    alice = await user(core)
    for text in ("/buy", "/buy starter", "购买 starter"):
        result = await core.commands.run(context(alice, payments=(WECHAT_NATIVE, TELEGRAM_STARS)), text)
        assert result.error == "no_payment_method" and result.payment is None
        assert shown(core, result) == "No payment method is available here, so nothing can be bought here yet."
    assert core.db.writes("orders.") == []


async def test_wechat_pay_lists_packs_with_a_price_then_shows_the_code_url() -> None:
    core = await _shop()
    pay = RecordingPaymentProvider("wechat_native")
    core.orders.add_provider(pay)
    alice = await user(core, "o-1", channel="wechat")
    ctx = context(alice, channel="wechat", payments=(WECHAT_NATIVE,))
    listing = await core.commands.run(ctx, "购买")
    assert [c.id for c in listing.choices] == ["buy:starter"]        # the Stars-only pack has no price
    assert as_plain_text(listing, core.texts, "en") == ("Choose a pack:\n\nstarter: Starter pack — 9.90 CNY, "
                                                         "5,000 tokens\n\nSend /buy ID to buy one.")
    offer = await core.commands.choose(ctx, "buy:starter")
    order = offer.payment.order
    assert (order.status, order.payment_method, offer.payment.url) == ("paying", "wechat_native", order.payment_ref)
    assert pay.calls == [("start", order.id)] and order.note == "wechat"
    assert f"Pay with WeChat Pay: {order.payment_ref}" in shown(core, offer)


async def test_telegram_stars_lists_star_packs_and_leaves_the_invoice_to_the_channel() -> None:
    core = await _shop()
    stars = RecordingPaymentProvider("telegram_stars")
    core.orders.add_provider(stars)
    alice = await user(core)
    ctx = context(alice, payments=(TELEGRAM_STARS,))
    listing = await core.commands.run(ctx, "/buy")
    assert [(c.id, core.texts.render(c.label, "en")) for c in listing.choices] == [
        ("buy:stars", "Stars pack: 2,000 tokens for 50 ⭐"), ("buy:starter", "Starter pack: 5,000 tokens for 100 ⭐")]
    assert shown(core, listing) == "Choose a pack (paid with Telegram Stars):"
    bought = await core.commands.choose(ctx, "buy:starter")
    assert bought.payment is not None and bought.payment.url is None and bought.texts == ()
    assert (bought.payment.order.status, bought.payment.order.stars) == ("unpaid", 100)
    assert stars.calls == []                      # no payment started: the invoice's payload is the order id


async def test_a_pack_that_cannot_be_paid_here_or_does_not_exist_makes_no_order() -> None:
    core = await _shop()
    core.orders.add_provider(RecordingPaymentProvider("wechat_native"))
    alice = await user(core)
    ctx = context(alice, payments=(WECHAT_NATIVE,))
    wrong = await core.commands.run(ctx, "/buy stars")
    assert wrong.error == "unsupported_payment_method" and shown(core, wrong) == "This pack cannot be paid for here."
    missing = await core.commands.run(ctx, "/buy gold")
    assert missing.error == "not_found" and shown(core, missing) == "No such pack: gold. Send /buy to see the packs."
    assert core.db.writes("orders.create") == []


async def test_paid_settles_a_payment_whose_notice_was_lost() -> None:
    core = await _shop()
    pay = RecordingPaymentProvider("wechat_native")
    core.orders.add_provider(pay)
    alice = await user(core)
    ctx = context(alice, channel="cli", payments=(WECHAT_NATIVE,))
    assert shown(core, await core.commands.run(ctx, "/paid")) == "No payment is waiting; /buy starts one."
    order = (await core.commands.run(ctx, "/buy starter")).payment.order
    waiting = await core.commands.run(ctx, "/paid")
    assert shown(core, waiting) == f"Order {order.id} is paying; not paid yet."
    pay.state = PaymentState("paid", "wx-txn-1", 990, "CNY")
    paid = await core.commands.run(ctx, "已支付")
    assert shown(core, paid) == "Paid: 5,000 tokens credited, balance 6,000."
    assert [e.kind for e in core.db.entries if e.user_id == alice.id] == ["grant", "purchase"]
