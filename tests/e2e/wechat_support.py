"""Shared set-up for the WeChat e2e tests: the fake WeChat API, a channel config, a signing client."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from tests.conftest import make_config
from tests.fakes.wechat_client import WeChatCallbackClient, new_encoding_aes_key
from tests.fakes.wechat_server import FakeWeChat

CALLBACK_TOKEN = "callback-token-for-tests"
GRANT = 100_000


@pytest.fixture(name="wx")
async def wx_fixture():
    """The fake WeChat API; requested before start_app, so it outlives the app's shutdown drain."""
    async with FakeWeChat() as fake:
        yield fake


def wechat_config(tmp_path: Path, llm_url: str, wx: FakeWeChat, aes_key: str = "",
                  sections: dict[str, Any] | None = None, **wechat: Any):
    section = {"enabled": True, "app_id": wx.app_id, "app_secret": wx.app_secret, "token": CALLBACK_TOKEN,
               "encoding_aes_key": aes_key, "api_base_url": wx.base_url, **wechat}
    llm = {"default_model": "test-model", "providers": [{
        "name": "fake", "base_url": llm_url, "api_key": "sk-test", "timeout_seconds": 30,
        "models": [{"name": "test-model", "input_weight": 1.0, "output_weight": 2.0, "context_window": 16000,
                    "max_output_tokens": 2000}]}]}
    return make_config(tmp_path, llm_url, channels={"wechat": section}, llm=llm, quota={"signup_grant": GRANT},
                       **(sections or {}))


def client_for(running, wx: FakeWeChat, mode: str = "plaintext", aes_key: str = "") -> WeChatCallbackClient:
    return WeChatCallbackClient(running.base_url + "/webhooks/wechat", token=CALLBACK_TOKEN, app_id=wx.app_id,
                                encoding_aes_key=aes_key, mode=mode)


async def stored_state() -> dict[str, Any]:
    """What a processed callback would leave behind in the app's database: users, identities, the ledger and
    stored messages (compared before and after an attack)."""
    from adapters.storage.models import IdentityRow, LedgerRow, MessageRow, UserRow

    return {
        "users": sorted(await UserRow.all().values_list("id", "balance", "held")),
        "identities": sorted(await IdentityRow.all().values_list("channel", "external_id", "user_id")),
        "ledger": await LedgerRow.all().count(),
        "messages": await MessageRow.all().count(),
    }


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0, every: float = 0.02) -> None:
    """Poll a condition that has no event to wait on (a database row appearing)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(every)


def zh(key: str, **values: Any) -> str:
    """A catalogue text as a WeChat user reads it (Chinese unless they chose otherwise with /lang)."""
    from core.i18n import Texts

    return Texts.load().get(key, "zh", **values)


__all__ = ["CALLBACK_TOKEN", "GRANT", "FakeWeChat", "WeChatCallbackClient", "client_for", "new_encoding_aes_key",
           "stored_state", "until", "wechat_config", "wx_fixture", "zh"]
