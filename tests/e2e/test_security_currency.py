"""A payment settles an order only in the currency the order was opened with: a WeChat Pay notify in
another currency than the order's (CNY), or a Telegram Stars payment in anything but XTR, credits nothing."""
from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.e2e.telegram_harness import launch, mode, services_user, tg  # noqa: F401
from tests.e2e.test_telegram_stars import _invoice
from tests.e2e.wechatpay_shop import GRANT, PRICE_FEN, TOKENS, open_shop, trade_no

STARS = 100  # make_config's "starter" product: 9.90 CNY or 100 Stars


async def _mismatches(base_url: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(base_url + "/metrics") as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith("bot_errors_total{") and 'reason="payment_mismatch"' in line and "wechatpay" in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("amount", [
    {"total": STARS, "currency": "XTR"},       # the order's Stars price, "paid" in Stars through WeChat Pay
    {"total": PRICE_FEN, "currency": "USD"},   # the right number in another currency
    {"total": PRICE_FEN},                      # no currency at all
], ids=["stars-price-in-XTR", "USD", "no-currency"])
async def test_a_wechatpay_notify_in_another_currency_credits_nothing(tmp_path: Path, start_app,
                                                                      amount: dict) -> None:
    async with open_shop(tmp_path, start_app) as shop:
        user = await shop.user()
        order = await shop.paying_order(user)
        forged = shop.fake.notify_for(trade_no(order), amount=amount)  # signed and encrypted like a real one
        delivery = await shop.fake.deliver(forged)
        # Acknowledged as WeChat Pay's protocol wants (a retry could never fix it), and nothing credited.
        assert delivery.status == 200 and delivery.body["code"] == "SUCCESS", delivery
        assert delivery.body["message"].startswith("acknowledged, not credited")
        again = await shop.fake.deliver(forged)
        assert again.status == 200
        assert await shop.balance(user) == GRANT and await shop.purchases(user) == []
        assert (await shop.order(order, user))["status"] == "paying"
        assert await _mismatches(shop.base_url) == 2  # recorded for the operator, once per delivery
        # The genuine CNY payment still settles the order, once.
        assert (await shop.fake.pay(trade_no(order))).status == 204
        assert await shop.balance(user) == GRANT + TOKENS and len(await shop.purchases(user)) == 1


async def test_a_stars_payment_in_another_currency_credits_nothing(launch, tg, fake_llm, mode) -> None:
    running = await launch(mode)
    alice = tg.user(9501, "Alice")
    chat = tg.private_chat(alice)
    invoice = await _invoice(tg, chat, alice)
    order_id = invoice.payload

    # The checkout in the order's money currency and price is refused before any payment.
    refused = await tg.pre_checkout(alice, order_id, PRICE_FEN, currency="CNY")
    assert refused["ok"] is False and "Telegram Stars" in refused["error_message"]

    # A successful_payment claiming CNY for the order's CNY price (as if it had settled the money price).
    charge_id = "stxn-in-cny"
    tg.charges[charge_id] = {"user_id": alice["id"], "amount": PRICE_FEN, "refunded": False}
    paid = {"currency": "CNY", "total_amount": PRICE_FEN, "invoice_payload": order_id,
            "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": "p-1"}
    await tg.deliver({"update_id": tg.next_update_id(), "message": {
        "message_id": 77, "date": 1700000000, "chat": chat, "from": alice, "successful_payment": paid}})
    notice = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "could not be applied" in m.text])
    assert "refunded" in notice[0].text and tg.charges[charge_id]["refunded"] is True
    user = await services_user(running, alice)
    ledger = await running.services.repos.ledger.entries(user.id, 50, None)
    assert [e.kind for e in ledger.items] == ["grant"]
    assert (await running.services.orders.get(user.id, order_id)).status == "unpaid"

    # The real Stars payment for the same order still goes through.
    payment = await tg.pay(chat, alice, invoice)
    assert payment.answer["ok"] is True
    await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "Payment received" in m.text])
    assert (await running.services.accounts.get(user.id)).balance == GRANT + TOKENS
