"""What the web chat relies on in the native API: stopping a streamed answer (POST .../messages/{mid}/stop), and a
conversation created without a title named after its first exchange."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.e2e.web_support import new_user
from tests.fakes.openai_server import Script


@pytest.fixture
async def api(start_app, config):
    running = await start_app(config)
    async with aiohttp.ClientSession(running.base_url) as http:
        yield running, http


async def read_events(response: aiohttp.ClientResponse):
    name = None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


async def test_stop_ends_the_stream_with_what_was_generated_charged_once(api, fake_llm) -> None:
    running, http = api
    gate = asyncio.Event()
    fake_llm.script(Script(reply="one two three four five six", chunk_chars=4, gate=gate, gate_after=1))
    alice = await new_user(http)
    key = {"X-API-Key": alice["api_key"]}
    async with http.post("/api/v1/conversations", json={}, headers=key) as r:
        conversation = await r.json()
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    async with http.post(url, json={"content": "count", "stream": True}, headers=key) as stream:
        mid = stream.headers["X-Message-Id"]
        events = read_events(stream)
        assert await anext(events) == ("delta", {"content": "one "})
        bob = await new_user(http, "bob")   # someone else cannot stop it: 404 for their unknown conversation
        async with http.post(f"{url}/{mid}/stop", headers={"X-API-Key": bob["api_key"]}) as r:
            assert r.status == 404
        async with http.post(f"{url}/{mid}/stop", headers=key) as r:
            assert r.status == 204
        rest = [e async for e in events]
    assert rest[-1][0] == "done" and rest[-1][1]["status"] == "cancelled" and rest[-1][1]["content"] == "one "
    gate.set()
    stored = await running.services.repos.messages.get(mid)
    assert stored.status == "cancelled" and stored.content == "one "
    usage = [e for e in (await running.services.repos.ledger.entries(alice["user"]["id"], 20, None)).items
             if e.kind == "usage"]
    assert len(usage) == 1 and usage[0].amount == -stored.cost and stored.cost > 0
    async with http.post(f"{url}/{mid}/stop", headers=key) as r:   # nothing running any more: still 204
        assert r.status == 204


async def test_a_conversation_without_a_title_is_named_after_its_first_exchange(api, fake_llm) -> None:
    running, http = api
    alice = await new_user(http)
    key = {"X-API-Key": alice["api_key"]}
    async with http.post("/api/v1/conversations", json={}, headers=key) as r:
        conversation = await r.json()
        assert conversation["title"] == ""
    url = f"/api/v1/conversations/{conversation['id']}"
    async with http.post(url + "/messages", json={"content": "Plan a weekend in Hangzhou\nwith kids"},
                         headers=key) as r:
        assert r.status == 200
    async with http.get(url, headers=key) as r:
        assert (await r.json())["title"] == "Plan a weekend in Hangzhou"
    async with http.patch(url, json={"title": "Mine"}, headers=key) as r:
        assert r.status == 200
    async with http.post(url + "/messages", json={"content": "and museums?"}, headers=key) as r:
        assert r.status == 200
    async with http.get(url, headers=key) as r:
        assert (await r.json())["title"] == "Mine"   # a title the user gave is kept
