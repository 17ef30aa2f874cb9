"""Replayable event streams (an SSE reply's events, numbered 1, 2, ...): in this process, or in Redis for all workers."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

import redis.asyncio as redis

log = logging.getLogger(__name__)

END = "_end"                 # the internal last entry of every stream: no more events will come
KEEP_AFTER_END_SECONDS = 300.0
MAX_LIFETIME_SECONDS = 3600.0


@dataclass(frozen=True)
class StreamEvent:
    id: int
    name: str
    data: str                # JSON text


@dataclass
class _MemoryStream:
    meta: dict
    events: list[StreamEvent] = field(default_factory=list)
    ended: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class MemoryEventLog:
    """The streams of replies running in this process; each is forgotten `keep_seconds` after it ends."""

    def __init__(self, keep_seconds: float = KEEP_AFTER_END_SECONDS):
        self._keep = keep_seconds
        self._streams: dict[str, _MemoryStream] = {}

    def open(self, stream: str, meta: dict) -> None:
        self._streams[stream] = _MemoryStream(meta)

    def append(self, stream: str, name: str, data: str) -> int:
        s = self._streams[stream]
        event = StreamEvent(len(s.events) + 1, name, data)
        s.events.append(event)
        s.changed.set()
        s.changed = asyncio.Event()
        return event.id

    def end(self, stream: str) -> None:
        s = self._streams[stream]
        s.ended = True
        s.changed.set()
        asyncio.get_running_loop().call_later(self._keep, self._streams.pop, stream, None)

    def meta(self, stream: str) -> dict | None:
        s = self._streams.get(stream)
        return s.meta if s else None

    async def read(self, stream: str, after: int, timeout: float) -> tuple[list[StreamEvent], bool]:
        """Events after id `after` (waiting up to `timeout` seconds for one), and whether the stream has ended."""
        s = self._streams.get(stream)
        if s is None:
            return [], True
        if len(s.events) <= after and not s.ended:
            try:
                await asyncio.wait_for(s.changed.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        return s.events[after:], s.ended   # no await in between: `ended` covers exactly these events


class RedisEventLog:
    """The same streams in Redis (XADD with ids 0-1, 0-2, ...), readable from every worker; the writing worker
    also marks whether a reader elsewhere is following (`reading`), so it does not stop an abandoned reply early."""

    def __init__(self, url: str, prefix: str, keep_seconds: float = KEEP_AFTER_END_SECONDS):
        self._redis = redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._keep = keep_seconds

    def _key(self, stream: str, part: str = "events") -> str:
        return f"{self._prefix}sse:{stream}:{part}"

    async def open(self, stream: str, meta: dict) -> None:
        await self._redis.set(self._key(stream, "meta"), json.dumps(meta), ex=int(MAX_LIFETIME_SECONDS))

    async def append(self, stream: str, event_id: int, name: str, data: str) -> None:
        key = self._key(stream)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"name": name, "data": data}, id=f"0-{event_id}")
            if event_id == 1:
                pipe.expire(key, int(MAX_LIFETIME_SECONDS))
            await pipe.execute()

    async def end(self, stream: str, event_id: int) -> None:
        key = self._key(stream)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"name": END, "data": ""}, id=f"0-{event_id}")
            pipe.expire(key, int(self._keep))
            pipe.expire(self._key(stream, "meta"), int(self._keep))
            await pipe.execute()

    async def meta(self, stream: str) -> dict | None:
        raw = await self._redis.get(self._key(stream, "meta"))
        return json.loads(raw) if raw else None

    async def read(self, stream: str, after: int, timeout: float) -> tuple[list[StreamEvent], bool]:
        answer = await self._redis.xread({self._key(stream): f"0-{after}"}, block=max(1, int(timeout * 1000)),
                                         count=500)
        events: list[StreamEvent] = []
        ended = False
        for _key, entries in answer or ():
            for entry_id, fields in entries:
                if fields.get("name") == END:
                    ended = True
                    break
                events.append(StreamEvent(int(entry_id.split("-", 1)[1]), fields["name"], fields["data"]))
        if not answer and not await self._redis.exists(self._key(stream, "meta")):
            ended = True     # expired, or never existed
        return events, ended

    async def reading(self, stream: str, seconds: float) -> None:
        """A reader on another worker says it follows this stream for the next `seconds`."""
        await self._redis.set(self._key(stream, "reader"), "1", px=max(1, int(seconds * 1000)))

    async def has_reader(self, stream: str) -> bool:
        return bool(await self._redis.exists(self._key(stream, "reader")))

    async def close(self) -> None:
        await self._redis.aclose()
