"""The wechat_native provider against the local WeChat Pay v3 server: signed requests, verified answers."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.wechatpay.gateway import build_gateway
from adapters.wechatpay.provider import order_id_of, out_trade_no
from adapters.wechatpay.settings import WeChatPayConfig
from core.domain import Order
from core.errors import Conflict, InvalidRequest, UpstreamError
from tests.fakes.wechatpay_server import FakeWeChatPay, WeChatPayKeys


def an_order(price: str = "9.90", currency: str = "CNY", **changes) -> Order:
    now = datetime.now(timezone.utc)
    return Order(str(uuid.uuid4()), "user-1", "starter", "Starter pack 入门包", Decimal(price), currency, 5000, 10, 100,
                 "unpaid", None, None, "", now, None, now + timedelta(minutes=30), **changes)


@pytest.fixture
async def wechatpay(tmp_path: Path):
    keys = WeChatPayKeys.generate()
    async with FakeWeChatPay(keys) as fake:
        cfg = WeChatPayConfig(**keys.config_section(tmp_path, fake.base_url))
        gateway = build_gateway(cfg, "https://bot.example.com/", orders=None)  # type: ignore[arg-type]
        yield fake, gateway.provider, keys, cfg, tmp_path
        await gateway.client.close()


def test_out_trade_no_round_trips_and_fits_32_characters() -> None:
    order_id = str(uuid.uuid4())
    no = out_trade_no(order_id)
    assert len(no) == 32 and "-" not in no
    assert order_id_of(no) == order_id
    assert order_id_of("not-ours") is None and order_id_of("g" * 32) is None


async def test_prepay_sends_what_wechat_needs_and_reuses_the_trade(wechatpay) -> None:
    fake, provider, keys, _, _ = wechatpay
    order = an_order()
    start = await provider.start(order)
    assert start.payment_ref.startswith("weixin://wxpay/bizpayurl?pr=")
    method, path, body = fake.requests[-1]
    assert (method, path) == ("POST", "/v3/pay/transactions/native")
    assert body["out_trade_no"] == out_trade_no(order.id) and body["amount"] == {"total": 990, "currency": "CNY"}
    assert body["notify_url"] == "https://bot.example.com/webhooks/wechatpay"
    assert (body["appid"], body["mchid"]) == (keys.appid, keys.mchid)
    assert body["description"] == "Starter pack 入门包"
    assert datetime.fromisoformat(body["time_expire"]) == order.expires_at.replace(microsecond=0)
    assert body["time_expire"].endswith("+08:00")
    again = await provider.start(order)  # WeChat Pay answers the same code_url for the same trade
    assert again == start


async def test_query_close_and_refund_follow_the_trade(wechatpay) -> None:
    fake, provider, _, _, _ = wechatpay
    order = an_order()
    await provider.start(order)
    assert (await provider.query(order)).state == "open"
    await fake.pay(out_trade_no(order.id), notify=False)
    state = await provider.query(order)
    assert (state.state, state.amount, state.currency) == ("paid", 990, "CNY")
    assert state.provider_txn_id == fake.trades[out_trade_no(order.id)].transaction_id
    with pytest.raises(UpstreamError):  # paid meanwhile: closing must fail so the order is not expired
        await provider.close(order)
    await provider.refund(order)
    await provider.refund(order)  # the same out_refund_no: WeChat Pay repeats the one refund
    assert len(fake.refunds) == 1 and fake.trades[out_trade_no(order.id)].refunded == 990
    assert (await provider.query(order)).state == "refunded"

    other = an_order()
    await provider.close(other)  # never prepaid: nothing to close
    await provider.start(other)
    await provider.close(other)
    assert (await provider.query(other)).state == "closed"
    with pytest.raises(UpstreamError):
        await provider.refund(other)


async def test_answers_with_a_bad_signature_are_refused(wechatpay) -> None:
    fake, provider, _, _, _ = wechatpay
    fake.tamper_answers = 1
    with pytest.raises(UpstreamError) as err:
        await provider.start(an_order())
    assert "signature" in err.value.message


async def test_requests_signed_with_another_key_are_refused_by_wechat(wechatpay) -> None:
    fake, _, keys, cfg, tmp_path = wechatpay
    stranger = WeChatPayKeys.generate()
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    section = stranger.config_section(other_dir, fake.base_url)
    bad = WeChatPayConfig(**{**cfg.model_dump(), "private_key_path": section["private_key_path"]})
    gateway = build_gateway(bad, "https://bot.example.com", orders=None)  # type: ignore[arg-type]
    try:
        with pytest.raises(UpstreamError) as err:
            await gateway.provider.start(an_order())
        assert "SIGN_ERROR" in err.value.message
    finally:
        await gateway.client.close()
    assert fake.trades == {}


async def test_orders_wechat_cannot_take_fail_clearly(wechatpay) -> None:
    fake, provider, _, _, _ = wechatpay
    with pytest.raises(InvalidRequest) as err:
        await provider.start(an_order(currency="USD"))
    assert err.value.reason == "unsupported_currency"
    paid = an_order()
    await provider.start(paid)
    await fake.pay(out_trade_no(paid.id), notify=False)
    with pytest.raises(Conflict):
        await provider.start(paid)


async def test_unreachable_wechat_is_an_upstream_error(tmp_path: Path) -> None:
    keys = WeChatPayKeys.generate()
    cfg = WeChatPayConfig(**keys.config_section(tmp_path, "http://127.0.0.1:9"))
    gateway = build_gateway(cfg, "https://bot.example.com", orders=None)  # type: ignore[arg-type]
    try:
        with pytest.raises(UpstreamError) as err:
            await gateway.provider.query(an_order())
        assert err.value.reason == "payment_provider_unavailable"
    finally:
        await gateway.client.close()


def test_missing_keys_are_named_in_config_and_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as err:
        WeChatPayConfig(enabled=True, mch_id="1900000109")
    assert "app_id, apiv3_key" in str(err.value)
    keys = WeChatPayKeys.generate()
    section = keys.config_section(tmp_path, "http://127.0.0.1:9", private_key_path=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError) as err:
        build_gateway(WeChatPayConfig(**section), "https://bot.example.com", orders=None)  # type: ignore[arg-type]
    assert "payments.wechatpay.private_key_path" in str(err.value)
