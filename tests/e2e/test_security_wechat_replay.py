"""Replayed WeChat callbacks, performed over HTTP against the real app: a captured signed query carries only
the body it came with (WeChat's own retry), never another one; stale queries are refused; nothing is processed.

A plaintext callback's signature covers token, timestamp and nonce only, so whoever sees one query string (a
proxy log, a shared network) holds a signature for any body. These tests are that eavesdropper."""
from __future__ import annotations

import asyncio
import json
import re
import time

import asyncpg
import pytest

from tests.conftest import REDIS_URL
from tests.e2e.wechat_support import CALLBACK_TOKEN, client_for, stored_state, wechat_config
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)
from tests.e2e.workers import shared_backends, start_workers, write_config
from tests.fakes.wechat_client import WeChatCallbackClient

WINDOW, TIMEOUT = 1.0, 1.3       # WeChat's passive timing, scaled down as in test_wechat_passive


def _refused(answer, reason: str) -> bool:
    return answer.status == 403 and json.loads(answer.body)["error"]["reason"] == reason


async def test_a_captured_query_cannot_carry_link_from_the_victims_openid(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    # The victim chats; the attacker asks for a link code on their own WeChat account.
    await client.post(client.text("o-victim", "my secret diary"))
    await client.post(client.text("o-attacker", "/link"))
    code = re.search(r"/link ([A-Z0-9]{8})", (await wx.wait_sent("o-attacker", 1))[0]).group(1)
    assert await wx.wait_sent("o-victim", 1) == ["Echo: my secret diary"]
    before, model_calls, pushes = await stored_state(), len(fake_llm.chat_requests), len(wx.send_calls)

    # Every query the attacker saw (the victim's and their own), now with "/link CODE" from the victim's openid.
    forged = client.text("o-victim", f"/link {code}")
    for query, _ in list(client.sent):
        answer = await client.send(query, forged)
        assert _refused(answer, "replayed_request"), answer

    # The victim's next real message is answered right after anything queued for them: only it arrives.
    await client.post(client.text("o-victim", "/balance"))
    victim_saw = await wx.wait_sent("o-victim", 2)
    assert victim_saw[0] == "Echo: my secret diary" and victim_saw[1].startswith("余额：")
    after = await stored_state()
    assert after == before                                         # no link, no user, no grant, no message
    assert len(fake_llm.chat_requests) == model_calls              # /balance is no model call
    assert len(wx.send_calls) == pushes + 1                        # only the /balance answer was pushed
    owners = {external: user for channel, external, user in after["identities"] if channel == "wechat"}
    assert owners["o-victim"] != owners["o-attacker"]


async def test_wechat_retry_with_the_same_body_is_answered_in_passive_mode(wx, start_app, fake_llm,
                                                                           tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, reply_mode="passive",
                                            passive_window_seconds=WINDOW, callback_timeout_seconds=TIMEOUT))
    client = client_for(running, wx)
    fake_llm.script(reply="Worth the wait.", first_delay=1.6)
    query, body = client.sign(client.text("o-r", "a slow question"))
    answer = None
    for _ in range(3):          # WeChat: the very same request again whenever one gets no answer in time
        try:
            answer = await client.send(query, body, timeout=TIMEOUT)
            break
        except asyncio.TimeoutError:
            continue
    assert answer is not None and answer.status == 200 and answer.content == "Worth the wait."
    # Once more after it was answered (a late retry): accepted, nothing owed, no second model call.
    late = await client.send(query, body)
    assert (late.status, late.body) == (200, "success")
    assert len(fake_llm.chat_requests) == 1
    # The same query with another body is not a retry.
    assert _refused(await client.send(query, client.text("o-r", "something else")), "replayed_request")


async def test_wechat_retry_with_the_same_body_is_accepted_in_customer_service_mode(wx, start_app, fake_llm,
                                                                                    tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    query, body = client.sign(client.text("o-cs", "once please"))
    for _ in range(3):
        answer = await client.send(query, body)
        assert (answer.status, answer.body) == (200, "success")
    assert _refused(await client.send(query, client.text("o-cs", "twice please")), "replayed_request")
    await client.post(client.text("o-cs", "next"))
    assert await wx.wait_sent("o-cs", 2) == ["Echo: once please", "Echo: next"]   # answered once, in order


@pytest.mark.parametrize("offset", [-301, 301, -86_000])
async def test_a_stale_or_future_timestamp_is_refused(wx, start_app, fake_llm, tmp_path, offset) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    before = await stored_state()
    answer = await client.post(client.text("o-late", "hello from the past"), timestamp=int(time.time()) + offset)
    assert _refused(answer, "stale_request")
    status, _ = await client.handshake("echo", timestamp=int(time.time()) + offset)
    assert status == 403
    assert await stored_state() == before and fake_llm.chat_requests == [] and wx.send_calls == []


async def test_a_timestamp_within_the_configured_tolerance_is_accepted(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, timestamp_tolerance_seconds=600))
    client = client_for(running, wx)
    answer = await client.post(client.text("o-slow-clock", "hi"), timestamp=int(time.time()) - 500)
    assert (answer.status, answer.body) == (200, "success")
    assert await wx.wait_sent("o-slow-clock", 1) == ["Echo: hi"]
    stale = await client.post(client.text("o-slow-clock", "hi again"), timestamp=int(time.time()) - 700)
    assert _refused(stale, "stale_request")


