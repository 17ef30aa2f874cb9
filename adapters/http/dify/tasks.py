"""Replies in flight: each runs in its own task, registered by task_id so `stop` (on any worker) can cancel it."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator

from aiohttp import web

from adapters.coordination.ports import Stops
from core.chat import ChatEngine
from core.domain import InboundMessage
from core.i18n_errors import FAILED
from core.reply_stream import ReplyFailed, ReplyOpened, ReplyUpdate, follow_reply

log = logging.getLogger(__name__)
_END = object()
SCOPE = "dify"


class ReplyRun:
    """One engine reply read (core.reply_stream.follow_reply) by a task of its own; the handler reads its updates
    (ReplyOpened, ReplyGrew, ReplyDone) from a queue, and `failure` holds the ReplyFailed that ended it.

    Cancelling the task is how a reply stops: the engine then stores the partial answer as
    'cancelled' and charges what was generated."""

    def __init__(self, engine: ChatEngine, inbound: InboundMessage, task_id: str):
        self.task_id = task_id
        self._engine = engine
        self._inbound = inbound
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._began = time.monotonic()
        self.started: ReplyOpened | None = None
        self.failure: ReplyFailed | None = None
        self.stopped = False

    def start(self) -> asyncio.Task:
        self._task = asyncio.get_running_loop().create_task(self._produce(), name=f"dify-reply-{self.task_id}")
        self._task.add_done_callback(self._ended)
        return self._task

    async def _produce(self) -> None:
        async for update in follow_reply(self._engine.reply(self._inbound)):
            if isinstance(update, ReplyFailed):
                self.failure = update
            else:
                self._queue.put_nowait(update)

    def _ended(self, task: asyncio.Task) -> None:
        if task.cancelled():
            self.stopped = True
        elif task.exception() is not None:  # a bug in this reader, not the engine (follow_reply catches those)
            log.error("a Dify reply task failed", exc_info=task.exception())
            self.failure = ReplyFailed(FAILED, "internal_error", 500, "The reply task failed.")
        self._queue.put_nowait(_END)

    async def events(self, ping_every: float | None = None) -> AsyncIterator[ReplyUpdate | None]:
        """The reply's updates as they come, and None whenever `ping_every` seconds pass without one.
        When the iteration ends, `failure` or `stopped` tell how the reply ended."""
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), ping_every)
            except TimeoutError:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, ReplyOpened):
                self.started = item
            yield item

    def elapsed(self) -> float:
        return time.monotonic() - self._began

    def cancel(self) -> bool:
        if self._task is None or self._task.done():
            return False
        self._task.cancel()
        return True

    async def cancel_and_wait(self) -> None:
        if self.cancel():
            assert self._task is not None
            await asyncio.wait([self._task])


class ReplyTasks:
    """Replies in flight by task_id, each stoppable only by the end user who started it, from any worker:
    a stop asked on another worker reaches this one through the shared store (Stops)."""

    def __init__(self, stops: Stops | None = None) -> None:
        self._running: dict[str, tuple[str, ReplyRun]] = {}
        self._stops = stops

    def start(self, run: ReplyRun, user_id: str) -> None:
        task = run.start()
        self._running[run.task_id] = (user_id, run)
        forget = (self._stops.register(SCOPE, run.task_id, user_id, run.cancel) if self._stops is not None
                  else (lambda: None))

        def ended(_task: asyncio.Task) -> None:
            self._running.pop(run.task_id, None)
            forget()

        task.add_done_callback(ended)

    async def stop(self, task_id: str, user_id: str) -> bool:
        """Stop a reply; True when it ran here and was stopped now (on another worker it stops shortly)."""
        entry = self._running.get(task_id)
        if entry is not None:
            return entry[0] == user_id and entry[1].cancel()
        if self._stops is not None:
            await self._stops.request(SCOPE, task_id, user_id)
        return False

    def __len__(self) -> int:
        return len(self._running)

    async def close(self) -> None:
        if self._stops is not None:
            await self._stops.close()

