"""Two real `bot run` workers on one PostgreSQL and one Redis: nothing lost, nothing doubled.

The workers start together on a fresh database (they race to migrate it) and serve every test of this module;
the fake OpenAI, WeChat and WeChat Pay servers run in the test process. The last test kills a worker."""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.wechat_support import zh
import pytest_asyncio

from adapters.wechatpay.provider import out_trade_no
from tests.conftest import REDIS_URL, make_config
from tests.e2e.sse_resume import events_with_ids, resume, start_and_hang_up
from tests.e2e.workers import Worker, shared_backends, start_workers, until, write_config
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.wechat_client import WeChatCallbackClient
from tests.fakes.wechat_server import FakeWeChat
from tests.fakes.wechatpay_server import FakeWeChatPay, WeChatPayKeys

pytestmark = pytest.mark.asyncio(loop_scope="module")

GRANT, HOLD_TTL = 1000, 10
WINDOW, CALLBACK_TIMEOUT = 1.0, 1.3       # WeChat's passive timing, scaled down as in test_wechat_passive
CALLBACK_TOKEN, DIFY_KEY, ADMIN = "callback-token", "app-key-workers", {"X-API-Key": "admin-key"}
PENDING = "pending..."


@dataclass
class Cluster:
    a: Worker
    b: Worker
    llm: FakeOpenAI
    wx: FakeWeChat
    pay: FakeWeChatPay
    http: aiohttp.ClientSession
    public_url: str

    async def call(self, worker: Worker, method: str, path: str, headers: dict | None = None,
                   body: dict | None = None) -> tuple[int, dict]:
        async with self.http.request(method, worker.url + "/api/v1" + path, json=body, headers=headers) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text else {})

    async def new_user(self, worker: Worker) -> dict:
        status, made = await self.call(worker, "POST", "/users", ADMIN, {"name": "u-" + uuid.uuid4().hex[:6]})
        assert status == 201, made
        return {"X-API-Key": made["api_key"]}

    async def conversation(self, worker: Worker, user: dict) -> str:
        status, conv = await self.call(worker, "POST", "/conversations", user, {})
        assert status == 201, conv
        return conv["id"]

    async def me(self, worker: Worker, user: dict) -> dict:
        return (await self.call(worker, "GET", "/me", user))[1]

    def wechat(self, worker: Worker) -> WeChatCallbackClient:
        return WeChatCallbackClient(worker.url + "/webhooks/wechat", token=CALLBACK_TOKEN, app_id=self.wx.app_id)


def _msg_id() -> int:
    """A MsgId no other test message has (clients made in the same millisecond would count alike)."""
    return uuid.uuid4().int % 2**62


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    tmp: Path = tmp_path_factory.mktemp("workers")
    keys = WeChatPayKeys.generate()
    async with shared_backends() as backends, FakeOpenAI(api_key="sk-test", models=["test-model"]) as llm, \
            FakeWeChat() as wx, FakeWeChatPay(keys) as pay, aiohttp.ClientSession() as http:
        wechat = {"enabled": True, "app_id": wx.app_id, "app_secret": wx.app_secret, "token": CALLBACK_TOKEN,
                  "api_base_url": wx.base_url, "reply_mode": "passive", "pending_text": PENDING,
                  "passive_window_seconds": WINDOW, "callback_timeout_seconds": CALLBACK_TIMEOUT}
        config = make_config(
            tmp, llm.base_url, database_url=backends.database_url,
            redis={"url": REDIS_URL, "key_prefix": backends.redis_prefix},
            server={"sse_resume_seconds": 5, "shutdown_grace_seconds": 5},
            quota={"signup_grant": GRANT, "hold_ttl_seconds": HOLD_TTL},
            channels={"wechat": wechat}, payments={"wechatpay": keys.config_section(tmp, pay.base_url)},
            dify={"app_keys": [DIFY_KEY]})
        a, b = await start_workers(write_config(tmp / "config.yaml", config), tmp)
        try:
            yield Cluster(a, b, llm, wx, pay, http, config.server.public_url)
        finally:
            await asyncio.gather(a.stop(), b.stop())


