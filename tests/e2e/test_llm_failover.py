"""Retry and fail-over over real HTTP: a failing fake provider (500, 429 with Retry-After, a dropped or refused
connection, a stream that dies mid-answer) and a second one that answers; breakers in /status and /metrics."""
from __future__ import annotations

import json
import math
import socket

import aiohttp
import pytest

from tests.conftest import make_config
from tests.e2e.http_native import PREFIX, serve, sse_events
from tests.fakes.openai_server import FakeOpenAI, prompt_tokens_of

MAIN = {"name": "test-model", "input_weight": 1.0, "output_weight": 2.0, "context_window": 8192,
        "max_output_tokens": 100}
BACKUP = {"name": "backup-model", "input_weight": 3.0, "output_weight": 5.0, "context_window": 8192,
          "max_output_tokens": 100}


def failover_config(tmp_path, main_url: str, backup_url: str, *, failures: int = 3, cooldown: float = 3600):
    return make_config(tmp_path, main_url, llm={
        "default_model": "test-model",
        "providers": [
            {"name": "main", "base_url": main_url, "api_key": "sk-test", "timeout_seconds": 5, "models": [MAIN]},
            {"name": "backup", "base_url": backup_url, "api_key": "sk-backup", "timeout_seconds": 5,
             "models": [BACKUP]}],
        "fallbacks": {"test-model": ["backup/backup-model"]},
        # Tiny delays: tests count calls, never time them.
        "retry": {"attempts": 3, "base_delay_seconds": 0.001, "max_delay_seconds": 0.001,
                  "max_retry_after_seconds": 5},
        "breaker": {"failures": failures, "cooldown_seconds": cooldown}})


@pytest.fixture
async def backup():
    async with FakeOpenAI(api_key="sk-backup", models=["backup-model"]) as fake:
        yield fake


@pytest.fixture
async def api(start_app, tmp_path, fake_llm, backup):
    async with serve(start_app, failover_config(tmp_path, fake_llm.base_url, backup.base_url)) as client:
        yield client


async def _ask(api, text: str = "Hi there"):
    user, _ = await api.new_user()
    cid = (await user.post("/conversations")).body["id"]
    reply = await user.post(f"/conversations/{cid}/messages", {"content": text})
    return user, reply


async def _usage_entries(user) -> list[dict]:
    return [e for e in (await user.get("/me/ledger")).body["data"] if e["kind"] == "usage"]


async def _breakers(api) -> dict:
    body = (await api.get("/status")).body
    return {p["provider"]: p for p in body["llm_providers"]}


def _backup_cost(backup: FakeOpenAI, completion_tokens: int) -> int:
    prompt = prompt_tokens_of(backup.chat_requests[-1]["messages"])
    return math.ceil(prompt * 3.0 + completion_tokens * 5.0)


async def test_server_errors_are_retried_then_the_fallback_answers_at_its_own_price(api, fake_llm, backup):
    for _ in range(3):
        fake_llm.script(status=500)
    backup.script(reply="from backup", chunk_chars=4)
    user, reply = await _ask(api)
    assert reply.status == 200, reply.body
    m = reply.body
    assert (m["content"], m["model"], m["status"]) == ("from backup", "backup-model", "complete")
    assert len(fake_llm.chat_requests) == 3 and len(backup.chat_requests) == 1
    assert backup.chat_requests[0]["model"] == "backup-model"
    cost = _backup_cost(backup, completion_tokens=3)
    assert m["cost"] == cost
    usage = await _usage_entries(user)
    assert [e["amount"] for e in usage] == [-cost]
    assert (await user.get("/me")).body["balance"] == 1000 - cost


async def test_a_short_retry_after_is_honoured_on_the_same_provider(api, fake_llm, backup):
    fake_llm.script(status=429, retry_after=0)
    fake_llm.script(reply="second try", chunk_chars=5)
    user, reply = await _ask(api)
    assert reply.body["content"] == "second try" and reply.body["model"] == "test-model"
    assert len(fake_llm.chat_requests) == 2 and backup.chat_requests == []
    assert [e["amount"] for e in await _usage_entries(user)] == [-reply.body["cost"]]


async def test_a_retry_after_beyond_the_cap_moves_on_at_once(api, fake_llm, backup):
    fake_llm.script(status=429, retry_after=3600)
    _, reply = await _ask(api)
    assert reply.body["model"] == "backup-model"
    assert len(fake_llm.chat_requests) == 1 and len(backup.chat_requests) == 1


