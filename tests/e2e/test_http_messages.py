"""Posting messages over real HTTP: blocking and SSE answers, keep-alives, quota refusal, upstream failures,
and a client that hangs up mid-stream being charged only for what was generated."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from adapters.http.messages import SSE_KEEPALIVE
from tests.conftest import make_config
from tests.e2e.http_native import PREFIX, assert_error, serve, sse_events

MESSAGE_FIELDS = {"id", "conversation_id", "role", "content", "model", "status", "usage", "cost", "citations",
                  "feedback", "created_at"}


@pytest.fixture
def config(tmp_path, fake_llm):
    # Here a hang-up stops the answer at once; the grace for resuming it is tested in test_http_resume.py.
    return make_config(tmp_path, fake_llm.base_url, server={"sse_resume_seconds": 0})


@pytest.fixture
async def api(start_app, config):
    async with serve(start_app, config) as client:
        yield client


async def _conversation(api) -> tuple:
    user, _ = await api.new_user()
    conv = (await user.post("/conversations")).body
    return user, conv["id"]


async def _balance(user) -> int:
    return (await user.get("/me")).body["balance"]


async def test_blocking_answer_is_the_assistant_message(api, fake_llm) -> None:
    user, cid = await _conversation(api)
    fake_llm.script(reply="Hello there, friend", chunk_chars=5)
    reply = await user.post(f"/conversations/{cid}/messages", {"content": "Hi"})
    assert reply.status == 200
    m = reply.body
    assert set(m) == MESSAGE_FIELDS
    assert (m["role"], m["content"], m["model"], m["status"], m["conversation_id"]) == (
        "assistant", "Hello there, friend", "test-model", "complete", cid)
    usage = m["usage"]
    assert usage["completion_tokens"] == 4 and usage["total_tokens"] == usage["prompt_tokens"] + 4
    assert m["cost"] == usage["prompt_tokens"] * 1 + 4 * 2 and m["citations"] == [] and m["feedback"] == 0
    assert await _balance(user) == 1000 - m["cost"]
    assert fake_llm.chat_requests[-1]["messages"][-1] == {"role": "user", "content": "Hi"}


async def test_streaming_answer_by_body_flag_or_accept_header(api, fake_llm) -> None:
    user, cid = await _conversation(api)
    for kwargs in ({"json": {"content": "Hi", "stream": True}},
                   {"json": {"content": "Hi"}, "headers": {"Accept": "text/event-stream"}}):
        fake_llm.script(reply="abcdefghij", chunk_chars=3)
        headers = {**user.headers, **kwargs.pop("headers", {})}
        async with api.http.post(api.base_url + PREFIX + f"/conversations/{cid}/messages", headers=headers,
                                 **kwargs) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
            events = [e async for e in sse_events(resp)]
        deltas = [json.loads(d)["content"] for name, d in events if name == "delta"]
        assert deltas == ["abc", "def", "ghi", "j"]
        assert [name for name, _ in events][-1] == "done"
        done = json.loads(events[-1][1])
        assert set(done) == MESSAGE_FIELDS and done["content"] == "abcdefghij" and done["status"] == "complete"


async def test_quiet_streams_get_keep_alive_comments(start_app, config, fake_llm) -> None:
    fast_keepalive = [lambda app, cfg: app.__setitem__(SSE_KEEPALIVE, 0.02)]
    async with serve(start_app, config, fast_keepalive) as api:
        user, cid = await _conversation(api)
        fake_llm.script(reply="late", first_delay=0.3)
        async with api.http.post(api.base_url + PREFIX + f"/conversations/{cid}/messages",
                                 json={"content": "Hi", "stream": True}, headers=user.headers) as resp:
            events = [e async for e in sse_events(resp)]
    names = [name for name, _ in events]
    assert names[0] == "comment" and events[0][1] == "keep-alive"
    assert names.index("delta") > names.index("comment") and names[-1] == "done"


async def test_quota_refusal_is_402_and_makes_no_model_call(api, fake_llm) -> None:
    user, cid = await _conversation(api)
    uid = (await user.get("/me")).body["id"]
    await api.services.quota.debit(uid, 950, "adjustment", key="drain")
    for body in ({"content": "Hi"}, {"content": "Hi", "stream": True}):
        reply = await user.post(f"/conversations/{cid}/messages", body)
        assert_error(reply, 402, "quota_exceeded")
    assert fake_llm.chat_requests == []
    assert (await user.get(f"/conversations/{cid}/messages")).body["data"] == []  # nothing stored
    assert await _balance(user) == 50


async def test_upstream_failure_blocking_is_502_and_streaming_is_an_error_event(api, fake_llm) -> None:
    user, cid = await _conversation(api)
    fake_llm.script(status=500)
    assert_error(await user.post(f"/conversations/{cid}/messages", {"content": "Hi"}), 502, "upstream_error")
    fake_llm.script(status=500)
    async with api.http.post(api.base_url + PREFIX + f"/conversations/{cid}/messages",
                             json={"content": "Hi", "stream": True}, headers=user.headers) as resp:
        events = [e async for e in sse_events(resp)]
    assert [n for n, _ in events] == ["error"]
    error = json.loads(events[-1][1])
    assert error["error"]["code"] == 502 and error["error"]["reason"] == "upstream_error" and error["correlationId"]
    assert await _balance(user) == 1000  # failed answers are not charged
    # Broken after text: never retried; the answer ends with a note and what was generated is charged.
    fake_llm.script(reply="abcdefgh", chunk_chars=2, cut_after=2)
    async with api.http.post(api.base_url + PREFIX + f"/conversations/{cid}/messages",
                             json={"content": "Hi", "stream": True}, headers=user.headers) as resp:
        events = [e async for e in sse_events(resp)]
    assert [n for n, _ in events] == ["delta", "delta", "delta", "done"]
    assert "cut off" in json.loads(events[2][1])["content"]
    done = json.loads(events[-1][1])
    assert done["status"] == "error" and done["cost"] > 0 and await _balance(user) == 1000 - done["cost"]


@pytest.mark.parametrize("body, field", [({"content": ""}, "content"), ({"content": 5}, "content"),
                                         ({}, "content"), ({"content": "x", "stream": "maybe"}, "stream"),
                                         ({"content": "x", "temperature": 2}, "temperature")])
async def test_message_body_errors_name_the_field(api, fake_llm, body, field) -> None:
    user, cid = await _conversation(api)
    reply = await user.post(f"/conversations/{cid}/messages", body)
    assert_error(reply, 400, "invalid_request")
    assert field in reply.body["error"]["message"]
    assert fake_llm.chat_requests == []


async def test_unknown_model_is_refused(api, fake_llm) -> None:
    user, cid = await _conversation(api)
    assert_error(await user.post(f"/conversations/{cid}/messages", {"content": "x", "model": "gpt-9"}), 400,
                 "unknown_model")
    assert fake_llm.chat_requests == []


async def test_client_hanging_up_cancels_the_model_call_and_pays_for_what_was_generated(api, fake_llm) -> None:
    user, cid = await _conversation(api)
    uid = (await user.get("/me")).body["id"]
    fake_llm.script(reply="x" * 80, chunk_chars=1, chunk_delay=0.02)
    http = aiohttp.ClientSession()
    resp = await http.post(api.base_url + PREFIX + f"/conversations/{cid}/messages",
                           json={"content": "Tell me a long story", "stream": True}, headers=user.headers)
    seen = 0
    async for name, _ in sse_events(resp):
        seen += name == "delta"
        if seen == 5:
            break
    resp.close()       # hang up mid-stream
    await http.close()

    async def cancelled_answer() -> dict:
        while True:
            messages = (await user.get(f"/conversations/{cid}/messages")).body["data"]
            if len(messages) == 2:
                return messages[1]
            await asyncio.sleep(0.02)

    answer = await asyncio.wait_for(cancelled_answer(), 10)
    assert answer["status"] == "cancelled"
    assert 5 <= len(answer["content"]) < 80  # the model call stopped early
    generated = answer["usage"]["completion_tokens"]
    assert 0 < generated < 80 and answer["cost"] == answer["usage"]["prompt_tokens"] + 2 * generated
    entries = await api.services.repos.ledger.entries(uid, 10, None)
    assert entries.items[0].kind == "usage" and entries.items[0].amount == -answer["cost"]
    assert await _balance(user) == 1000 - answer["cost"]
    assert (await user.get("/me")).body["available"] == 1000 - answer["cost"]  # the hold was released


async def test_hanging_up_before_the_first_token_stops_the_model_call(start_app, config, fake_llm) -> None:
    async with serve(start_app, config, [lambda app, cfg: app.__setitem__(SSE_KEEPALIVE, 0.05)]) as api:
        user, cid = await _conversation(api)
        fake_llm.script(reply="never sent", first_delay=30)
        http = aiohttp.ClientSession()
        resp = await http.post(api.base_url + PREFIX + f"/conversations/{cid}/messages",
                               json={"content": "Hi", "stream": True}, headers=user.headers)
        async for name, _ in sse_events(resp):
            assert name == "comment"
            break
        resp.close()
        await http.close()

        async def settled() -> dict:
            while len(messages := (await user.get(f"/conversations/{cid}/messages")).body["data"]) < 2:
                await asyncio.sleep(0.02)
            return messages[1]

        answer = await asyncio.wait_for(settled(), 10)  # long before the model's 30 s
        assert answer["status"] == "cancelled" and answer["content"] == ""
        assert answer["usage"]["completion_tokens"] == 0
        me = (await user.get("/me")).body
        assert me["available"] == me["balance"] == 1000 - answer["cost"]