async def test_a_quota_for_n_replies_gives_exactly_n_across_both_workers(cluster: Cluster) -> None:
    c = cluster
    c.llm.default = Script(reply="y" * 100, chunk_chars=2, chunk_delay=0.004)   # 50 tokens, ~0.2 s
    try:
        # What one reply holds and costs, measured on a user of its own.
        probe = await c.new_user(c.a)
        pid = await c.conversation(c.a, probe)
        async with c.http.post(f"{c.a.url}/api/v1/conversations/{pid}/messages", headers=probe,
                               json={"content": "same question", "stream": True}) as resp:
            me = await c.me(c.b, probe)
            hold = me["balance"] - me["available"]
            done = [e async for e in events_with_ids(resp)][-1].json
        cost = done["cost"]
        assert hold > cost > 0
        expected = (GRANT - hold) // cost + 1          # replies that fit, one after another

        user = await c.new_user(c.a)
        # Every question starts a conversation of its own: the same prompt, so the same hold and cost.
        conversations = [await c.conversation(c.a, user) for _ in range(2 * expected + 6)]
        burst_part, one_by_one = conversations[:expected + 4], conversations[expected + 4:]

        async def ask(n: int, cid: str) -> int:
            worker = (c.a, c.b)[n % 2]
            status, _ = await c.call(worker, "POST", f"/conversations/{cid}/messages", user,
                                     {"content": "same question"})
            assert status in (200, 402)
            return status

        burst = await asyncio.gather(*(ask(n, cid) for n, cid in enumerate(burst_part)))
        assert burst.count(402) > 0                     # more were asked than the quota covers
        served = burst.count(200)
        for n, cid in enumerate(one_by_one):            # one by one, alternating workers, until refused
            if served == expected + 2 or await ask(n, cid) == 402:
                break
            served += 1
        assert served == expected
        me = await c.me(c.b, user)
        assert me["balance"] == GRANT - expected * cost >= 0 and me["available"] == me["balance"]
        status, ledger = await c.call(c.a, "GET", "/me/ledger?limit=100", user)
        amounts = [e["amount"] for e in ledger["data"]]
        assert sum(amounts) == me["balance"] and amounts.count(-cost) == expected
    finally:
        c.llm.default = Script()


async def test_wechat_retries_on_both_workers_make_one_model_call_and_one_answer(cluster: Cluster) -> None:
    c = cluster
    openid, text = "o-" + uuid.uuid4().hex[:8], "a question asked once " + uuid.uuid4().hex[:6]
    c.llm.script(reply="The one answer.", first_delay=2.9)     # ready during WeChat's third try
    first, second = c.wechat(c.a), c.wechat(c.b)
    xml = first.text(openid, text, msg_id=_msg_id())
    answers = []
    for client in (first, second, second):                     # try 1 on A (which generates), 2 and 3 on B
        try:
            answers.append(await client.post(xml, timeout=CALLBACK_TIMEOUT))
        except asyncio.TimeoutError:
            answers.append(None)
    assert answers[:2] == [None, None]
    assert answers[2] is not None and answers[2].content == "The one answer."
    assert [r["messages"][-1]["content"] for r in c.llm.chat_requests].count(text) == 1
    again = await first.post(xml, timeout=CALLBACK_TIMEOUT)     # a late duplicate: answered once, ever
    assert again.body == "success"
    follow_up = await second.post(second.text(openid, "and then?", msg_id=_msg_id()), timeout=CALLBACK_TIMEOUT)
    assert follow_up.content == "Echo: and then?"               # nothing was left owed in the outbox


