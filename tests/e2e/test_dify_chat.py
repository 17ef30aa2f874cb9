"""/dify/v1/chat-messages end to end: blocking and streaming replies, ping, stop, errors in Dify's shape."""
from __future__ import annotations

import asyncio
import math
import time

from tests.e2e.dify_client import APP_KEY, OTHER_APP_KEY, open_dify, sse_events, user_id_of  # noqa: F401
from tests.fakes.openai_server import prompt_tokens_of


async def test_blocking_then_streaming_continue_one_conversation(open_dify, fake_llm) -> None:
    running, dify = await open_dify()
    fake_llm.script(reply="Hello Alice, nice to meet you.", chunk_chars=5)
    first = await dify.chat("alice", "hi, I am Alice")
    assert first["event"] == "message" and first["mode"] == "chat"
    assert first["answer"] == "Hello Alice, nice to meet you."
    assert first["id"] == first["message_id"] and first["task_id"] and first["conversation_id"]
    assert abs(first["created_at"] - time.time()) < 60 and isinstance(first["created_at"], int)
    usage = first["metadata"]["usage"]
    prompt = prompt_tokens_of(fake_llm.chat_requests[0]["messages"])
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (prompt, 6)
    assert usage["total_tokens"] == prompt + 6 and usage["cost"] == math.ceil(prompt + 6 * 2.0)
    assert first["metadata"]["retriever_resources"] == []

    fake_llm.script(reply="You told me you are Alice.", chunk_chars=4)
    async with dify.stream("alice", "what is my name?", first["conversation_id"]) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        events = [e async for e in sse_events(resp)]
    chunks = [e.data for e in events if e.data and e.data["event"] == "message"]
    end = events[-1].data
    assert "".join(c["answer"] for c in chunks) == "You told me you are Alice."
    assert len(chunks) == 7 and end["event"] == "message_end"
    ids = {(c["task_id"], c["message_id"], c["conversation_id"], c["created_at"]) for c in chunks}
    assert len(ids) == 1
    task_id, message_id, conversation_id, _ = ids.pop()
    assert conversation_id == first["conversation_id"] and message_id != first["message_id"]
    assert (end["task_id"], end["id"], end["message_id"]) == (task_id, message_id, message_id)
    assert end["metadata"]["usage"]["completion_tokens"] == 7 and end["metadata"]["retriever_resources"] == []
    # The second call carried the first exchange as history.
    sent = [m["content"] for m in fake_llm.chat_requests[1]["messages"]]
    assert sent[1:] == ["hi, I am Alice", "Hello Alice, nice to meet you.", "what is my name?"]
    user_id = await user_id_of(running, "alice")
    stored = await running.services.conversations.message(user_id, message_id)
    account = await running.services.accounts.get(user_id)
    assert stored.status == "complete" and stored.cost == end["metadata"]["usage"]["cost"]
    assert account.balance == 1000 - usage["cost"] - stored.cost and account.held == 0


async def test_pings_keep_a_slow_stream_open(open_dify, fake_llm) -> None:
    _, dify = await open_dify(ping_interval_seconds=0.05)
    fake_llm.script(reply="slow but sure", first_delay=0.4, chunk_delay=0.1, chunk_chars=5)
    async with dify.stream("bob", "take your time") as resp:
        events = [e async for e in sse_events(resp)]
    names = [e.event if e.data is None else e.data["event"] for e in events]
    assert names[0] == "ping" and names.count("ping") >= 3 and names[-1] == "message_end"
    assert all(e.data is None for e in events if e.event == "ping")
    assert "".join(e.data["answer"] for e in events if e.data and e.data["event"] == "message") == "slow but sure"


