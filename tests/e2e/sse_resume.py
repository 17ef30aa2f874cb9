"""Client side of resumable answer streams: read SSE with event ids, hang up, resume with Last-Event-ID."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import AsyncIterator

import aiohttp

PREFIX = "/api/v1"


@dataclass(frozen=True)
class Event:
    id: str | None
    name: str
    data: str

    @property
    def json(self) -> dict:
        return json.loads(self.data)


async def events_with_ids(resp: aiohttp.ClientResponse) -> AsyncIterator[Event]:
    """Events of an SSE stream with their `id:` (comments are skipped)."""
    event_id, name, data = None, "message", []
    async for raw in resp.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith(":"):
            continue
        if line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield Event(event_id, name, "\n".join(data))
            event_id, name, data = None, "message", []


async def start_and_hang_up(base_url: str, headers: dict, conversation_id: str, text: str,
                            keep: int) -> tuple[str, list[Event]]:
    """Post a streamed message, read `keep` delta events, hang up: (message id, events read)."""
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{base_url}{PREFIX}/conversations/{conversation_id}/messages",
                               json={"content": text, "stream": True}, headers=headers)
        assert resp.status == 200, await resp.text()
        mid = resp.headers["X-Message-Id"]
        seen: list[Event] = []
        async for event in events_with_ids(resp):
            seen.append(event)
            if len(seen) == keep:
                break
        resp.close()
    return mid, seen


async def resume(base_url: str, headers: dict, conversation_id: str, mid: str, last_id: str | None) -> list[Event]:
    """Reattach to an answer's stream after `last_id`; every event up to the end."""
    extra = {"Last-Event-ID": last_id} if last_id else {}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base_url}{PREFIX}/conversations/{conversation_id}/messages/{mid}/events",
                            headers={**headers, **extra}) as resp:
            assert resp.status == 200, await resp.text()
            return [e async for e in events_with_ids(resp)]
