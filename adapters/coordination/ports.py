"""The coordination ports: per-key locks, waiting lines, pacing and stop requests, for one process or many."""
from __future__ import annotations

from typing import TYPE_CHECKING, AsyncContextManager, Awaitable, Callable, Protocol

if TYPE_CHECKING:
    from adapters.coordination.slots import ReplySlots


class Locks(Protocol):
    def hold(self, key: str, timeout: float | None = None,
             gate: Callable[[], Awaitable[bool]] | None = None) -> AsyncContextManager[None]:
        """One holder at a time per key, first come first served; TimeoutError after `timeout` seconds. A `gate`
        (a Line's "is it my turn?") orders waiters of other workers; in one process it is always open."""
        ...


class Line(Protocol):
    async def join(self, key: str, order: int) -> None:
        """Take a place in `key`'s line."""
        ...

    async def leave(self, key: str, order: int) -> None: ...

    async def first(self, key: str, order: int) -> bool:
        """No other worker waits in this line with a smaller number."""
        ...

    async def close(self) -> None: ...


class Pacing(Protocol):
    async def pause(self, key: str, seconds: float) -> None:
        """Hold `key` back for `seconds` (a 429's retry_after)."""
        ...

    async def paused_for(self, key: str) -> float:
        """Seconds `key` must still wait because of a pause (0 when free)."""
        ...

    async def turn(self, key: str, interval: float, timeout: float | None = None) -> None:
        """Sleep until this key's next slot (at most one per `interval` seconds, after any pause), then take it;
        TimeoutError after `timeout` seconds."""
        ...


class Stops(Protocol):
    def register(self, scope: str, task_id: str, owner: str, stop: Callable[[], object]) -> Callable[[], None]:
        """Let `owner` stop the work; returns the function that ends the registration."""
        ...

    async def start(self, scope: str, task_id: str, owner: str,
                    stop: Callable[[], object]) -> Callable[[], Awaitable[None]]:
        """`register`, and make the work known by `owner_of`; returns the coroutine function to await at its end."""
        ...

    async def owner_of(self, scope: str, task_id: str) -> str | None: ...

    async def request(self, scope: str, task_id: str, owner: str) -> bool:
        """Ask for a stop; True when the work ran here and was stopped now."""
        ...

    def __len__(self) -> int: ...

    async def close(self) -> None: ...


class Coordination(Protocol):
    """Makes the coordination parts: in this process only (one worker), or over a store every worker shares."""

    shared: bool
    slots: ReplySlots        # this process's answers running at once (always per process)

    def locks(self, lease_seconds: float = 30.0) -> Locks: ...

    def line(self) -> Line: ...

    def pacing(self) -> Pacing: ...

    def stops(self) -> Stops: ...
