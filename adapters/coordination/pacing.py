"""SharedPacing: per-key rate limits and flood-control pauses that every worker honours (e.g. a Telegram chat)."""
from __future__ import annotations

import asyncio
import time

from core.ports import EphemeralStore

SLOT_NAMESPACE = "pace"
BLOCK_NAMESPACE = "pause"


class SharedPacing:
    """`await pacing.turn(key, interval)` lets at most one call per `interval` seconds through for a key, across
    workers; `pause(key, seconds)` (a 429's retry_after) makes every worker wait for that key."""

    def __init__(self, store: EphemeralStore, poll_seconds: float = 0.05,
                 clock=time.time):
        self._store = store
        self._poll = poll_seconds
        self._clock = clock

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
                    await asyncio.sleep(paused)
                    continue
                if interval <= 0 or await self._store.add(SLOT_NAMESPACE, key, "1", interval):
                    return
                await asyncio.sleep(min(self._poll, interval))
