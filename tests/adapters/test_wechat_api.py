"""WeChatApi against the fake WeChat server: token cache shared through the store, refresh once, errcodes."""
from __future__ import annotations

import pytest

from adapters.storage import db
from adapters.storage.ephemeral import DatabaseEphemeralStore
from adapters.wechat.api import WeChatApi, WeChatApiError
from tests.fakes.wechat_server import FakeWeChat


@pytest.fixture
async def store(tmp_path):
    await db.open_database(f"sqlite://{tmp_path}/wx.db")
    yield DatabaseEphemeralStore()
    await db.close_database()


@pytest.fixture
async def wx():
    async with FakeWeChat() as fake:
        yield fake


@pytest.fixture
async def api(wx: FakeWeChat, store):
    client = WeChatApi(wx.base_url, wx.app_id, wx.app_secret, store)
    yield client
    await client.close()


async def test_token_is_fetched_once_and_shared_by_workers(api: WeChatApi, wx: FakeWeChat, store) -> None:
    await api.send_text("o1", "one")
    await api.send_text("o1", "two")
    other_worker = WeChatApi(wx.base_url, wx.app_id, wx.app_secret, store)
    try:
        await other_worker.send_text("o1", "three")
    finally:
        await other_worker.close()
    assert wx.token_calls == 1
    assert wx.sent["o1"] == ["one", "two", "three"]


@pytest.mark.parametrize("code", [42001, 40001])
async def test_an_expired_token_is_refreshed_and_the_call_retried_once(api: WeChatApi, wx: FakeWeChat,
                                                                        code: int) -> None:
    await api.send_text("o1", "before")
    wx.expire_tokens(code)
    await api.send_text("o1", "after")
    assert wx.sent["o1"] == ["before", "after"]
    assert wx.token_calls == 2
    assert len(wx.send_calls) == 3  # before, the refused try, the retry


async def test_window_closed_is_an_error_with_its_code(api: WeChatApi, wx: FakeWeChat) -> None:
    wx.close_window("o2")
    with pytest.raises(WeChatApiError) as err:
        await api.send_text("o2", "hello")
    assert err.value.errcode == 45015
    assert len(wx.send_calls) == 1  # not retried: only token errors are


async def test_wrong_secret_is_reported(wx: FakeWeChat, store) -> None:
    api = WeChatApi(wx.base_url, wx.app_id, "wrong", store)
    try:
        with pytest.raises(WeChatApiError) as err:
            await api.send_text("o1", "x")
    finally:
        await api.close()
    assert err.value.errcode == 40125 and wx.sent == {}


async def test_unreachable_server_is_an_upstream_error(store) -> None:
    api = WeChatApi("http://127.0.0.1:9", "wx", "s", store, timeout_seconds=2)
    try:
        with pytest.raises(WeChatApiError) as err:
            await api.send_text("o1", "x")
    finally:
        await api.close()
    assert err.value.errcode == -1 and err.value.status == 502


async def test_scene_qrcode(api: WeChatApi, wx: FakeWeChat) -> None:
    answer = await api.create_qrcode("login_abc", 300)
    assert answer["ticket"] in wx.qrcodes
    assert wx.qrcodes[answer["ticket"]] == {"expire_seconds": 300, "action_name": "QR_STR_SCENE",
                                            "action_info": {"scene": {"scene_str": "login_abc"}}}
