"""Helpers for the native API's e2e tests: a small JSON client over real HTTP and user set-up through the API."""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import aiohttp

ADMIN = {"X-API-Key": "admin-key"}
PREFIX = "/api/v1"


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def reason(self) -> str | None:
        return self.body.get("error", {}).get("reason") if isinstance(self.body, dict) else None


@dataclass
class Api:
    http: aiohttp.ClientSession
    base_url: str
    headers: dict = field(default_factory=dict)
    running: Any = None                       # the RunningApp, for its services

    @property
    def services(self) -> Any:
        return self.running.services

    def as_(self, headers: dict) -> "Api":
        return Api(self.http, self.base_url, headers, self.running)

    async def call(self, method: str, path: str, json_body: Any = None, *, data: Any = None,
                   headers: dict | None = None, params: dict | None = None) -> Reply:
        kwargs: dict[str, Any] = {"headers": {**self.headers, **(headers or {})}, "params": params}
        if json_body is not None:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
        async with self.http.request(method, self.base_url + PREFIX + path, **kwargs) as resp:
            text = await resp.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
            return Reply(resp.status, body, resp.headers)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("POST", path, body, **kw)

    async def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("PATCH", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.call("DELETE", path, **kw)

    async def new_user(self, name: str = "alice") -> tuple["Api", dict]:
        """A user created by the admin: a client signed in with their API key, and the user."""
        reply = await self.as_(ADMIN).post("/users", {"name": name})
        assert reply.status == 201, reply.body
        return self.as_({"X-API-Key": reply.body["api_key"]}), reply.body["user"]


@contextlib.asynccontextmanager
async def serve(start_app: Any, config: Any, extra_installers: list | None = None) -> AsyncIterator[Api]:
    """The real app on 127.0.0.1 and an anonymous client for it."""
    running = await start_app(config, extra_installers)
    async with aiohttp.ClientSession() as http:
        yield Api(http, running.base_url, {}, running)


def assert_error(reply: Reply, status: int, reason: str | None = None) -> None:
    """The contract's error shape: {correlationId, error: {code, reason, message}}."""
    assert reply.status == status, (reply.status, reply.body)
    assert isinstance(reply.body, dict) and reply.body["correlationId"], reply.body
    assert reply.body["error"]["code"] == status and reply.body["error"]["message"], reply.body
    if reason is not None:
        assert reply.body["error"]["reason"] == reason, reply.body


async def sse_events(resp: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream; comments come as ("comment", text)."""
    event, data = "message", []
    async for raw in resp.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield event, "\n".join(data)
            event, data = "message", []
