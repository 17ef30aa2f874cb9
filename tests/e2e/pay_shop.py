"""The pay page's world for tests: the real app with the WeChat channel (web OAuth) and WeChat Pay (native, jsapi,
h5) against the fake WeChat and the fake WeChat Pay, and a cookie-keeping browser stand-in over aiohttp."""
from __future__ import annotations

import base64
import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.e2e.wechat_support import wechat_config
from tests.fakes.wechat_server import FakeWeChat
from tests.fakes.wechatpay_server import FakeWeChatPay, WeChatPayKeys

WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.0 Mobile/15E148 Safari/604.1")
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
GRANT = 100_000   # wechat_support's signup grant
TOKENS = 5000     # make_config's "starter"


@dataclass
class PayWorld:
    wx: FakeWeChat
    pay: FakeWeChatPay
    keys: WeChatPayKeys
    running: object

    @property
    def base_url(self) -> str:
        return self.running.base_url  # type: ignore[attr-defined]

    @property
    def services(self):
        return self.running.services  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def open_pay_world(tmp_path: Path, start_app, methods=("native", "jsapi", "h5"),
                         **sections) -> AsyncIterator[PayWorld]:
    keys = WeChatPayKeys.generate()
    async with FakeWeChat() as wx, FakeWeChatPay(keys) as pay:
        keys.appid = wx.app_id   # JSAPI pays in the Official Account's own app: its openids are the chat's
        payments = {"wechatpay": keys.config_section(tmp_path, pay.base_url, methods=list(methods))}
        config = wechat_config(tmp_path, "http://127.0.0.1:9/v1", wx, oauth_base_url=wx.base_url,
                               sections={"payments": payments, **sections})
        running = await start_app(config)
        pay.route_notifies(config.server.public_url, running.base_url)
        wx.route_redirects(config.server.public_url, running.base_url)
        yield PayWorld(wx, pay, keys, running)


class Browser:
    """A browser stand-in: keeps cookies, follows redirects (to the fake WeChat and back), sends a User-Agent."""

    def __init__(self, base_url: str, user_agent: str):
        self.base_url = base_url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          headers={"User-Agent": user_agent})

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str, **kw) -> tuple[int, str, str]:
        """(status, body, final URL) after following redirects."""
        url = path if path.startswith("http") else self.base_url + path
        async with self.http.get(url, **kw) as resp:
            return resp.status, await resp.text(), str(resp.url)

    def csrf(self, html: str) -> str:
        return re.search(r'<meta name="csrf-token" content="([^"]*)"', html).group(1)

    async def post_form(self, path: str, form: dict) -> tuple[int, str, str]:
        async with self.http.post(self.base_url + path, data=form) as resp:
            return resp.status, await resp.text(), str(resp.url)

    async def api(self, method: str, path: str, csrf: str, json: dict | None = None) -> tuple[int, dict]:
        """A call the page's script makes: the session cookie plus X-CSRF-Token."""
        async with self.http.request(method, self.base_url + "/api/v1" + path, json=json,
                                     headers={"X-CSRF-Token": csrf}) as resp:
            return resp.status, await resp.json()

    async def order_from_product(self, product: str = "starter") -> tuple[str, str]:
        """/web/pay?product=... (signing in on the way), then its button: (order id, the order page's HTML)."""
        status, html, _ = await self.get(f"/web/pay?product={product}")
        assert status == 200, html
        status, html, url = await self.post_form("/web/pay", {"csrf_token": self.csrf(html), "product": product})
        assert status == 200, html
        return url.rsplit("/", 1)[1], html


def verify_pay_sign(keys: WeChatPayKeys, params: dict) -> bool:
    """What the WeChat client does with getBrandWCPayRequest: check paySign with the merchant's PUBLIC key."""
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    try:
        keys.merchant.public_key().verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(),
                                          hashes.SHA256())
    except Exception:
        return False
    return True
