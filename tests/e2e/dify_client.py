"""A small Dify service-API client for the tests: real HTTP (aiohttp) and a spec-following SSE parser."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
import pytest

APP_KEY = "app-key-one"
OTHER_APP_KEY = "app-key-two"


@dataclass
class SSEEvent:
    event: str          # the SSE `event:` field, "message" when absent (as browsers do)
    data: Any           # the parsed JSON of the `data:` lines, None when there were none


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[SSEEvent]:
    """Dispatch an event at each blank line; `data:` lines join with newlines; `:` lines are comments."""
    name, data = "", []
    async for raw in response.content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data or name:
                yield SSEEvent(name or "message", json.loads("\n".join(data)) if data else None)
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)


class Dify:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, key: str = APP_KEY):
        self.http = http
        self.base = base_url + "/dify/v1"
        self.key = key

    def as_app(self, key: str) -> "Dify":
        return Dify(self.http, self.base.removesuffix("/dify/v1"), key)

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"}

    async def call(self, method: str, path: str, *, json_body: Any = None, params: dict | None = None,
                   data: str | None = None, headers: dict | None = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, json=json_body, params=params, data=data,
                                     headers=headers if headers is not None else self._headers()) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text else None)

    async def chat(self, user: str, query: str, conversation_id: str = "", **extra: Any) -> dict:
        status, body = await self.call("POST", "/chat-messages", json_body={
            "inputs": {}, "query": query, "response_mode": "blocking", "conversation_id": conversation_id,
            "user": user, **extra})
        assert status == 200, body
        return body

    def stream(self, user: str, query: str, conversation_id: str = ""):
        return self.http.post(self.base + "/chat-messages", headers=self._headers(), json={
            "inputs": {}, "query": query, "response_mode": "streaming", "conversation_id": conversation_id,
            "user": user})


def dify_config(tmp_path, fake_llm, database_url: str | None = None, sections: dict | None = None, **dify: Any):
    """A test config for the Dify API: `dify` settings, other `sections` merged in; files under tmp_path."""
    from tests.conftest import make_config

    settings = {"app_keys": [APP_KEY, OTHER_APP_KEY, ""], "opening_statement": "Hello! Ask me anything.",
                "ping_interval_seconds": 10.0, **dify}
    extra = {"media": {"folder": str(tmp_path / "media")}, **(sections or {})}
    return make_config(tmp_path, fake_llm.base_url, database_url=database_url, dify=settings, **extra)


async def user_id_of(running, user: str, key: str = APP_KEY) -> str:
    """Our user behind a Dify end user (the identity the API maps `user` to)."""
    from adapters.http.dify.requests import key_fingerprint
    from core.domain import Identity

    account = await running.services.accounts.ensure_user(Identity("api", f"{key_fingerprint(key)}:{user}"))
    return account.id


@pytest.fixture
async def open_dify(start_app, tmp_path, fake_llm):
    """`running, dify = await open_dify(database_url=None, **dify_settings)`: the real app over HTTP and a
    client for it (SQLite under tmp_path unless a database_url is given)."""
    sessions: list[aiohttp.ClientSession] = []

    async def open_(extra_installers: list | None = None, sections: dict | None = None, **settings: Any):
        running = await start_app(dify_config(tmp_path, fake_llm, sections=sections, **settings), extra_installers)
        http = aiohttp.ClientSession()
        sessions.append(http)
        return running, Dify(http, running.base_url)

    yield open_
    for http in sessions:
        await http.close()
