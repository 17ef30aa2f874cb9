"""Failed-attempt limits (guessing codes, keys, login states), counted in the shared store so every worker agrees."""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from core.errors import DomainError, RateLimited
from core.ports import EphemeralStore

FAILURE_LIMIT = 10
FAILURE_WINDOW = 60.0
_NAMESPACE = "fail"


class TooManyAttempts(RateLimited):
    """429 rate_limited, with how long to wait (the HTTP API sends it as Retry-After)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    """An attempt counted in advance: refunded when it turns out not to be a failure."""

    keys: tuple[str, ...]


def counts_as_failure(error: DomainError) -> bool:
    """A 4xx the caller caused (a wrong code, key or state); `pending` is a login still waiting, not a failure."""
    return 400 <= error.status < 500 and error.status != 429 and error.reason != "pending"


class FailureLimiter:
    """At most `limit` failures per bucket in any `window` seconds, shared through the EphemeralStore.

    Counts live in fixed windows; a bucket is open only while the previous window's count plus the current
    one's stays under the limit. Any span of `window` seconds lies within two adjacent windows, so no span
    ever holds more than `limit` failures (a bucket that used its limit waits one to two windows)."""

    def __init__(self, store: EphemeralStore, limit: int = FAILURE_LIMIT, window: float = FAILURE_WINDOW,
                 clock: Callable[[], float] = time.time):
        self._store = store
        self._limit = limit
        self._window = window
        self._clock = clock

    def _slot(self, now: float) -> int:
        return int(now // self._window)

    async def _counts(self, bucket: str, slot: int) -> tuple[int, int]:
        previous = await self._store.get(_NAMESPACE, f"{bucket}|{slot - 1}")
        current = await self._store.get(_NAMESPACE, f"{bucket}|{slot}")
        return int(previous or 0), int(current or 0)

    def _refusal(self, now: float, current: int) -> TooManyAttempts:
        # Open again when the window turns (if this window's own count is under the limit), else a window later.
        wait = (self._slot(now) + 1) * self._window - now + (self._window if current >= self._limit else 0)
        seconds = max(1, math.ceil(wait))
        return TooManyAttempts(f"Too many failed attempts. Try again in {seconds} seconds.", seconds)

    async def check(self, *buckets: str) -> None:
        """Raise TooManyAttempts when any bucket has used its failures."""
        now = self._clock()
        for bucket in buckets:
            previous, current = await self._counts(bucket, self._slot(now))
            if previous + current >= self._limit:
                raise self._refusal(now, current)

    async def fail(self, *buckets: str) -> None:
        """Count one failure that already happened; raise TooManyAttempts when it was over the limit."""
        now = self._clock()
        slot = self._slot(now)
        refusal = None
        for bucket in buckets:
            current = await self._store.incr(_NAMESPACE, f"{bucket}|{slot}", 2 * self._window)
            previous = int(await self._store.get(_NAMESPACE, f"{bucket}|{slot - 1}") or 0)
            if previous + current > self._limit:
                refusal = refusal or self._refusal(now, current)
        if refusal:
            raise refusal

    async def begin(self, *buckets: str) -> Attempt:
        """Count an attempt before it is made (so a burst of parallel guesses cannot slip past the limit);
        TooManyAttempts, counting nothing, when a bucket is full. `refund` it unless it failed."""
        await self.check(*buckets)
        now = self._clock()
        slot = self._slot(now)
        counted: list[str] = []
        try:
            for bucket in buckets:
                key = f"{bucket}|{slot}"
                current = await self._store.incr(_NAMESPACE, key, 2 * self._window)
                counted.append(key)
                previous = int(await self._store.get(_NAMESPACE, f"{bucket}|{slot - 1}") or 0)
                if previous + current > self._limit:  # others got there first
                    raise self._refusal(now, current - 1)
        except BaseException:
            await self.refund(Attempt(tuple(counted)))
            raise
        return Attempt(tuple(counted))

    async def refund(self, attempt: Attempt) -> None:
        for key in attempt.keys:
            await self._store.incr(_NAMESPACE, key, 2 * self._window, -1)

    @contextlib.asynccontextmanager
    async def attempt(self, *buckets: str,
                      is_failure: Callable[[DomainError], bool] = counts_as_failure) -> AsyncIterator[None]:
        """Run one attempt under the limit: it stays counted only if it raises a DomainError that is a failure."""
        counted = await self.begin(*buckets)
        try:
            yield
        except DomainError as e:
            if not is_failure(e):
                await self.refund(counted)
            raise
        except BaseException:
            await self.refund(counted)
            raise
        else:
            await self.refund(counted)
