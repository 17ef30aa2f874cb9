"""SharedPacing: per-key rate limits and flood-control pauses that every worker honours (e.g. a Telegram chat)."""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from core.ports import EphemeralStore

SLOT_NAMESPACE = "pace"
BLOCK_NAMESPACE = "pause"
STALE_WAIT = 0.005     # a slot past its time that the store still holds (clocks a little apart): look again soon


class SharedPacing:
    """`await pacing.turn(key, interval)` lets at most one call per `interval` seconds through for a key, across
    workers; `pause(key, seconds)` (a 429's retry_after) makes every worker wait for that key.

    A taken slot holds the time it ends, so a caller that finds it taken sleeps until then (no polling)."""

    def __init__(self, store: EphemeralStore, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep):
        self._store = store
        self._clock = clock
        self._sleep = sleep

    async def pause(self, key: str, seconds: float) -> None:
        if seconds > 0:
            await self._store.put(BLOCK_NAMESPACE, key, repr(self._clock() + seconds), seconds)

    async def paused_for(self, key: str) -> float:
        """Seconds `key` must still wait because of a pause (0 when free)."""
        until = await self._store.get(BLOCK_NAMESPACE, key)
        return max(0.0, float(until) - self._clock()) if until else 0.0

    async def turn(self, key: str, interval: float, timeout: float | None = None) -> None:
        """Wait for this key's next slot (and any pause), then take it; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                paused = await self.paused_for(key)
                if paused:
                    await self._sleep(paused)
                    continue
                if interval <= 0:
                    return
                if await self._store.add(SLOT_NAMESPACE, key, repr(self._clock() + interval), interval):
                    return
                taken = await self._store.get(SLOT_NAMESPACE, key)
                try:
                    wait = float(taken) - self._clock() if taken else 0.0
                except ValueError:   # written by an older version: it lasts at most one interval
                    wait = interval
                await self._sleep(max(STALE_WAIT, min(wait, interval)))
