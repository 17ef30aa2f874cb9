"""Test stand-ins for time in the coordination tests: a clock moved by hand, sleeps released by hand, and an
EphemeralStore wrapper that records what it was asked (the real store still does the work)."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Ticks:
    """Stands in for asyncio.sleep: records the seconds asked; each sleep ends when the test calls `release()`
    (with `passthrough`, after really sleeping that long)."""

    def __init__(self, passthrough: bool = False):
        self.asked: list[float] = []
        self.at: list[float] = []          # time.time() of each ask
        self._passthrough = passthrough
        self._released = asyncio.Semaphore(0)
        self._changed = asyncio.Condition()

    async def sleep(self, seconds: float) -> None:
        async with self._changed:
            self.asked.append(seconds)
            self.at.append(time.time())
            self._changed.notify_all()
        if self._passthrough:
            await asyncio.sleep(seconds)
        else:
            await self._released.acquire()

    def release(self) -> None:
        self._released.release()

    async def asked_times(self, n: int, timeout: float = 10) -> None:
        """Until `n` sleeps have been asked for (the sleeper has done all its work before the n-th)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.asked) >= n)


class RecordingStore:
    """The real store, with a record of every call: (operation, namespace, key, value, ttl)."""

    def __init__(self, store: Any):
        self._store = store
        self.calls: list[tuple] = []
        self._changed = asyncio.Condition()

    async def _note(self, *call: Any) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def put(self, namespace: str, key: str, value: str, ttl_seconds: float) -> None:
        await self._store.put(namespace, key, value, ttl_seconds)
        await self._note("put", namespace, key, value, ttl_seconds)

    async def add(self, namespace: str, key: str, value: str, ttl_seconds: float) -> bool:
        done = await self._store.add(namespace, key, value, ttl_seconds)
        await self._note("add", namespace, key, value, ttl_seconds)
        return done

    async def get(self, namespace: str, key: str) -> str | None:
        value = await self._store.get(namespace, key)
        await self._note("get", namespace, key, None, None)
        return value

    async def take(self, namespace: str, key: str) -> str | None:
        value = await self._store.take(namespace, key)
        await self._note("take", namespace, key, None, None)
        return value

    async def delete(self, namespace: str, key: str) -> None:
        await self._store.delete(namespace, key)
        await self._note("delete", namespace, key, None, None)

    def puts(self, namespace: str, key: str) -> list[tuple[str, float]]:
        return [(c[3], c[4]) for c in self.calls if c[:3] == ("put", namespace, key)]

    def reads(self, namespace: str, key: str) -> int:
        return sum(1 for c in self.calls if c[:3] == ("get", namespace, key))

    async def until(self, check: Callable[[], bool], timeout: float = 10) -> None:
        """Until `check()` holds, looked at after every call to the store."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(check)


async def eventually(read: Callable[[], Awaitable[Any]], expected: Any, timeout: float = 10) -> None:
    """Until `await read()` equals `expected` (for what the store's own clock ends, such as an expiry)."""
    async with asyncio.timeout(timeout):
        while await read() != expected:
            await asyncio.sleep(0.02)
