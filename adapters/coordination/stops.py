"""StopRequests: "stop task X" asked on any worker reaches the worker that runs X (only its owner may ask)."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from core.ports import EphemeralStore

log = logging.getLogger(__name__)

NAMESPACE = "stop"
RUNNING_NAMESPACE = "running"


@dataclass
class _Running:
    owner: str
    stop: Callable[[], object]


class StopRequests:
    """Work registers under (scope, task_id, owner) with a `stop` callback. `request` stops it at once when it
    runs in this process; otherwise it leaves a mark in the shared store that the running worker's watcher
    finds within `poll_seconds`. A mark left by another owner is never acted on.

    Work started with `start` is also announced to every worker (`owner_of` answers anywhere), which lets a caller
    tell "nothing runs" and "not yours" apart before asking."""

    def __init__(self, store: EphemeralStore, poll_seconds: float = 0.25, mark_ttl_seconds: float = 600.0,
                 running_ttl_seconds: float = 30.0, clock=time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep):
        self._store = store
        self._sleep = sleep             # between two looks at the store
        self._poll = poll_seconds
        self._ttl = mark_ttl_seconds
        self._running_ttl = running_ttl_seconds
        self._clock = clock
        self._running: dict[tuple[str, str], _Running] = {}
        self._announced: dict[tuple[str, str], float] = {}   # started work -> when its running mark was written
        self._watcher: asyncio.Task | None = None

    def register(self, scope: str, task_id: str, owner: str, stop: Callable[[], object]) -> Callable[[], None]:
        """Watch for stop requests; returns the function that ends the watch (call it when the work ends)."""
        key = (scope, task_id)
        self._running[key] = _Running(owner, stop)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="stop requests")
        return lambda: self._forget(key)

    def _forget(self, key: tuple[str, str]) -> None:
        self._running.pop(key, None)

    async def start(self, scope: str, task_id: str, owner: str,
                    stop: Callable[[], object]) -> Callable[[], Awaitable[None]]:
        """`register`, and announce to every worker that the task runs and whose it is, renewed while it runs (a
        dead worker's mark expires). A stop mark left over for an earlier run of the same id is cleared. Returns
        the coroutine function to await when the work ends. Store failures are logged, never raised."""
        key, mark = (scope, task_id), f"{scope}:{task_id}"
        forget = self.register(scope, task_id, owner, stop)
        self._announced[key] = self._clock()
        try:
            await self._store.delete(NAMESPACE, mark)
            await self._store.put(RUNNING_NAMESPACE, mark, owner, self._running_ttl)
        except Exception:
            log.warning("announcing %s failed; it can only be stopped on this worker", mark, exc_info=True)

        async def end() -> None:
            forget()
            if self._announced.pop(key, None) is None:
                return
            try:
                await self._store.delete(RUNNING_NAMESPACE, mark)
            except Exception:
                log.warning("removing the running mark of %s failed; it expires by itself", mark, exc_info=True)

        return end

    async def owner_of(self, scope: str, task_id: str) -> str | None:
        """Who owns the running task (on any worker, when it was `start`ed), or None when nothing runs."""
        running = self._running.get((scope, task_id))
        if running is not None:
            return running.owner
        return await self._store.get(RUNNING_NAMESPACE, f"{scope}:{task_id}")

    async def request(self, scope: str, task_id: str, owner: str) -> bool:
        """Ask for a stop; True when the work ran here and was stopped now (elsewhere it stops shortly)."""
        running = self._running.get((scope, task_id))
        if running is not None:
            if running.owner != owner:
                return False
            self._forget((scope, task_id))
            running.stop()
            return True
        await self._store.put(NAMESPACE, f"{scope}:{task_id}", owner, self._ttl)
        return False

    def __len__(self) -> int:
        return len(self._running)

    async def _watch(self) -> None:
        while self._running:
            await self._sleep(self._poll)
            await self._renew_announcements()
            for key, running in list(self._running.items()):
                try:
                    mark = await self._store.get(NAMESPACE, f"{key[0]}:{key[1]}")
                except Exception:
                    log.warning("checking stop requests failed; will retry", exc_info=True)
                    break
                if mark is not None and mark == running.owner and self._running.get(key) is running:
                    await self._store.delete(NAMESPACE, f"{key[0]}:{key[1]}")
                    self._forget(key)
                    running.stop()

    async def _renew_announcements(self) -> None:
        now = self._clock()
        for key, written in list(self._announced.items()):
            running = self._running.get(key)
            if running is None or now - written < self._running_ttl / 3:
                continue
            try:
                await self._store.put(RUNNING_NAMESPACE, f"{key[0]}:{key[1]}", running.owner, self._running_ttl)
                if key in self._announced:
                    self._announced[key] = now
                else:   # the work ended while we wrote: take the mark back
                    await self._store.delete(RUNNING_NAMESPACE, f"{key[0]}:{key[1]}")
            except Exception:
                log.warning("renewing the running mark of %s failed; will retry", key, exc_info=True)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
