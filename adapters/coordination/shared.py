"""The coordination ports over a store every worker shares (Redis when `redis.url` is set)."""
from __future__ import annotations

from adapters.coordination.lines import WaitingLine
from adapters.coordination.locks import SharedLocks
from adapters.coordination.pacing import SharedPacing
from adapters.coordination.ports import Line, Locks, Pacing, Stops
from adapters.coordination.slots import ReplySlots
from adapters.coordination.stops import StopRequests
from core.ports import EphemeralStore


class SharedCoordination:
    """Several workers: locks are leases, lines and stop requests are marks in `store`, seen by all."""

    shared = True

    def __init__(self, store: EphemeralStore):
        self._store = store
        self.slots = ReplySlots()

    def locks(self, lease_seconds: float = 30.0) -> Locks:
        return SharedLocks(self._store, lease_seconds=lease_seconds)

    def line(self) -> Line:
        return WaitingLine(self._store)

    def pacing(self) -> Pacing:
        return SharedPacing(self._store)

    def stops(self) -> Stops:
        return StopRequests(self._store)