async def test_stop_ends_the_stream_and_charges_what_was_generated(open_dify, fake_llm) -> None:
    running, dify = await open_dify()
    reply = "".join(f"word{n} " for n in range(60))
    fake_llm.script(reply=reply, chunk_chars=6, chunk_delay=0.05)
    user_id = await user_id_of(running, "carol")
    async with dify.stream("carol", "tell me a long story") as resp:
        events = sse_events(resp)
        first = (await anext(events)).data
        assert first["event"] == "message"
        # Another end user cannot stop it: same answer, and the stream goes on.
        status, body = await dify.call("POST", f"/chat-messages/{first['task_id']}/stop", json_body={"user": "mallory"})
        assert (status, body) == (200, {"result": "success"})
        second = (await anext(events)).data
        assert second["event"] == "message"
        status, body = await dify.call("POST", f"/chat-messages/{first['task_id']}/stop", json_body={"user": "carol"})
        assert (status, body) == (200, {"result": "success"})
        rest = [e.data async for e in events]
    end = rest[-1]
    assert end["event"] == "message_end" and end["message_id"] == first["message_id"]
    answer = "".join(e["answer"] for e in [first, second, *rest] if e["event"] == "message")
    assert 0 < len(answer) < len(reply)
    stored = await running.services.conversations.message(user_id, first["message_id"])
    assert stored.status == "cancelled" and stored.content == answer
    assert 0 < stored.cost == end["metadata"]["usage"]["cost"]
    full_cost = math.ceil(end["metadata"]["usage"]["prompt_tokens"] + 2.0 * len(reply) / 6)
    assert stored.cost < full_cost
    account = await running.services.accounts.get(user_id)
    assert (account.balance, account.held) == (1000 - stored.cost, 0)


async def test_client_disconnect_stops_the_reply_and_charges_it(open_dify, fake_llm) -> None:
    running, dify = await open_dify()
    fake_llm.script(reply="x" * 400, chunk_chars=4, chunk_delay=0.05)
    user_id = await user_id_of(running, "dave")
    async with dify.stream("dave", "go on forever") as resp:
        events = sse_events(resp)
        first = (await anext(events)).data
    # The server notices at its next write; the engine then stores and charges the partial reply.
    for _ in range(100):
        page = await running.services.conversations.messages(user_id, first["conversation_id"])
        if len(page.items) == 2:
            break
        await asyncio.sleep(0.05)
    answer = page.items[1]
    assert answer.status == "cancelled" and 0 < answer.cost and len(answer.content) < 400
    assert (await running.services.accounts.get(user_id)).balance == 1000 - answer.cost


async def test_errors_come_in_difys_shape(open_dify, fake_llm) -> None:
    _, dify = await open_dify()
    chat = {"inputs": {}, "query": "hi", "response_mode": "blocking", "user": "erin"}

    status, body = await dify.as_app("wrong-key").call("POST", "/chat-messages", json_body=chat)
    assert status == 401 and body["code"] == "unauthorized" and body["status"] == 401 and body["message"]
    status, body = await dify.call("GET", "/parameters", headers={})
    assert status == 401 and body["code"] == "unauthorized"
    status, body = await dify.call("GET", "/parameters", headers={"Authorization": f"Basic {APP_KEY}"})
    assert status == 401
    status, body = await dify.call("POST", "/chat-messages", data='{"query": "hi", "user": ',
                                   headers={"Authorization": f"Bearer {APP_KEY}", "Content-Type": "application/json"})
    assert (status, body["code"], body["status"]) == (400, "bad_request", 400)
    status, body = await dify.call("POST", "/chat-messages", json_body={**chat, "user": ""})
    assert (status, body["code"], body["message"]) == (400, "invalid_param", "Arg user must be provided.")
    status, body = await dify.call("POST", "/chat-messages", json_body={**chat, "response_mode": "fast"})
    assert (status, body["code"]) == (400, "invalid_param") and "response_mode" in body["message"]
    status, body = await dify.call("POST", "/chat-messages", json_body={**chat, "query": 5})
    assert (status, body["code"]) == (400, "invalid_param") and "query" in body["message"]
    status, body = await dify.call("POST", "/chat-messages", json_body={**chat, "conversation_id": "nope"})
    assert (status, body["code"]) == (400, "invalid_param")
    missing = "3f1c0a52-9d1e-4c55-8a59-2f6f4f1d2a10"
    status, body = await dify.call("POST", "/chat-messages", json_body={**chat, "conversation_id": missing})
    assert (status, body) == (404, {"code": "not_found", "message": "Conversation Not Exists.", "status": 404})
    status, body = await dify.call("POST", "/chat-messages", json_body={**chat, "query": "x" * 2_000_000})
    assert (status, body["status"]) == (413, 413) and body["code"]
    status, body = await dify.call("GET", "/no-such-endpoint")
    assert (status, body["code"], body["status"]) == (404, "not_found", 404)
    status, body = await dify.call("PUT", "/chat-messages", json_body=chat)
    assert (status, body["status"]) == (405, 405)
    assert fake_llm.chat_requests == []  # nothing reached the model


