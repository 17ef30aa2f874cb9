"""ReplySlots: how many channel answers run at once, so the event loop always has time for acknowledgements."""
from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import AsyncIterator


class ReplySlots:
    """`async with slots.slot():` around one answer made after its message was acknowledged.

    Answers that wait for a slow model cost the loop nothing, so there is no fixed cap: a new answer starts at
    once while a loop turn (every callback ready now, run once) costs under `max_lag` seconds of CPU, or while fewer
    than `floor` answers run. When the loop is that busy, later answers wait in line (first come, first served)
    and start as earlier ones end; so the ready queue stays short and a webhook arriving meanwhile is answered
    within a few turns instead of behind every answer's next step."""

    def __init__(self, floor: int = 4, max_lag: float = 0.004, recheck: float = 0.02):
        self._floor = floor
        self._max_lag = max_lag
        self._recheck = recheck
        self.running = 0
        self._line: collections.deque[asyncio.Future] = collections.deque()
        self._freed = asyncio.Event()

    def waiting(self) -> int:
        return len(self._line)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._enter()
        try:
            yield
        finally:
            self.running -= 1
            self._freed.set()

    async def _enter(self) -> None:
        if not self._line and (self.running < self._floor or await self._responsive()):
            self.running += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._line.append(turn)
        try:
            if len(self._line) == 1:
                turn.set_result(None)      # the head of the line waits for room itself
            await turn
            while not (self.running < self._floor or await self._responsive()):
                self._freed.clear()
                with contextlib.suppress(TimeoutError):   # a slow model's answers end late: look again anyway
                    async with asyncio.timeout(self._recheck):
                        await self._freed.wait()
            self.running += 1
        finally:
            self._line.remove(turn)
            if self._line and not self._line[0].done():
                self._line[0].set_result(None)

    async def _responsive(self) -> bool:
        """One turn of the loop (yielding, then being run again) costs under `max_lag` of this thread's CPU time:
        the work queued ahead of a new request, not the time other processes on the machine take from us."""
        began = time.thread_time()
        await asyncio.sleep(0)
        return time.thread_time() - began < self._max_lag
