"""Our database goes down while WeChat Pay notifies: we answer FAIL, WeChat Pay retries, the retry credits once."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import _pg_admin as _admin
from tests.e2e.wechatpay_shop import GRANT, TOKENS, open_shop, trade_no


async def take_down(name: str) -> None:
    """What a database outage looks like to the app: its connections are cut and new ones are refused."""
    await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")


async def bring_up(name: str) -> None:
    await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


async def test_database_down_during_a_notify_fails_it_and_the_retry_credits(tmp_path: Path, start_app,
                                                                            postgres_url: str) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    async with open_shop(tmp_path, start_app, database_url=postgres_url) as shop:
        user = await shop.user()
        order = await shop.paying_order(user)
        await shop.fake.pay(trade_no(order), notify=False)
        await take_down(name)
        try:
            failed = await shop.fake.deliver(shop.fake.notify_for(trade_no(order)))
        finally:
            await bring_up(name)
        assert failed.status == 500 and failed.body["code"] == "FAIL", failed
        assert (await shop.order(order, user))["status"] == "paying"
        assert await shop.balance(user) == GRANT

        retried = await shop.fake.deliver(shop.fake.notify_for(trade_no(order)))  # WeChat Pay's retry
        assert retried.status == 204
        assert (await shop.order(order, user))["status"] == "paid"
        assert await shop.balance(user) == GRANT + TOKENS and len(await shop.purchases(user)) == 1
