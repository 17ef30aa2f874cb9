"""WaitingLine: who waits for a key, on every worker, so shared work on that key starts in a chosen order."""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

from adapters.coordination.locks import SharedLocks
from core.ports import EphemeralStore

log = logging.getLogger(__name__)

NAMESPACE = "line"


class WaitingLine:
    """Each worker puts what it has waiting for a key in that key's line, as order numbers (Telegram: update_id).
    `first(key, order)` is True when no other worker waits there with a smaller number: used as a SharedLocks gate,
    the smallest waiter anywhere goes next. This worker's own places are not compared (it orders them itself).

    The line is one value in the shared store, rewritten under a short lock per key. Each worker's places carry an
    expiry that it renews while it lives, so a dead worker holds a line up for at most `ttl_seconds`."""

    def __init__(self, store: EphemeralStore, ttl_seconds: float = 30.0, clock=time.time):
        self._store = store
        self._ttl = ttl_seconds
        self._clock = clock
        self._worker = uuid.uuid4().hex[:12]
        self._mutex = SharedLocks(store, lease_seconds=10.0, poll_seconds=0.01, max_poll_seconds=0.05)
        self._mine: dict[str, set[int]] = {}
        self._renewers: dict[str, asyncio.Task] = {}

    async def join(self, key: str, order: int) -> None:
        """Take a place in `key`'s line, visible to every worker once this returns."""
        self._mine.setdefault(key, set()).add(order)
        if key not in self._renewers:
            self._renewers[key] = asyncio.get_running_loop().create_task(self._renew(key), name=f"line {key}")
        await self._write(key)

    async def leave(self, key: str, order: int) -> None:
        mine = self._mine.get(key)
        if mine is None or order not in mine:
            return
        mine.discard(order)
        if not mine:
            del self._mine[key]
            renewer = self._renewers.pop(key, None)
            if renewer is not None:
                renewer.cancel()
        await self._write(key)

    async def first(self, key: str, order: int) -> bool:
        """No other worker waits in this line with a smaller number."""
        return not any(p["o"] < order for p in await self._read(key) if p["w"] != self._worker)

    async def _read(self, key: str) -> list[dict]:
        raw = await self._store.get(NAMESPACE, key)
        now = self._clock()
        return [p for p in json.loads(raw) if p["x"] > now] if raw else []

    async def _write(self, key: str) -> None:
        # The whole of this worker's part is written each time, so the last write always matches `_mine`.
        async with self._mutex.hold(f"{NAMESPACE}:{key}", timeout=10):
            places = [p for p in await self._read(key) if p["w"] != self._worker]
            until = self._clock() + self._ttl
            places += [{"o": o, "w": self._worker, "x": until} for o in sorted(self._mine.get(key, ()))]
            if places:
                await self._store.put(NAMESPACE, key, json.dumps(places, separators=(",", ":")), self._ttl)
            else:
                await self._store.delete(NAMESPACE, key)

    async def _renew(self, key: str) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await self._write(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("renewing places in the line of %s failed; will retry", key, exc_info=True)

    async def close(self) -> None:
        """Stop renewing; places left behind expire by themselves."""
        renewers = list(self._renewers.values())
        self._renewers.clear()
        for task in renewers:
            task.cancel()
        await asyncio.gather(*renewers, return_exceptions=True)
