"""ChatLanes: one reply at a time per chat, in update order, across every worker; later messages wait their turn."""
from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Literal

from adapters.coordination.ports import Coordination

log = logging.getLogger(__name__)

SCOPE = "telegram"


@dataclass(frozen=True)
class ChatJob:
    """A message the bot should answer, as the lane needs it: where, who, what, and its place in Telegram's order."""

    chat_id: int
    chat_type: str
    user_id: int
    user_name: str
    message_id: int
    text: str
    thread_id: int | None = None
    update_id: int = 0
    language_code: str | None = None   # the sender's Telegram language: what they read unless they chose with /lang
    file_ids: tuple[str, ...] = ()     # stored images shown to the model with the text (adapters/telegram/media.py)

    @property
    def in_group(self) -> bool:
        return self.chat_type != "private"


@dataclass
class Lane:
    queue: list[ChatJob] = field(default_factory=list)  # waiting, smallest update_id first
    job: ChatJob | None = None
    reply: asyncio.Task | None = None  # the task running engine.reply for `job`; cancelling it stops the answer
    stop_requested: bool = False  # /cancel came before the reply task existed
    worker: asyncio.Task | None = None


Answer = Callable[[ChatJob, Lane], Awaitable[None]]


def chat_lock(chat_id: int) -> str:
    return f"telegram-chat:{chat_id}"


class ChatLanes:
    """Per-chat queues in this process, each with one task that answers its jobs one by one. Across workers:
    a job takes a place in the chat's waiting line before its update is acknowledged, and answers while holding the
    chat's lock, let in smallest update_id first; the running answer is registered with the stop requests so
    /cancel reaches it from any worker. With one worker (no Redis) all of this lives in memory."""

    def __init__(self, answer: Answer, coordination: Coordination):
        self._answer = answer
        self._locks = coordination.locks()
        self._line = coordination.line()
        self._stops = coordination.stops()
        self._slots = coordination.slots
        self._lanes: dict[int, Lane] = {}
        self._closed = False

    async def submit(self, job: ChatJob) -> int:
        """Queue a job (in every worker's view once this returns); how many answers come before it here."""
        if self._closed:
            raise RuntimeError("the Telegram channel is stopping")
        try:
            await self._line.join(chat_lock(job.chat_id), job.update_id)
        except Exception:
            log.warning("could not queue chat %s in the shared line; its order across workers is not kept",
                        job.chat_id, exc_info=True)
        lane = self._lanes.get(job.chat_id)
        if lane is None:
            lane = self._lanes[job.chat_id] = Lane()
        ahead = len(lane.queue) + (1 if lane.job else 0)
        bisect.insort(lane.queue, job, key=lambda j: j.update_id)
        if lane.worker is None:
            lane.worker = asyncio.get_running_loop().create_task(self._work(job.chat_id, lane),
                                                                 name=f"telegram-lane-{job.chat_id}")
        return ahead

    async def cancel(self, chat_id: int, user_id: int) -> Literal["cancelled", "nothing", "not_yours"]:
        """Stop the answer being written in a chat, on whichever worker writes it (only its asker may); queued
        messages are still answered."""
        owner = await self._stops.owner_of(SCOPE, str(chat_id))
        if owner is None:
            return "nothing"
        if owner != str(user_id):
            return "not_yours"
        await self._stops.request(SCOPE, str(chat_id), str(user_id))
        return "cancelled"

    def busy(self, chat_id: int) -> bool:
        return chat_id in self._lanes

    def waiting(self) -> int:
        """Messages accepted here and not yet being answered (for /metrics)."""
        return sum(len(lane.queue) for lane in self._lanes.values())

    @staticmethod
    def _stop(lane: Lane) -> None:
        if lane.reply is None:
            lane.stop_requested = True
        elif not lane.reply.done():
            lane.reply.cancel()

    async def _work(self, chat_id: int, lane: Lane) -> None:
        key = chat_lock(chat_id)

        async def my_turn() -> bool:
            return await self._line.first(key, lane.queue[0].update_id)

        try:
            while lane.queue:
                try:
                    async with contextlib.AsyncExitStack() as turn:
                        try:
                            await turn.enter_async_context(self._locks.hold(key, gate=my_turn))
                        except Exception:
                            log.warning("the shared lock of chat %s failed; answering without it", chat_id,
                                        exc_info=True)
                        lane.job = job = lane.queue.pop(0)  # the smallest waiting now
                        await self._leave(key, job)
                        end = await self._stops.start(SCOPE, str(chat_id), str(job.user_id), lambda: self._stop(lane))
                        try:
                            async with self._slots.slot():   # the loop keeps time for acknowledgements
                                await self._answer(job, lane)
                        finally:
                            await end()
                except Exception:
                    log.exception("answering a Telegram message in chat %s failed", chat_id)
                finally:
                    lane.job, lane.reply, lane.stop_requested = None, None, False
        finally:
            if self._lanes.get(chat_id) is lane:
                del self._lanes[chat_id]
            for job in lane.queue:  # only when stopping: their places would hold other workers up
                await self._leave(key, job)

    async def _leave(self, key: str, job: ChatJob) -> None:
        try:
            await self._line.leave(key, job.update_id)
        except Exception:
            log.warning("leaving the shared line of %s failed; the place expires by itself", key, exc_info=True)

    async def close(self, grace: float) -> None:
        """Take no more jobs; let answers in flight finish for up to `grace` seconds, then stop them
        (a stopped answer is charged for what was generated, as with /cancel)."""
        self._closed = True
        workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        if workers:
            _, pending = await asyncio.wait(workers, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._stops.close()
        await self._line.close()
