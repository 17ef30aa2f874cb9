"""ReplyStreams: streamed answers that outlive a hang-up, resumable by Last-Event-ID here or, with Redis, on any worker."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web

from adapters.coordination.ports import Stops
from adapters.coordination.streams import MemoryEventLog, RedisEventLog, StreamEvent
from adapters.http.errors import correlation_id, error_body
from adapters.http.schemas import DeltaOut, MessageOut
from core.domain import Message
from core.reply_stream import UNEXPECTED, ReplyDone, ReplyFailed, ReplyGrew, ReplyOpened, ReplyUpdate

log = logging.getLogger(__name__)

# How often a quiet stream checks whether its client is still there.
DISCONNECT_POLL = 1.0
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
               "X-Accel-Buffering": "no"}

STOP_SCOPE = "api-reply"

FetchMessage = Callable[[str], Awaitable[Message | None]]


@dataclass
class _Run:
    message_id: str
    task: asyncio.Task | None = None
    watch: asyncio.Task | None = None
    readers: int = 0
    last_id: int = 0


def sse_event(event: StreamEvent) -> bytes:
    return f"id: {event.id}\nevent: {event.name}\ndata: {event.data}\n\n".encode()


class ReplyStreams:
    """Each streamed reply runs in a task of its own and numbers its events into an event log (this process's,
    mirrored to Redis when configured). Clients read the log, so a client that hangs up can come back with
    Last-Event-ID. A reply nobody reads for `resume_grace` seconds is stopped (and charged for what was made)."""

    def __init__(self, fetch_message: FetchMessage, shared: RedisEventLog | None, resume_grace: float,
                 stops: Stops | None = None):
        self.local = MemoryEventLog()
        self._stops = stops
        self._shared = shared
        self._fetch = fetch_message
        self._grace = resume_grace
        self._runs: dict[str, _Run] = {}
        self._watches: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._runs)

    async def start(self, opened: ReplyOpened, user_id: str, updates: AsyncIterator[ReplyUpdate], cid: str) -> None:
        """Begin producing a reply (core.reply_stream.follow_reply) whose ReplyOpened was already taken."""
        mid = opened.message_id
        meta = {"conversation_id": opened.conversation_id, "user_id": user_id}
        self.local.open(mid, meta)
        await self._mirror("open", lambda s: s.open(mid, meta))
        run = self._runs[mid] = _Run(mid)
        run.task = asyncio.get_running_loop().create_task(self._produce(run, updates, cid), name=f"reply {mid}")
        forget = self._stops.register(STOP_SCOPE, mid, user_id, run.task.cancel) if self._stops is not None \
            else (lambda: None)

        def ended(_task: asyncio.Task) -> None:
            self._runs.pop(mid, None)
            forget()

        run.task.add_done_callback(ended)

    async def stop(self, message_id: str, user_id: str) -> bool:
        """Stop `user_id`'s reply `message_id` (on this worker or, with Redis, another): the engine keeps what
        was generated as a 'cancelled' message, charged for that much. False when no such reply runs."""
        if self._stops is None:
            return False
        return await self._stops.request(STOP_SCOPE, message_id, user_id)

    async def meta(self, message_id: str) -> dict | None:
        meta = self.local.meta(message_id)
        if meta is None and self._shared is not None:
            meta = await self._shared.meta(message_id)
        return meta

    async def _mirror(self, what: str, call: Callable[[RedisEventLog], Awaitable[None]]) -> None:
        if self._shared is None:
            return
        try:
            await call(self._shared)
        except Exception:  # the answer goes on for the client here; only resuming elsewhere suffers
            log.warning("mirroring a reply stream to Redis failed (%s)", what, exc_info=True)

    async def _emit(self, run: _Run, name: str, data: dict) -> None:
        text = json.dumps(data, ensure_ascii=False)
        run.last_id = self.local.append(run.message_id, name, text)
        await self._mirror(name, lambda s: s.append(run.message_id, run.last_id, name, text))

    async def _produce(self, run: _Run, updates: AsyncIterator[ReplyUpdate], cid: str) -> None:
        try:
            async for update in updates:
                if isinstance(update, ReplyGrew):
                    await self._emit(run, "delta", DeltaOut(content=update.delta).model_dump(mode="json"))
                elif isinstance(update, ReplyDone):
                    await self._emit(run, "done", MessageOut.of(update.message).model_dump(mode="json"))
                elif isinstance(update, ReplyFailed):   # the contract's error body, the engine's own sentence
                    await self._emit(run, "error", error_body(cid, update.status, update.reason, update.detail))
        except asyncio.CancelledError:
            # Nobody came back for it: the engine stored what was generated as 'cancelled'; say so to late readers.
            message = await asyncio.shield(self._fetch(run.message_id))
            if message is not None:
                await asyncio.shield(self._emit(run, "done", MessageOut.of(message).model_dump(mode="json")))
            raise
        except Exception:
            log.exception("reply stream failed")
            await self._emit(run, "error", error_body(cid, 500, "internal_error", UNEXPECTED))
        finally:
            self.local.end(run.message_id)
            await asyncio.shield(self._mirror("end", lambda s: s.end(run.message_id, run.last_id + 1)))
            await updates.aclose()  # type: ignore[attr-defined]

    async def relay(self, request: web.Request, message_id: str, after: int, keepalive: float) -> web.StreamResponse:
        """Write the reply's events after id `after` as SSE until it ends or the client goes away."""
        response = web.StreamResponse(headers={**SSE_HEADERS, "X-Message-Id": message_id,
                                               "X-Request-Id": correlation_id(request)})
        run = self._runs.get(message_id)
        here = self.local.meta(message_id) is not None
        if run is not None:
            run.readers += 1
        loop = asyncio.get_running_loop()
        try:
            await response.prepare(request)
            last_write = loop.time()
            while True:
                wait = min(keepalive, DISCONNECT_POLL)
                if here:
                    events, ended = await self.local.read(message_id, after, wait)
                else:
                    assert self._shared is not None
                    await self._shared.reading(message_id, max(2 * self._grace, 5.0))
                    events, ended = await self._shared.read(message_id, after, wait)
                for event in events:
                    await response.write(sse_event(event))
                    after = event.id
                    last_write = loop.time()
                if ended:
                    break
                if not events:
                    if request.transport is None or request.transport.is_closing():
                        raise ConnectionResetError("client went away")
                    if loop.time() - last_write >= keepalive:
                        await response.write(b": keep-alive\n\n")
                        last_write = loop.time()
            await response.write_eof()
        except ConnectionError:
            log.info("SSE client went away (correlationId %s)", correlation_id(request))
        finally:
            if run is not None:
                run.readers -= 1
                if run.readers == 0 and run.task is not None and not run.task.done():
                    self._watch(run)
        return response

    def _watch(self, run: _Run) -> None:
        if run.watch is None or run.watch.done():
            run.watch = asyncio.get_running_loop().create_task(self._stop_if_abandoned(run))
            self._watches.add(run.watch)
            run.watch.add_done_callback(self._watches.discard)

    async def _stop_if_abandoned(self, run: _Run) -> None:
        assert run.task is not None
        while not run.task.done():
            await asyncio.sleep(self._grace)
            if run.readers > 0:
                return
            if self._shared is not None and self._grace > 0:
                try:
                    if await self._shared.has_reader(run.message_id):
                        continue
                except Exception:
                    log.warning("cannot tell whether a reply is read elsewhere; stopping it", exc_info=True)
            run.task.cancel()
            return

    async def drain(self, grace: float) -> None:
        """Shutdown: let replies in flight finish for up to `grace` seconds, then stop the rest."""
        tasks = [r.task for r in self._runs.values() if r.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for task in list(self._watches):
            task.cancel()
        await asyncio.gather(*self._watches, return_exceptions=True)

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()
