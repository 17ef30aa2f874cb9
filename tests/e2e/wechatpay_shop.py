"""Test setup shared by the WeChat Pay e2e tests: the real app with WeChat Pay enabled against the fake,
driven through the native HTTP API as a client program would."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import aiohttp

from adapters.wechatpay.provider import out_trade_no
from tests.conftest import make_config
from tests.fakes.wechatpay_server import FakeWeChatPay, WeChatPayKeys

PRICE_FEN, TOKENS, GRANT = 990, 5000, 1000   # make_config's "starter" product and signup grant
ADMIN = {"X-API-Key": "admin-key"}


@dataclass(frozen=True)
class Customer:
    id: str
    api_key: str

    @property
    def headers(self) -> dict:
        return {"X-API-Key": self.api_key}


@dataclass
class Shop:
    fake: FakeWeChatPay
    running: object          # tests.conftest.RunningApp
    keys: WeChatPayKeys
    http: aiohttp.ClientSession

    @property
    def services(self):
        return self.running.services  # type: ignore[attr-defined]

    @property
    def base_url(self) -> str:
        return self.running.base_url  # type: ignore[attr-defined]

    async def call(self, method: str, path: str, headers: dict, json: dict | None = None,
                   expect: int | None = 200) -> dict:
        async with self.http.request(method, self.base_url + "/api/v1" + path, json=json, headers=headers) as resp:
            body = await resp.json()
            assert expect is None or resp.status == expect, (resp.status, body)
            return body

    async def user(self, name: str = "alice") -> Customer:
        made = await self.call("POST", "/users", ADMIN, {"name": name}, expect=201)
        return Customer(made["user"]["id"], made["api_key"])

    async def paying_order(self, user: Customer) -> dict:
        """POST /orders, then POST /orders/{id}/pay with wechat_native; returns the order."""
        order = await self.call("POST", "/orders", user.headers, {"product_id": "starter"}, expect=201)
        paying = await self.call("POST", f"/orders/{order['id']}/pay", user.headers,
                                 {"payment_method": "wechat_native"})
        assert paying["status"] == "paying" and paying["qrcode"], paying
        return {**order, "qrcode": paying["qrcode"]}

    async def order(self, order: dict, user: Customer | None = None, check_payment: bool = False) -> dict:
        query = "?check_payment=true" if check_payment else ""
        return await self.call("GET", f"/orders/{order['id']}{query}", user.headers if user else ADMIN)

    async def balance(self, user: Customer) -> int:
        return (await self.call("GET", "/me", user.headers))["balance"]

    async def purchases(self, user: Customer) -> list[dict]:
        entries = (await self.call("GET", "/me/ledger?limit=100", user.headers))["data"]
        return [e for e in entries if e["kind"] == "purchase"]


def trade_no(order: dict) -> str:
    return out_trade_no(order["id"])


@contextlib.asynccontextmanager
async def open_shop(tmp_path: Path, start_app, database_url: str | None = None, **sections) -> AsyncIterator[Shop]:
    keys = WeChatPayKeys.generate()
    async with FakeWeChatPay(keys) as fake, aiohttp.ClientSession() as http:
        config = make_config(tmp_path, database_url=database_url,
                             payments={"wechatpay": keys.config_section(tmp_path, fake.base_url)}, **sections)
        running = await start_app(config)
        # server.public_url is where WeChat Pay reaches us; here the app listens on a random port behind it.
        fake.route_notifies(config.server.public_url, running.base_url)
        yield Shop(fake, running, keys, http)