async def test_dropped_connections_open_the_breaker_shown_in_status_and_metrics(api, fake_llm, backup):
    for _ in range(3):
        fake_llm.script(drop=True)
    _, first = await _ask(api)
    assert first.body["model"] == "backup-model" and len(fake_llm.chat_requests) == 3
    breakers = await _breakers(api)
    assert breakers["main"]["state"] == "open" and breakers["main"]["failures"] == 3
    assert breakers["backup"]["state"] == "closed"
    # Open: the next reply goes straight to the fallback, the failing provider is not called.
    _, second = await _ask(api, "Again")
    assert second.body["model"] == "backup-model"
    assert len(fake_llm.chat_requests) == 3 and len(backup.chat_requests) == 2
    async with api.http.get(api.base_url + "/metrics") as resp:
        metrics = await resp.text()
    assert 'bot_llm_breaker_state{provider="main"} 2.0' in metrics
    assert 'bot_llm_breaker_state{provider="backup"} 0.0' in metrics
    assert 'bot_llm_retries_total{provider="main",reason="upstream_unavailable"} 2.0' in metrics
    assert 'bot_llm_failovers_total{from_provider="main",to_provider="backup"} 2.0' in metrics


async def test_a_refused_connection_fails_over(start_app, tmp_path, backup):
    with socket.socket() as s:   # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    async with serve(start_app, failover_config(tmp_path, dead, backup.base_url)) as api:
        backup.script(reply="still here")
        _, reply = await _ask(api)
        assert reply.body["content"] == "still here" and len(backup.chat_requests) == 1
        assert (await _breakers(api))["main"]["state"] == "open"


async def test_after_the_cool_down_one_probe_closes_the_breaker(start_app, tmp_path, fake_llm, backup):
    async with serve(start_app, failover_config(tmp_path, fake_llm.base_url, backup.base_url,
                                                cooldown=0)) as api:
        for _ in range(3):
            fake_llm.script(status=503)
        await _ask(api)
        assert (await _breakers(api))["main"]["state"] == "half_open"   # cooled down at once (cooldown 0)
        _, reply = await _ask(api, "Probe")
        assert reply.body["model"] == "test-model" and len(fake_llm.chat_requests) == 4
        assert (await _breakers(api))["main"] == {"provider": "main", "state": "closed", "failures": 0,
                                                  "retry_in_seconds": 0.0}


async def test_all_providers_failing_is_one_clear_error_and_no_charge(api, fake_llm, backup):
    fake_llm.default = backup.default = fake_llm.default.__class__(status=500)
    user, reply = await _ask(api)
    assert reply.status == 502 and reply.body["error"]["reason"] == "upstream_error"
    assert len(fake_llm.chat_requests) == 3 and len(backup.chat_requests) == 3
    assert await _usage_entries(user) == [] and (await user.get("/me")).body["balance"] == 1000


async def test_a_stream_that_dies_after_text_ends_with_a_note_and_is_never_retried(api, fake_llm, backup):
    user, _ = await api.new_user()
    cid = (await user.post("/conversations")).body["id"]
    fake_llm.script(reply="abcdefghij", chunk_chars=2, cut_after=2)
    async with api.http.post(api.base_url + PREFIX + f"/conversations/{cid}/messages", headers=user.headers,
                             json={"content": "Hi", "stream": True}) as resp:
        events = [e async for e in sse_events(resp)]
    deltas = [json.loads(d)["content"] for name, d in events if name == "delta"]
    assert deltas[:2] == ["ab", "cd"] and len(deltas) == 3
    assert deltas[2].startswith("\n\n[The answer was cut off") and "charged only for the part above" in deltas[2]
    assert [name for name, _ in events][-1] == "done"
    done = json.loads(events[-1][1])
    assert done["content"] == "abcd" + deltas[2] and done["status"] == "error" and done["cost"] > 0
    # One call, no retry, no fallback: the text is never doubled.
    assert len(fake_llm.chat_requests) == 1 and backup.chat_requests == []
    assert [e["amount"] for e in await _usage_entries(user)] == [-done["cost"]]
    # Charged for what was generated only: the prompt and the two chunks, far below the worst case.
    assert done["usage"]["completion_tokens"] <= 3 and done["cost"] < 100
    stored = (await user.get(f"/conversations/{cid}/messages")).body["data"]
    assert [m["content"] for m in stored] == ["Hi", done["content"]]
