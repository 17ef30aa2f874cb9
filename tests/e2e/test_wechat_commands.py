"""Commands, aliases, menu keys and events in WeChat, through the real app (customer_service mode)."""
from __future__ import annotations

import re

from adapters.wechatpay.provider import out_trade_no
from core.domain import Identity
from tests.e2e.wechat_support import GRANT, client_for, wechat_config, zh
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)
from tests.fakes.wechatpay_server import FakeWeChatPay, WeChatPayKeys

MENU = {"M_BALANCE": "/balance", "M_JOKE": "Tell me a joke"}
ALIASES = {"余额": "/balance", "角色": "/role", "帮助": "/help"}


async def test_subscribe_welcomes_and_grants_once(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, welcome="欢迎关注！"))
    client = client_for(running, wx)
    await client.post(client.event("o-s", "subscribe", create_time=1_700_000_000))
    await client.post(client.event("o-s", "unsubscribe", create_time=1_700_000_100))
    await client.post(client.event("o-s", "subscribe", create_time=1_700_000_200))
    assert await wx.wait_sent("o-s", 2) == ["欢迎关注！", "欢迎关注！"]
    user = await running.services.accounts.ensure_user(Identity("wechat", "o-s"))
    assert user.balance == GRANT and not user.is_new


async def test_commands_and_aliases(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aliases=ALIASES))
    client = client_for(running, wx)
    for text in ("/help", "余额", "角色", "/role pirate", "ahoy", "/new", "/role nobody", "/frobnicate"):
        await client.post(client.text("o-c", text))
    sent = await wx.wait_sent("o-c", 8)
    help_, balance, roles, switched, chat, new, unknown_role, unknown = sent
    assert "/balance" in help_ and "/link" in help_
    assert balance.startswith(zh("balance.tokens", balance=GRANT, available=GRANT))
    assert "1. pirate：Talks like a pirate" in roles and zh("choice.reply_number") in roles
    assert switched == zh("role.set", role="pirate")
    assert chat == "Echo: ahoy"
    assert fake_llm.chat_requests[-1]["messages"][0]["content"].startswith("Talk like a pirate.")
    assert new == zh("new.started_role", role="pirate")
    assert unknown_role == zh("role.unknown", name="nobody")
    assert unknown.startswith(zh("command.unknown", name="frobnicate"))


async def test_menu_clicks_map_to_commands_or_questions(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, menu=MENU))
    client = client_for(running, wx)
    await client.post(client.event("o-m", "CLICK", "M_BALANCE", create_time=1_700_000_001))
    await client.post(client.event("o-m", "CLICK", "M_JOKE", create_time=1_700_000_002))
    await client.post(client.event("o-m", "CLICK", "M_GONE", create_time=1_700_000_003))
    balance, joke, unknown = await wx.wait_sent("o-m", 3)
    assert balance.startswith(zh("balance.tokens", balance=GRANT, available=GRANT))
    assert (joke, unknown) == ("Echo: Tell me a joke", zh("menu.unknown"))


async def test_link_joins_two_wechat_users(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    await client.post(client.text("o-a", "/link"))
    code = re.search(r"/link ([A-Z0-9]{8})", (await wx.wait_sent("o-a", 1))[0]).group(1)
    await client.post(client.text("o-b", f"/link {code}"))
    linked = (await wx.wait_sent("o-b", 1))[0]
    a = await running.services.accounts.ensure_user(Identity("wechat", "o-a"))
    assert linked == zh("link.done", name=a.name, balance=2 * GRANT)
    a = await running.services.accounts.ensure_user(Identity("wechat", "o-a"))
    b = await running.services.accounts.ensure_user(Identity("wechat", "o-b"))
    assert a.id == b.id
    await client.post(client.text("o-b", f"/link {code}"))
    assert (await wx.wait_sent("o-b", 2))[1] == zh("error.invalid_code")


async def test_buy_without_wechat_pay_says_so(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    for text in ("/buy", "/buy starter", "/help"):
        await client.post(client.text("o-p", text))
    listing, refused, help_ = await wx.wait_sent("o-p", 3)
    assert listing == refused == zh("buy.no_payment_method")
    assert "/buy" not in help_ and "/balance" in help_  # help lists only what works here
    user = await running.services.accounts.ensure_user(Identity("wechat", "o-p"))
    assert not (await running.services.orders.list(user.id, None, 10, None)).items  # no unpaid order left behind


async def test_buy_pays_with_wechat_pay_and_announces_the_payment(wx, start_app, fake_llm, tmp_path) -> None:
    keys = WeChatPayKeys.generate()
    async with FakeWeChatPay(keys) as pay:
        config = wechat_config(tmp_path, fake_llm.base_url, wx,
                               sections={"payments": {"wechatpay": keys.config_section(tmp_path, pay.base_url)}})
        running = await start_app(config)
        pay.route_notifies(config.server.public_url, running.base_url)
        client = client_for(running, wx)
        await client.post(client.text("o-$", "/buy nothing-like-this"))
        await client.post(client.text("o-$", "/buy starter"))
        missing, offer = await wx.wait_sent("o-$", 2)
        assert missing == zh("buy.unknown_product", id="nothing-like-this")
        await client.post(client.text("o-$", "/help"))
        assert zh("help.line", command="buy", about=zh("menu.buy")) in (await wx.wait_sent("o-$", 3))[2]
        order_id = re.search(r"订单 (\S+)：", offer).group(1)
        # The answer is a link to the order's pay page (a phone cannot scan a code on its own screen); the page
        # (tests/e2e/test_pay_jsapi.py, tests/browser/test_pay_page.py) starts the payment the screen allows.
        assert f"{config.server.public_url.rstrip('/')}/web/pay/{order_id}" in offer and "9.90 CNY" in offer
        assert "weixin://" not in offer and pay.prepays(out_trade_no(order_id)) == 0
        user = await running.services.accounts.ensure_user(Identity("wechat", "o-$"))
        await running.services.orders.pay(user.id, order_id, "wechat_native")   # what the page does on a desktop
        delivery = await pay.pay(out_trade_no(order_id))
        assert delivery is not None and delivery.status in (200, 204)
        sent = await wx.wait_sent("o-$", 4)
        assert sent[3] == zh("payment.received", product="Starter pack", tokens=5000, balance=GRANT + 5000)
