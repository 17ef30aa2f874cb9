"""Telegram Stars end to end: /buy, the invoice, pre-checkout checks, settling once, refunds, notices."""
from __future__ import annotations

import aiohttp

from tests.e2e.telegram_harness import launch, mode, services_user, tg  # noqa: F401


async def _invoice(tg, chat, user) -> object:
    """/buy, then press the pack: returns the invoice message."""
    await tg.send_text(chat, user, "/buy")
    menu = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if tg.buttons(m)])
    query = await tg.press(user, menu[-1], tg.buttons(menu[-1])["Starter pack: 5,000 tokens for 100 ⭐"])
    await tg.callback_answer(query)
    invoices = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "invoice" in m.extra])
    return invoices[-1]


async def test_stars_purchase_settles_once_and_refunds(launch, tg, fake_llm, mode) -> None:
    running = await launch(mode)
    alice = tg.user(1101, "Alice")
    chat = tg.private_chat(alice)
    invoice = await _invoice(tg, chat, alice)
    sent = tg.calls_of("sendInvoice")[-1]
    assert sent["currency"] == "XTR" and sent["prices"] == [{"label": "Starter pack", "amount": 100}]
    assert sent["provider_token"] == ""
    user = await services_user(running, alice)
    order = await running.services.orders.get(user.id, invoice.payload)  # the payload is our order id
    assert order.status == "unpaid" and order.stars == 100

    payment = await tg.pay(chat, alice, invoice)
    assert payment.answer["ok"] is True
    receipt = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "Payment received" in m.text])
    assert "Balance: 6,000 tokens" in receipt[0].text
    paid = await running.services.orders.get(user.id, order.id)
    assert (paid.status, paid.payment_method, paid.provider_txn_id) == ("paid", "telegram_stars", payment.charge_id)

    # Telegram delivers the same update again, and a new update about the same charge: nothing more
    await tg.deliver(payment.update)
    await tg.deliver({**payment.update, "update_id": tg.next_update_id()})
    await tg.send_text(chat, alice, "/balance")
    balance = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if m.text.startswith("Balance:")])
    assert balance[0].text.startswith("Balance: 6,000 tokens")
    assert "Starter pack: paid" in balance[0].text
    assert len([m for m in tg.bot_messages(chat) if "Payment received" in m.text]) == 1
    ledger = await running.services.repos.ledger.entries(user.id, 50, None)
    assert sorted(e.kind for e in ledger.items) == ["grant", "purchase"]

    # an operator refunds through the admin API: the Stars go back to Alice, the tokens are debited
    async with aiohttp.ClientSession() as http:
        charge = tg.charges.pop(payment.charge_id)  # Telegram does not know the charge: nothing changes here
        async with http.post(f"{running.base_url}/api/v1/orders/{order.id}/refund", json={},
                             headers={"X-API-Key": "admin-key"}) as resp:
            assert resp.status == 502 and (await resp.json())["error"]["reason"] == "refund_failed"
        assert (await running.services.orders.get(user.id, order.id)).status == "paid"
        assert (await running.services.accounts.get(user.id)).balance == 6000
        tg.charges[payment.charge_id] = charge
        async with http.post(f"{running.base_url}/api/v1/orders/{order.id}/refund", json={},
                             headers={"X-API-Key": "admin-key"}) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["status"] == "refunded"
    assert tg.calls_of("refundStarPayment") == [{"user_id": alice["id"], "telegram_payment_charge_id": payment.charge_id}]
    assert len(tg.rejected("refundStarPayment")) == 1
    assert tg.charges[payment.charge_id]["refunded"] is True
    assert (await running.services.accounts.get(user.id)).balance == 1000


async def test_forged_pre_checkouts_are_refused_with_a_reason(launch, tg, fake_llm, mode) -> None:
    running = await launch(mode)
    alice, bob = tg.user(1201, "Alice"), tg.user(1202, "Bob")
    chat = tg.private_chat(alice)
    invoice = await _invoice(tg, chat, alice)
    order_id = invoice.payload
    refusals = {
        "unknown order": await tg.pre_checkout(alice, "00000000-0000-0000-0000-000000000000", 100),
        "garbage payload": await tg.pre_checkout(alice, "'; DROP TABLE orders; --", 100),
        "another user's order": await tg.pre_checkout(bob, order_id, 100),
        "wrong amount": await tg.pre_checkout(alice, order_id, 1),
        "wrong currency": await tg.pre_checkout(alice, order_id, 100, currency="USD"),
    }
    for case, answer in refusals.items():
        assert answer["ok"] is False and len(answer["error_message"]) > 10, case
    assert "another account" in refusals["another user's order"]["error_message"]
    assert "amount" in refusals["wrong amount"]["error_message"]
    # the real one still goes through; afterwards the paid order is refused
    payment = await tg.pay(chat, alice, invoice)
    assert payment.answer["ok"] is True
    await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "Payment received" in m.text])
    again = await tg.pre_checkout(alice, order_id, 100)
    assert again["ok"] is False and "already been paid" in again["error_message"]
    user = await services_user(running, alice)
    assert (await running.services.accounts.get(user.id)).balance == 6000


async def test_cancelled_order_is_refused_at_checkout(launch, tg, fake_llm) -> None:
    running = await launch()
    alice = tg.user(1301, "Alice")
    chat = tg.private_chat(alice)
    invoice = await _invoice(tg, chat, alice)
    user = await services_user(running, alice)
    await running.services.orders.cancel(user.id, invoice.payload)
    payment = await tg.pay(chat, alice, invoice)
    assert payment.answer["ok"] is False and "no longer open" in payment.answer["error_message"]


async def test_order_paid_another_way_is_announced_on_telegram(launch, tg, fake_llm) -> None:
    running = await launch()
    alice = tg.user(1401, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "/start")
    await tg.wait_until(lambda: tg.bot_messages(chat))
    user = await services_user(running, alice)
    order = await running.services.orders.create(user.id, "starter")
    await running.services.orders.settle_paid(order.id, "wechat_native", "wx-txn-1", 990, "CNY")
    notice = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "Payment received" in m.text])
    assert "+5,000 tokens" in notice[0].text and "Balance: 6,000 tokens" in notice[0].text


async def test_stars_provider_gives_an_invoice_link_for_api_orders(launch, tg, fake_llm) -> None:
    running = await launch()
    alice = tg.user(1501, "Alice")
    user = await services_user(running, alice)
    order = await running.services.orders.create(user.id, "starter")
    paying = await running.services.orders.pay(user.id, order.id, "telegram_stars")
    assert paying.status == "paying" and paying.payment_ref in tg.invoice_links
    assert tg.invoice_links[paying.payment_ref]["payload"] == order.id
