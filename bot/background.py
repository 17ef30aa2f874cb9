"""Periodic: small recurring jobs (hold expiry, payment sweeps) that run beside the server and stop with it."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task] = []

    def every(self, seconds: float, job: Callable[[], Awaitable[Any]], name: str,
              when: Callable[[], bool] | None = None) -> None:
        """Run `job` every `seconds`; with `when`, only the times it answers True (an idle server skips work that
        only activity can create)."""
        self._tasks.append(asyncio.get_running_loop().create_task(self._loop(seconds, job, name, when), name=name))

    @staticmethod
    async def _loop(seconds: float, job: Callable[[], Awaitable[Any]], name: str,
                    when: Callable[[], bool] | None) -> None:
        while True:
            await asyncio.sleep(seconds)
            if when is not None and not when():
                continue
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("%s failed; will retry", name, exc_info=True)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


class RecentChanges:
    """A `when` for Periodic: True while something changed (per `count`, e.g. rows written) within `window` seconds,
    and always the first time and when the count is unknown. What start-up itself wrote does not count."""

    def __init__(self, count: Callable[[], int | None], window: float, clock: Callable[[], float] | None = None):
        self._count = count
        self._window = window
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._seen: int | None = None
        self._changed_at = float("-inf")

    def __call__(self) -> bool:
        count = self._count()
        if count is None:
            return True
        first = self._seen is None
        if not first and count != self._seen:
            self._changed_at = self._clock()
        self._seen = count
        return first or self._clock() - self._changed_at < self._window