async def test_quota_refusal_and_model_failures(open_dify, fake_llm) -> None:
    running, dify = await open_dify()
    poor = await user_id_of(running, "frank")
    await running.services.quota.debit(poor, 990, "adjustment", key="drain-frank")
    status, body = await dify.call("POST", "/chat-messages", json_body={
        "inputs": {}, "query": "hi", "response_mode": "streaming", "user": "frank"})
    # Dify's codes, which clients map errors by: quota is 400 provider_quota_exceeded, a model failure 400
    # completion_request_error.
    assert (status, body["code"], body["status"]) == (400, "provider_quota_exceeded", 400)
    assert fake_llm.chat_requests == []

    fake_llm.script(status=500)
    status, body = await dify.call("POST", "/chat-messages", json_body={
        "inputs": {}, "query": "hi", "response_mode": "blocking", "user": "grace"})
    assert (status, body["code"], body["status"]) == (400, "completion_request_error", 400)

    fake_llm.script(status=500)
    async with dify.stream("grace", "again") as resp:
        events = [e.data async for e in sse_events(resp)] if resp.status == 200 else [await resp.json()]
    error = events[-1]
    assert (error["status"], error["code"]) == (400, "completion_request_error") and error["message"]
    account = await running.services.accounts.get(await user_id_of(running, "grace"))
    assert (account.balance, account.held) == (1000, 0)  # failed replies are not charged

    # Broken after text: never retried; the answer ends with a note and what was generated is charged.
    fake_llm.script(reply="this answer breaks halfway through", chunk_chars=3, cut_after=3)
    async with dify.stream("grace", "again") as resp:
        assert resp.status == 200
        events = [e.data async for e in sse_events(resp)]
    assert [e["event"] for e in events] == ["message"] * 4 + ["message_end"]
    assert "cut off" in events[3]["answer"]
    assert events[-1]["message_id"] == events[0]["message_id"]
    account = await running.services.accounts.get(await user_id_of(running, "grace"))
    assert account.held == 0 and 0 < 1000 - account.balance < 100


async def test_end_users_are_isolated_per_user_and_per_app(open_dify, fake_llm) -> None:
    _, dify = await open_dify()
    mine = await dify.chat("heidi", "my secret plan")
    cid = mine["conversation_id"]
    status, body = await dify.call("POST", "/chat-messages", json_body={
        "inputs": {}, "query": "let me in", "response_mode": "blocking", "user": "ivan", "conversation_id": cid})
    assert (status, body["message"]) == (404, "Conversation Not Exists.")
    status, body = await dify.call("GET", "/messages", params={"user": "ivan", "conversation_id": cid})
    assert (status, body["message"]) == (404, "Conversation Not Exists.")
    status, body = await dify.call("GET", "/conversations", params={"user": "ivan"})
    assert status == 200 and body["data"] == []
    # The same `user` string under another app key is another person.
    other = dify.as_app(OTHER_APP_KEY)
    status, body = await other.call("GET", "/conversations", params={"user": "heidi"})
    assert status == 200 and body["data"] == []
    status, body = await other.call("GET", "/messages", params={"user": "heidi", "conversation_id": cid})
    assert status == 404
    status, body = await dify.call("GET", "/conversations", params={"user": "heidi"})
    assert [c["id"] for c in body["data"]] == [cid]
