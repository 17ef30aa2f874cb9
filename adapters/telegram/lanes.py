"""ChatLanes: one reply at a time per chat, in arrival order; later messages wait their turn (in this process)."""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Literal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatJob:
    """A message the bot should answer, as the lane needs it: where, who, what."""

    chat_id: int
    chat_type: str
    user_id: int
    user_name: str
    message_id: int
    text: str
    thread_id: int | None = None

    @property
    def in_group(self) -> bool:
        return self.chat_type != "private"


@dataclass
class Lane:
    queue: deque[ChatJob] = field(default_factory=deque)
    job: ChatJob | None = None
    reply: asyncio.Task | None = None  # the task running engine.reply for `job`; cancelling it stops the answer
    stop_requested: bool = False  # /cancel came before the reply task existed
    worker: asyncio.Task | None = None


Answer = Callable[[ChatJob, Lane], Awaitable[None]]


class ChatLanes:
    """Per-chat queues with one worker each. The queues live in this process: several processes serving
    one bot would each keep their own (Telegram sends one bot's updates to one webhook or poller)."""

    def __init__(self, answer: Answer):
        self._answer = answer
        self._lanes: dict[int, Lane] = {}
        self._closed = False

    def submit(self, job: ChatJob) -> int:
        """Queue a job; returns how many answers come before it in that chat."""
        if self._closed:
            raise RuntimeError("the Telegram channel is stopping")
        lane = self._lanes.get(job.chat_id)
        if lane is None:
            lane = self._lanes[job.chat_id] = Lane()
        ahead = len(lane.queue) + (1 if lane.job else 0)
        lane.queue.append(job)
        if lane.worker is None:
            lane.worker = asyncio.get_running_loop().create_task(self._work(job.chat_id, lane),
                                                                 name=f"telegram-lane-{job.chat_id}")
        return ahead

    def cancel(self, chat_id: int, user_id: int) -> Literal["cancelled", "nothing", "not_yours"]:
        """Stop the answer being written in a chat (only its asker may); queued messages are still answered."""
        lane = self._lanes.get(chat_id)
        if lane is None or lane.job is None or (lane.reply is not None and lane.reply.done()):
            return "nothing"
        if lane.job.user_id != user_id:
            return "not_yours"
        if lane.reply is None:
            lane.stop_requested = True
        else:
            lane.reply.cancel()
        return "cancelled"

    def busy(self, chat_id: int) -> bool:
        return chat_id in self._lanes

    async def _work(self, chat_id: int, lane: Lane) -> None:
        try:
            while lane.queue:
                lane.job = lane.queue.popleft()
                try:
                    await self._answer(lane.job, lane)
                except Exception:
                    log.exception("answering a Telegram message in chat %s failed", chat_id)
                finally:
                    lane.job, lane.reply, lane.stop_requested = None, None, False
        finally:
            if self._lanes.get(chat_id) is lane:
                del self._lanes[chat_id]

    async def close(self, grace: float) -> None:
        """Take no more jobs; let answers in flight finish for up to `grace` seconds, then stop them
        (a stopped answer is charged for what was generated, as with /cancel)."""
        self._closed = True
        workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        if not workers:
            return
        _, pending = await asyncio.wait(workers, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
