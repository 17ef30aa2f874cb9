"""StopRequests: "stop task X" asked on any worker reaches the worker that runs X (only its owner may ask)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable

from core.ports import EphemeralStore

log = logging.getLogger(__name__)

NAMESPACE = "stop"


@dataclass
class _Running:
    owner: str
    stop: Callable[[], object]


class StopRequests:
    """Work registers under (scope, task_id, owner) with a `stop` callback. `request` stops it at once when it
    runs in this process; otherwise it leaves a mark in the shared store that the running worker's watcher
    finds within `poll_seconds`. A mark left by another owner is never acted on."""

    def __init__(self, store: EphemeralStore, poll_seconds: float = 0.25, mark_ttl_seconds: float = 600.0):
        self._store = store
        self._poll = poll_seconds
        self._ttl = mark_ttl_seconds
        self._running: dict[tuple[str, str], _Running] = {}
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
            await asyncio.sleep(self._poll)
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

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