async def test_login_scenes_and_link_codes_work_across_workers(cluster: Cluster) -> None:
    c = cluster
    status, qr = await c.call(c.a, "POST", "/auth/wechat-qrcode")
    assert status == 200, qr
    scene = c.wx.qrcodes[qr["qrcode"]]["action_info"]["scene"]["scene_str"]
    openid = "o-" + uuid.uuid4().hex[:8]
    scanned = await c.wechat(c.b).post(c.wechat(c.b).event(openid, "SCAN", scene), timeout=CALLBACK_TIMEOUT)
    assert "登录请求" in scanned.content
    status, body = await c.call(c.a, "POST", "/auth/token", body={"qrcode": qr["qrcode"]})
    assert (status, body["error"]["reason"]) == (401, "pending")     # scanned on b, not yet confirmed
    confirmed = await c.wechat(c.a).post(c.wechat(c.a).text(openid, "确认", msg_id=_msg_id()),
                                         timeout=CALLBACK_TIMEOUT)
    assert zh("confirm.done") in confirmed.content          # WeChat users read Chinese by default
    status, token = await c.call(c.b, "POST", "/auth/token", body={"qrcode": qr["qrcode"]})
    assert status == 200, token
    linked = await c.wechat(c.a).post(c.wechat(c.a).text(openid, "/link", msg_id=_msg_id()), timeout=CALLBACK_TIMEOUT)
    code = re.search(r"/link ([A-Z0-9]{8})", linked.content).group(1)
    status, body = await c.call(c.b, "POST", "/auth/token", body={"magic_code": code})
    assert status == 200 and body["user_id"] == token["user_id"]
    status, body = await c.call(c.a, "POST", "/auth/token", body={"magic_code": code})
    assert (status, body["error"]["reason"]) == (400, "invalid_code")   # single use, on every worker


async def test_a_payment_notify_delivered_to_both_workers_credits_once(cluster: Cluster) -> None:
    c = cluster
    user = await c.new_user(c.a)
    status, order = await c.call(c.a, "POST", "/orders", user, {"product_id": "starter"})
    assert status == 201, order
    status, paying = await c.call(c.b, "POST", f"/orders/{order['id']}/pay", user, {"payment_method": "wechat_native"})
    assert status == 200, paying
    trade = out_trade_no(order["id"])
    await c.pay.pay(trade, notify=False)
    notify = c.pay.notify_for(trade)

    async def deliver(worker: Worker) -> int:
        url = notify.url.replace(c.public_url.rstrip("/"), worker.url)
        async with c.http.post(url, data=notify.body, headers={**notify.headers, "Content-Type": "application/json"}) as r:
            return r.status

    statuses = await asyncio.gather(deliver(c.a), deliver(c.b), deliver(c.a), deliver(c.b))
    assert all(200 <= s < 300 for s in statuses), statuses
    status, ledger = await c.call(c.b, "GET", "/me/ledger?limit=100", user)
    assert [e["kind"] for e in ledger["data"]].count("purchase") == 1
    assert (await c.me(c.a, user))["balance"] == GRANT + 5000
    assert (await c.call(c.a, "GET", f"/orders/{order['id']}", user))[1]["status"] == "paid"


async def test_an_answer_stream_resumes_on_the_other_worker(cluster: Cluster) -> None:
    c = cluster
    user = await c.new_user(c.a)
    cid = await c.conversation(c.a, user)
    reply = "".join(f"w{n} " for n in range(40))
    c.llm.script(reply=reply, chunk_chars=4, chunk_delay=0.04)
    mid, seen = await start_and_hang_up(c.a.url, user, cid, "stream it", keep=3)
    rest = await resume(c.b.url, user, cid, mid, seen[-1].id)   # B reads what A writes, through Redis
    assert rest[-1].name == "done" and rest[-1].json["status"] == "complete"
    assert [int(e.id) for e in rest] == list(range(4, 4 + len(rest)))
    assert "".join(e.json["content"] for e in seen + rest if e.name == "delta") == reply
    other = await c.new_user(c.b)
    status, _ = await c.call(c.b, "GET", f"/conversations/{cid}/messages/{mid}/events", other)
    assert status == 404


async def test_dify_stop_sent_to_the_other_worker_stops_the_stream(cluster: Cluster) -> None:
    c = cluster
    reply = "".join(f"word{n} " for n in range(100))
    held = asyncio.Event()                     # the model sends 3 chunks, then nothing until the test says so
    c.llm.script(reply=reply, chunk_chars=6, gate=held, gate_after=3)
    headers = {"Authorization": f"Bearer {DIFY_KEY}"}
    body = {"inputs": {}, "query": "a long story", "response_mode": "streaming", "user": "carol"}
    try:
        async with c.http.post(c.a.url + "/dify/v1/chat-messages", json=body, headers=headers) as resp:
            lines = resp.content.__aiter__()
            first = await _next_data(lines)
            async with c.http.post(f"{c.b.url}/dify/v1/chat-messages/{first['task_id']}/stop",
                                   json={"user": "carol"}, headers=headers) as stop:
                assert (stop.status, await stop.json()) == (200, {"result": "success"})

            async def rest_of_stream() -> list[dict]:
                return [d async for d in _data(lines)]

            # Only the stop can end this stream (the model is held); the limit keeps a broken build from hanging.
            rest = await asyncio.wait_for(rest_of_stream(), 60)
    finally:
        held.set()
    assert rest[-1]["event"] == "message_end"
    answer = first["answer"] + "".join(d["answer"] for d in rest if d["event"] == "message")
    assert 0 < len(answer) < len(reply) // 2


