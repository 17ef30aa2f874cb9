"""SharedLocks: one holder at a time per key across every worker, as a lease in the shared EphemeralStore."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import AsyncIterator, Awaitable, Callable

from core.ports import EphemeralStore

log = logging.getLogger(__name__)

NAMESPACE = "lock"


class SharedLocks:
    """`async with locks.hold("wechat:openid"):` runs one block at a time per key, whichever worker runs it.

    Waiters in this process queue behind one asyncio.Lock per key (FIFO), so only the first polls the store.
    The lease is renewed while held; a worker that dies frees its keys after `lease_seconds`. A `gate` (e.g. a
    WaitingLine's "is it my turn?") is asked before every attempt, so waiters can be let in in a chosen order."""

    def __init__(self, store: EphemeralStore, lease_seconds: float = 30.0, poll_seconds: float = 0.05,
                 max_poll_seconds: float = 0.25, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep):
        self._store = store
        self._sleep = sleep             # between renewals
        self._lease = lease_seconds
        self._poll = poll_seconds
        self._max_poll = max_poll_seconds
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str, timeout: float | None = None,
                   gate: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[None]:
        """Hold `key`; raises TimeoutError when `timeout` seconds pass first. With a `gate`, the lease is only tried
        while the gate answers True."""
        lock, users = self._local.get(key, (asyncio.Lock(), 0))
        self._local[key] = (lock, users + 1)
        try:
            async with asyncio.timeout(timeout):
                await lock.acquire()
            try:
                token = await self._acquire(key, timeout, gate)
                renew = asyncio.get_running_loop().create_task(self._renew(key, token), name=f"lease {key}")
                try:
                    yield
                finally:
                    renew.cancel()
                    await asyncio.gather(renew, return_exceptions=True)
                    await asyncio.shield(self._release(key, token))
            finally:
                lock.release()
        finally:
            lock, users = self._local[key]
            if users <= 1:
                del self._local[key]
            else:
                self._local[key] = (lock, users - 1)

    async def _acquire(self, key: str, timeout: float | None, gate: Callable[[], Awaitable[bool]] | None) -> str:
        token = uuid.uuid4().hex
        wait = self._poll
        async with asyncio.timeout(timeout):
            while not ((gate is None or await gate()) and await self._store.add(NAMESPACE, key, token, self._lease)):
                await asyncio.sleep(wait)
                wait = min(self._max_poll, wait * 1.5)
        return token

    async def _renew(self, key: str, token: str) -> None:
        while True:
            await self._sleep(self._lease / 3)
            try:
                if await self._store.get(NAMESPACE, key) != token:
                    log.warning("the lease on %s was lost (held past its expiry?)", key)
                    return
                await self._store.put(NAMESPACE, key, token, self._lease)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("renewing the lease on %s failed; will retry", key, exc_info=True)

    async def _release(self, key: str, token: str) -> None:
        try:
            # Only our own lease is removed: after an expiry another worker may hold the key.
            if await self._store.get(NAMESPACE, key) == token:
                await self._store.delete(NAMESPACE, key)
        except Exception:
            log.warning("releasing the lease on %s failed; it expires by itself", key, exc_info=True)
