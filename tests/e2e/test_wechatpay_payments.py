"""WeChat Pay Native end to end: the real app, real HTTP notifies signed and encrypted by the fake WeChat Pay."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest

from adapters.storage.models import OrderRow
from tests.conftest import make_config
from tests.e2e.wechatpay_shop import ADMIN, GRANT, PRICE_FEN, TOKENS, open_shop, trade_no
from tests.fakes.wechatpay_server import WeChatPayKeys


@pytest.fixture
async def shop(tmp_path: Path, start_app):
    async with open_shop(tmp_path, start_app) as shop:
        yield shop


async def test_pay_then_notify_credits_once(shop) -> None:
    user = await shop.user()
    order = await shop.paying_order(user)
    trade = shop.fake.trades[trade_no(order)]
    assert order["qrcode"] == trade.code_url
    assert trade.body["notify_url"] == "http://127.0.0.1:8080/webhooks/wechatpay"
    assert trade.body["amount"] == {"total": PRICE_FEN, "currency": "CNY"}
    again = await shop.call("POST", f"/orders/{order['id']}/pay", user.headers, {"payment_method": "wechat_native"})
    assert again["qrcode"] == order["qrcode"] and shop.fake.prepays(trade_no(order)) == 1

    delivery = await shop.fake.pay(trade_no(order))
    assert (delivery.status, delivery.body) == (204, None)
    paid = await shop.order(order, user)
    assert paid["status"] == "paid" and paid["payment_method"] == "wechat_native" and paid["paid_at"]
    assert (await shop.services.orders.get(None, order["id"])).provider_txn_id == trade.transaction_id
    assert await shop.balance(user) == GRANT + TOKENS
    # WeChat Pay sends the same notify again (it missed our answer): acknowledged, nothing more credited.
    replay = await shop.fake.deliver(shop.fake.notify_for(trade_no(order)))
    assert replay.status == 204
    assert await shop.balance(user) == GRANT + TOKENS and len(await shop.purchases(user)) == 1


async def test_the_same_notify_replayed_100_times_at_once_credits_once(tmp_path: Path, start_app,
                                                                      database_url: str) -> None:
    async with open_shop(tmp_path, start_app, database_url=database_url) as shop:
        user = await shop.user()
        order = await shop.paying_order(user)
        await shop.fake.pay(trade_no(order), notify=False)
        notify = shop.fake.notify_for(trade_no(order))
        deliveries = await asyncio.gather(*(shop.fake.deliver(notify) for _ in range(100)))
        assert {d.status for d in deliveries} == {204}
        assert await shop.balance(user) == GRANT + TOKENS
        assert len(await shop.purchases(user)) == 1
        assert (await shop.order(order, user))["status"] == "paid"


REJECTED = {  # notify changes -> (HTTP status, what the answer's code is)
    "bad signature": (dict(bad_signature=True), 401, "FAIL"),
    # Offsets from the moment the notify is sent (a time taken at import would drift during a long run).
    "stale timestamp": (dict(timestamp_offset=-600), 401, "FAIL"),
    "timestamp from the future": (dict(timestamp_offset=600), 401, "FAIL"),
    "unknown platform key serial": (dict(serial="PUB_KEY_ID_SOMEONE_ELSE"), 401, "FAIL"),
    "resource sealed with another apiv3 key": (dict(apiv3_key="f" * 32), 500, "FAIL"),
    "wrong amount": (dict(amount_total=1), 200, "SUCCESS"),
    "foreign mchid": (dict(mchid="1900000999"), 200, "SUCCESS"),
    "foreign appid": (dict(appid="wx0000000000000000"), 200, "SUCCESS"),
    "unknown order": (dict(out_trade_no=uuid.uuid4().hex), 200, "SUCCESS"),
    "not one of our order numbers": (dict(out_trade_no="ORDER-FROM-ELSEWHERE"), 200, "SUCCESS"),
    "trade not successful": (dict(trade_state="PAYERROR"), 200, "SUCCESS"),
}


@pytest.mark.parametrize("case", list(REJECTED))
async def test_a_notify_that_must_not_credit_credits_nothing(shop, case: str) -> None:
    changes, status, code = REJECTED[case]
    if "timestamp_offset" in changes:
        changes = {"timestamp": int(datetime.now().timestamp()) + changes["timestamp_offset"]}
    user = await shop.user()
    order = await shop.paying_order(user)
    delivery = await shop.fake.deliver(shop.fake.notify_for(trade_no(order), **changes))
    assert delivery.status == status and delivery.body["code"] == code, delivery
    if status == 200:  # acknowledged so WeChat Pay stops retrying what can never settle
        assert delivery.body["message"].startswith("acknowledged, not credited")
    assert await shop.balance(user) == GRANT
    assert (await shop.order(order, user))["status"] == "paying"
    # The real payment still lands afterwards.
    assert (await shop.fake.pay(trade_no(order))).status == 204
    assert await shop.balance(user) == GRANT + TOKENS


async def test_a_notify_signed_by_another_platform_key_is_refused(shop) -> None:
    user = await shop.user()
    order = await shop.paying_order(user)
    forged = shop.fake.notify_for(trade_no(order), sign_with=WeChatPayKeys.generate().platform)
    delivery = await shop.fake.deliver(forged)
    assert delivery.status == 401 and delivery.body["code"] == "FAIL"
    async with aiohttp.ClientSession() as http:  # no Wechatpay-* headers at all
        async with http.post(shop.base_url + "/webhooks/wechatpay", data=forged.body) as resp:
            assert resp.status == 401 and (await resp.json())["code"] == "FAIL"
    assert await shop.balance(user) == GRANT


async def test_a_lost_notify_is_recovered_by_check_payment(shop) -> None:
    user = await shop.user()
    order = await shop.paying_order(user)
    assert (await shop.order(order, user, check_payment=True))["status"] == "paying"
    await shop.fake.pay(trade_no(order), notify=False)
    assert (await shop.order(order, user))["status"] == "paying"  # without asking, nothing is known yet
    assert (await shop.order(order, user, check_payment=True))["status"] == "paid"
    assert (await shop.services.orders.get(None, order["id"])).provider_txn_id == \
        shop.fake.trades[trade_no(order)].transaction_id
    assert await shop.balance(user) == GRANT + TOKENS


async def test_the_sweep_settles_lost_notifies_and_closes_stale_orders(shop) -> None:
    user = await shop.user()
    lost, stale, fresh = [await shop.paying_order(user) for _ in range(3)]
    await shop.fake.pay(trade_no(lost), notify=False)
    await OrderRow.filter(id=stale["id"]).update(expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert await shop.services.orders.sweep() == 2
    assert [(await shop.order(o, user))["status"] for o in (lost, stale, fresh)] == ["paid", "expired", "paying"]
    assert shop.fake.trades[trade_no(stale)].state == "CLOSED"
    assert shop.fake.trades[trade_no(fresh)].state == "NOTPAY"
    assert await shop.balance(user) == GRANT + TOKENS


async def test_refund_debits_the_tokens_back_once(shop) -> None:
    user = await shop.user()
    order = await shop.paying_order(user)
    await shop.fake.pay(trade_no(order))
    original = shop.fake.notify_for(trade_no(order))
    await shop.call("POST", f"/orders/{order['id']}/refund", user.headers, {}, expect=403)  # admins only
    refunded = await shop.call("POST", f"/orders/{order['id']}/refund", ADMIN, {})
    again = await shop.call("POST", f"/orders/{order['id']}/refund", ADMIN, {})
    assert refunded["status"] == again["status"] == "refunded"
    assert await shop.balance(user) == GRANT
    refunds = [e for e in (await shop.call("GET", "/me/ledger", user.headers))["data"] if e["kind"] == "refund"]
    assert [e["amount"] for e in refunds] == [-TOKENS]
    assert len(shop.fake.refunds) == 1
    refund = next(iter(shop.fake.refunds.values()))
    assert refund["amount"] == {"total": PRICE_FEN, "refund": PRICE_FEN, "currency": "CNY"}
    # A late replay of the original notify does not credit the refunded order again.
    assert (await shop.fake.deliver(original)).status == 204
    assert await shop.balance(user) == GRANT


async def test_wechat_pay_failures_reach_the_client_as_upstream_errors(shop) -> None:
    user = await shop.user()
    order = await shop.call("POST", "/orders", user.headers, {"product_id": "starter"}, expect=201)
    shop.fake.tamper_answers = 1  # WeChat Pay's answer does not verify: the code_url must not be trusted
    failed = await shop.call("POST", f"/orders/{order['id']}/pay", user.headers, {"payment_method": "wechat_native"},
                             expect=502)
    assert failed["error"]["reason"] == "payment_provider_error"
    assert (await shop.order(order, user))["status"] == "unpaid"
    paying = await shop.call("POST", f"/orders/{order['id']}/pay", user.headers, {"payment_method": "wechat_native"})
    assert paying["status"] == "paying"


async def test_disabled_wechat_pay_adds_no_webhook_and_no_provider(tmp_path: Path, start_app) -> None:
    running = await start_app(make_config(tmp_path))
    assert "wechat_native" not in running.services.orders.providers
    async with aiohttp.ClientSession() as http:
        async with http.post(running.base_url + "/webhooks/wechatpay", data=b"{}") as resp:
            assert resp.status in (404, 405)