async def _data(lines):
    async for raw in lines:
        line = raw.decode().strip()
        if line.startswith("data:"):
            yield json.loads(line[5:])


async def _next_data(lines) -> dict:
    async for item in _data(lines):
        return item
    raise AssertionError("the stream ended")


async def _queue_depths(c: Cluster, worker: Worker) -> dict[str, float]:
    async with c.http.get(worker.url + "/metrics") as resp:
        text = await resp.text()
    gauges = re.finditer(r'^bot_queue_depth\{queue="([^"]+)"\} (\S+)$', text, re.M)
    return {m.group(1): float(m.group(2)) for m in gauges}


async def test_metrics_report_queue_depths(cluster: Cluster) -> None:
    c = cluster
    user = await c.new_user(c.a)
    cid = await c.conversation(c.a, user)
    held = asyncio.Event()
    c.llm.script(reply="held back " * 5, chunk_chars=5, gate=held, gate_after=1)
    try:
        async with c.http.post(f"{c.a.url}/api/v1/conversations/{cid}/messages", headers=user,
                               json={"content": "hold on", "stream": True}) as resp:
            events = events_with_ids(resp)
            await anext(events)                                     # the answer is being written on A
            assert (await _queue_depths(c, c.a))["sse_streams"] == 1.0
            assert (await _queue_depths(c, c.b))["sse_streams"] == 0.0
            held.set()
            assert [e.name async for e in events][-1] == "done"
    finally:
        held.set()
    await until(lambda: _idle(c, c.a))                             # the finished stream leaves the gauge
    for worker in (c.a, c.b):
        depths = await _queue_depths(c, worker)
        assert {q: depths.get(q) for q in ("sse_streams", "dify_tasks", "wechat_answers", "wechat_pending")} == \
            {"sse_streams": 0.0, "dify_tasks": 0.0, "wechat_answers": 0.0, "wechat_pending": 0.0}


async def _idle(c: Cluster, worker: Worker) -> bool:
    return (await _queue_depths(c, worker)).get("sse_streams") == 0.0


async def test_a_killed_worker_leaves_no_stuck_hold_and_loses_no_message(cluster: Cluster) -> None:
    c = cluster
    user = await c.new_user(c.a)
    cid = await c.conversation(c.a, user)
    c.llm.script(reply="z" * 400, chunk_chars=2, chunk_delay=0.05)   # 10 s: killed long before the end
    async with c.http.post(f"{c.a.url}/api/v1/conversations/{cid}/messages", headers=user,
                           json={"content": "remember the walrus", "stream": True}) as resp:
        events = events_with_ids(resp)
        await anext(events)
        me = await c.me(c.b, user)
        assert me["available"] < me["balance"] == GRANT             # the reply's hold
        await c.a.kill()
    status, page = await c.call(c.b, "GET", f"/conversations/{cid}/messages", user)
    assert [(m["role"], m["content"]) for m in page["data"]] == [("user", "remember the walrus")]

    async def hold_freed() -> bool:
        me = await c.me(c.b, user)
        return me["available"] == me["balance"] == GRANT           # nothing charged for the lost reply

    await until(hold_freed, timeout=HOLD_TTL + 15, every=0.25)      # B's sweep frees the expired hold
    status, answer = await c.call(c.b, "POST", f"/conversations/{cid}/messages", user, {"content": "still there?"})
    assert status == 200 and answer["content"] == "Echo: still there?"
    assert c.llm.chat_requests[-1]["messages"][-2] == {"role": "user", "content": "remember the walrus"}