async def test_one_old_query_creates_no_users_for_100_invented_openids(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    await client.post(client.text("o-real", "hello"))
    assert await wx.wait_sent("o-real", 1) == ["Echo: hello"]
    used_query, _ = client.sent[-1]
    stale_query, _ = client.sign(client.text("o-real", "x"), timestamp=int(time.time()) - 3600)
    before, model_calls = await stored_state(), len(fake_llm.chat_requests)
    for n in range(100):
        body = client.text(f"o-invented-{n}", "free tokens please")
        assert _refused(await client.send(used_query, body), "replayed_request")
        assert _refused(await client.send(stale_query, body), "stale_request")
    assert await stored_state() == before
    assert len(fake_llm.chat_requests) == model_calls and len(wx.send_calls) == 1


async def test_the_url_checks_query_cannot_be_reused_for_a_callback(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    assert await client.handshake("echo-1") == (200, "echo-1")
    query, _ = client.sent[-1]
    before = await stored_state()
    answer = await client.send(query, client.text("o-h", "through the front door"))
    assert _refused(answer, "replayed_request")
    assert await stored_state() == before and fake_llm.chat_requests == []


async def test_forged_callbacks_do_not_use_up_a_query(wx, start_app, fake_llm, tmp_path) -> None:
    """Only verified callbacks are remembered: a forgery cannot block WeChat's genuine callback."""
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    query, body = client.sign(client.text("o-g", "genuine"))
    forged = {**query, "signature": "0" * 40}
    assert (await client.send(forged, client.text("o-g", "forged"))).status == 403
    assert (await client.send(query, body)).body == "success"
    assert await wx.wait_sent("o-g", 1) == ["Echo: genuine"]


async def test_the_memory_survives_a_restart(wx, start_app, fake_llm, tmp_path) -> None:
    config = wechat_config(tmp_path, fake_llm.base_url, wx)
    first = await start_app(config)
    client = client_for(first, wx)
    await client.post(client.text("o-rs", "before the restart"))
    assert await wx.wait_sent("o-rs", 1) == ["Echo: before the restart"]
    query, body = client.sent[-1]
    await first.runner.cleanup()

    second = await start_app(config)             # the same database: the query is still remembered
    client = client_for(second, wx)
    before = await stored_state()
    assert _refused(await client.send(query, client.text("o-new", "after the restart")), "replayed_request")
    assert (await client.send(query, body)).body == "success"        # the retry still is one
    assert await stored_state() == before and len(fake_llm.chat_requests) == 1


async def test_two_workers_on_postgres_and_redis_refuse_the_replay_on_the_other_worker(wx, fake_llm,
                                                                                        tmp_path) -> None:
    async with shared_backends() as backends:
        config = wechat_config(tmp_path, fake_llm.base_url, wx, sections={
            "database": {"url": backends.database_url},
            "redis": {"url": REDIS_URL, "key_prefix": backends.redis_prefix}})
        a, b = await start_workers(write_config(tmp_path / "config.yaml", config), tmp_path)
        try:
            at_a, at_b = (WeChatCallbackClient(w.url + "/webhooks/wechat", token=CALLBACK_TOKEN, app_id=wx.app_id)
                          for w in (a, b))
            assert (await at_a.post(at_a.text("o-w", "asked at worker A"))).body == "success"
            assert await wx.wait_sent("o-w", 1) == ["Echo: asked at worker A"]
            query, body = at_a.sent[-1]
            # The captured query with new bodies, at the other worker: refused there too.
            for n in range(20):
                answer = await at_b.send(query, at_b.text(f"o-w-invented-{n}", "/link ABCDEF"))
                assert _refused(answer, "replayed_request"), answer
            assert _refused(await at_b.send(query, at_b.text("o-w", "another question")), "replayed_request")
            # WeChat's retry of the very same request reaching worker B is still a retry: accepted, answered once.
            assert (await at_b.send(query, body)).body == "success"
            assert (await at_b.post(at_b.text("o-w", "asked at worker B"))).body == "success"
            assert await wx.wait_sent("o-w", 2) == ["Echo: asked at worker A", "Echo: asked at worker B"]
            conn = await asyncpg.connect(backends.database_url.replace("postgres://", "postgresql://", 1))
            try:
                identities = await conn.fetch("SELECT external_id FROM identities WHERE channel = 'wechat'")
                users = await conn.fetchval("SELECT count(*) FROM users")
            finally:
                await conn.close()
            assert [r["external_id"] for r in identities] == ["o-w"] and users == 1
            assert len(fake_llm.chat_requests) == 2
            remembered = [k async for k in backends.redis.scan_iter(f"{backends.redis_prefix}wechat-query:*")]
            assert len(remembered) == 2          # the two genuine queries, in Redis, shared by both workers
        finally:
            await asyncio.gather(a.stop(), b.stop())

