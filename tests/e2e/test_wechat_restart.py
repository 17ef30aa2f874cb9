"""A MsgId is answered once, ever: a duplicate that arrives after a restart (same database) is ignored.

The dedupe mark lives in the shared store: the database (SQLite, PostgreSQL), or Redis when configured."""
from __future__ import annotations

import pytest

from tests.e2e.wechat_support import client_for, wechat_config
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)


@pytest.mark.parametrize("mode", ["customer_service", "passive"])
async def test_duplicate_after_restart_is_ignored(wx, start_app, fake_llm, tmp_path, mode) -> None:
    await _restart_scenario(wx, start_app, fake_llm, wechat_config(tmp_path, fake_llm.base_url, wx, reply_mode=mode))


async def test_with_redis_as_the_shared_store(wx, start_app, fake_llm, tmp_path, redis_url, redis_prefix) -> None:
    config = wechat_config(tmp_path, fake_llm.base_url, wx, sections={
        "redis": {"url": redis_url, "key_prefix": redis_prefix}})
    await _restart_scenario(wx, start_app, fake_llm, config)


async def test_on_postgres_in_passive_mode(wx, start_app, fake_llm, tmp_path, postgres_url) -> None:
    config = wechat_config(tmp_path, fake_llm.base_url, wx, sections={"database": {"url": postgres_url}},
                           reply_mode="passive")
    await _restart_scenario(wx, start_app, fake_llm, config)


async def _restart_scenario(wx, start_app, fake_llm, config) -> None:
    mode = config.channels.wechat.reply_mode
    first = await start_app(config)
    client = client_for(first, wx)
    message = client.text("o-x", "only once", msg_id=5_550_001)
    reply = await client.post(message)
    if mode == "customer_service":
        assert await wx.wait_sent("o-x", 1) == ["Echo: only once"]
    else:
        assert reply.content == "Echo: only once"
    await first.runner.cleanup()                 # stop: drains, closes the database

    second = await start_app(config)             # start again on the same database
    client = client_for(second, wx)
    again = await client.post(message)
    assert again.status == 200 and again.body == "success"
    later = await client.post(client.text("o-x", "a new one"))  # answered: the channel works, in order
    if mode == "customer_service":
        assert await wx.wait_sent("o-x", 2) == ["Echo: only once", "Echo: a new one"]
    else:
        assert later.content == "Echo: a new one"
    assert [r["messages"][-1]["content"] for r in fake_llm.chat_requests] == ["only once", "a new one"]
