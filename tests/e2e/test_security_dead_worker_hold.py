"""Attack (or accident): a worker dies mid-reply. Its quota hold must not lock the user out for the hold's TTL: the
other worker serves the same user again once the dead hold's lease lapses, and nothing is charged twice or
overdrawn. Two real `bot run` workers on PostgreSQL and Redis; the model streams until the test opens a gate."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import aiohttp

from tests.conftest import REDIS_URL, make_config
from tests.e2e.sse_resume import events_with_ids
from tests.e2e.workers import Worker, shared_backends, start_workers, until, write_config
from tests.fakes.openai_server import FakeOpenAI

LEASE = 3            # seconds; renewed every second by a live reply
TTL = 600            # the old lock-out: what a dead worker's hold used to cost its user
GRANT = 300          # one reply's hold (~220: 100 output tokens at weight 2, plus the prompt) fits, two do not
ADMIN = {"X-API-Key": "admin-key"}


async def _call(http: aiohttp.ClientSession, worker: Worker, method: str, path: str, headers: dict | None = None,
                body: dict | None = None) -> tuple[int, dict]:
    async with http.request(method, worker.url + "/api/v1" + path, json=body, headers=headers) as resp:
        text = await resp.text()
        return resp.status, (json.loads(text) if text else {})


async def test_a_killed_workers_hold_lapses_within_30_s_and_nothing_is_overdrawn(tmp_path: Path) -> None:
    gate = asyncio.Event()
    async with shared_backends() as backends, FakeOpenAI(api_key="sk-test", models=["test-model"]) as llm, \
            aiohttp.ClientSession() as http:
        config = make_config(tmp_path, llm.base_url, database_url=backends.database_url,
                             redis={"url": REDIS_URL, "key_prefix": backends.redis_prefix},
                             quota={"signup_grant": GRANT, "hold_ttl_seconds": TTL, "hold_lease_seconds": LEASE})
        a, b = await start_workers(write_config(tmp_path / "config.yaml", config), tmp_path)
        try:
            status, made = await _call(http, a, "POST", "/users", ADMIN, {"name": "u-" + uuid.uuid4().hex[:6]})
            assert status == 201, made
            user = {"X-API-Key": made["api_key"]}
            status, conv = await _call(http, a, "POST", "/conversations", user, {})
            assert status == 201, conv
            status, other = await _call(http, b, "POST", "/conversations", user, {})
            assert status == 201, other

            async def ask_b(text: str) -> tuple[int, dict]:
                return await _call(http, b, "POST", f"/conversations/{other['id']}/messages", user, {"content": text})

            llm.script(reply="a reply that never ends " * 10, chunk_chars=4, gate=gate, gate_after=2)
            async with http.post(f"{a.url}/api/v1/conversations/{conv['id']}/messages", headers=user,
                                 json={"content": "a long question", "stream": True}) as resp:
                events = events_with_ids(resp)
                while (await anext(events)).name != "delta":
                    pass
                started = time.monotonic()
                me = (await _call(http, b, "GET", "/me", user))[1]
                held = me["balance"] - me["available"]
                assert me["balance"] == GRANT and held > GRANT // 2       # the live reply's hold

                # A live reply outlives its lease: A renews the hold, B's sweeps leave it, B still refuses.
                while time.monotonic() < started + 2.5 * LEASE:
                    status, body = await ask_b("may I?")
                    assert (status, body["error"]["reason"]) == (402, "quota_exceeded"), body
                    await asyncio.sleep(0.5)
                me = (await _call(http, b, "GET", "/me", user))[1]
                assert me["balance"] - me["available"] == held

                await a.kill()                                  # SIGKILL mid-stream: no settle, no release
                killed = time.monotonic()

            served = await until(lambda: _served(ask_b), timeout=30, every=0.25)
            assert time.monotonic() - killed < 30
            assert served["content"] == "Echo: still there?"

            me = (await _call(http, b, "GET", "/me", user))[1]
            assert me["balance"] == GRANT - served["cost"] and me["available"] == me["balance"] >= 0
            status, ledger = await _call(http, b, "GET", "/me/ledger?limit=100", user)
            assert status == 200
            kinds = [(e["kind"], e["amount"]) for e in ledger["data"]]
            assert sorted(kinds) == sorted([("grant", GRANT), ("usage", -served["cost"])])   # the dead reply: free
            assert sum(amount for _, amount in kinds) == me["balance"]
            status, page = await _call(http, b, "GET", f"/conversations/{conv['id']}/messages", user)
            assert [(m["role"], m["content"]) for m in page["data"]] == [("user", "a long question")]
        finally:
            gate.set()
            await asyncio.gather(a.stop(), b.stop())


async def _served(ask) -> dict | None:
    status, body = await ask("still there?")
    if status == 402:
        return None
    assert status == 200, body
    return body
