"""Payments needing attention in the console: a signed WeChat Pay notice that does not match its order is listed
(with its transaction and order) and credits nothing; an order stuck in `paying` is listed too."""
from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.e2e.test_admin_console import sign_in
from tests.e2e.wechatpay_shop import GRANT, PRICE_FEN, open_shop, trade_no


async def test_an_unmatched_notice_and_a_stuck_order_are_listed_for_the_operator(tmp_path: Path, start_app) -> None:
    async with open_shop(tmp_path, start_app) as shop:
        user = await shop.user()
        order = await shop.paying_order(user)
        forged = shop.fake.notify_for(trade_no(order), amount={"total": PRICE_FEN + 1, "currency": "CNY"})
        delivery = await shop.fake.deliver(forged)
        assert delivery.status == 200 and delivery.body["code"] == "SUCCESS"
        assert await shop.balance(user) == GRANT
        async with aiohttp.ClientSession(shop.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await sign_in(http)
            async with http.get("/admin/orders/attention") as r:
                html = await r.text()
        listed = html[html.index('id="unmatched"'):]
        assert order["id"] in listed and "does not match" in listed
        entries = (await shop.services.admin.audit.list(5, action="payment.mismatch")).items
        assert len(entries) == 1 and entries[0].actor == "wechatpay"
        # The same order, still paying: listed once it has waited past the threshold.
        from datetime import datetime, timedelta, timezone

        stuck = await shop.services.queries.stuck_paying(datetime.now(timezone.utc) + timedelta(minutes=1), 10)
        assert [o.id for o in stuck] == [order["id"]]
        fresh = await shop.services.queries.stuck_paying(datetime.now(timezone.utc) - timedelta(minutes=30), 10)
        assert fresh == []
