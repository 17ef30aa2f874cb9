"""The coordination ports in this process only (one worker, no redis.url): no store, no round trips, no polling."""
from __future__ import annotations

import asyncio
import contextlib
import heapq
from typing import AsyncIterator, Awaitable, Callable

from adapters.coordination.ports import Line, Locks, Pacing, Stops
from adapters.coordination.slots import ReplySlots


class LocalLocks:
    """One asyncio.Lock per key (FIFO), forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str, timeout: float | None = None,
                   gate: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[None]:
        # `gate` orders the waiters of other workers; there are none here, and the caller orders its own.
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with asyncio.timeout(timeout):
                await lock.acquire()
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class LocalLine:
    """Nobody else waits: every key's order is the one its caller keeps itself."""

    async def join(self, key: str, order: int) -> None:
        return None

    async def leave(self, key: str, order: int) -> None:
        return None

    async def first(self, key: str, order: int) -> bool:
        return True

    async def close(self) -> None:
        return None


class LocalPacing:
    """Each `turn` books the key's next free slot and sleeps until it: one timer per call, never a poll. A pause
    moves every later slot of the key behind it; a sleeper whose slot a pause overtook sleeps again, once."""

    PRUNE_AT = 4096

    def __init__(self, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep):
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._sleep = sleep
        self._next: dict[str, float] = {}     # key -> when its next slot opens
        self._paused: dict[str, float] = {}   # key -> when its pause ends
        self._expiries: list[tuple[float, str]] = []

    async def pause(self, key: str, seconds: float) -> None:
        if seconds > 0:
            until = self._clock() + seconds
            if until > self._paused.get(key, 0.0):
                self._paused[key] = until
                self._remember(until, key)

    async def paused_for(self, key: str) -> float:
        return max(0.0, self._paused.get(key, 0.0) - self._clock())

    async def turn(self, key: str, interval: float, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            now = self._clock()
            slot = max(now, self._next.get(key, now), self._paused.get(key, now))
            if interval > 0:
                self._next[key] = slot + interval
                self._remember(slot + interval, key)
            while (wait := max(slot, self._paused.get(key, slot)) - self._clock()) > 0:
                await self._sleep(wait)

    def _remember(self, until: float, key: str) -> None:
        # Keys of chats gone quiet are dropped once their times have passed, so the maps do not grow for ever.
        heapq.heappush(self._expiries, (until, key))
        if len(self._expiries) < self.PRUNE_AT:
            return
        now = self._clock()
        while self._expiries and self._expiries[0][0] <= now:
            _, old = heapq.heappop(self._expiries)
            for times in (self._next, self._paused):
                if times.get(old, now + 1) <= now:
                    del times[old]


class LocalStops:
    """Stop requests reach the work directly: it can only run in this process."""

    def __init__(self) -> None:
        self._running: dict[tuple[str, str], tuple[str, Callable[[], object]]] = {}

    def register(self, scope: str, task_id: str, owner: str, stop: Callable[[], object]) -> Callable[[], None]:
        key, entry = (scope, task_id), (owner, stop)
        self._running[key] = entry

        def forget() -> None:
            if self._running.get(key) is entry:
                del self._running[key]

        return forget

    async def start(self, scope: str, task_id: str, owner: str,
                    stop: Callable[[], object]) -> Callable[[], Awaitable[None]]:
        forget = self.register(scope, task_id, owner, stop)

        async def end() -> None:
            forget()

        return end

    async def owner_of(self, scope: str, task_id: str) -> str | None:
        entry = self._running.get((scope, task_id))
        return entry[0] if entry else None

    async def request(self, scope: str, task_id: str, owner: str) -> bool:
        entry = self._running.get((scope, task_id))
        if entry is None or entry[0] != owner:
            return False
        del self._running[(scope, task_id)]
        entry[1]()
        return True

    def __len__(self) -> int:
        return len(self._running)

    async def close(self) -> None:
        return None


class LocalCoordination:
    """One worker: everything in memory. What must survive a restart does not live here."""

    shared = False

    def __init__(self) -> None:
        self._locks = LocalLocks()
        self.slots = ReplySlots()

    def locks(self, lease_seconds: float = 30.0) -> Locks:
        return self._locks     # leases guard against dead workers; a dead process takes its locks with it

    def line(self) -> Line:
        return LocalLine()

    def pacing(self) -> Pacing:
        return LocalPacing()

    def stops(self) -> Stops:
        return LocalStops()
