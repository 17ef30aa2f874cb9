"""MessageRateLimit: at most `messages` per user per minute or hour (operators exempt), across every worker."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Literal

from core.domain import Identity
from core.errors import RateLimited
from core.ports import EphemeralStore, UserRepository

Per = Literal["minute", "hour"]
SECONDS = {"minute": 60, "hour": 3600}


@dataclass(frozen=True)
class RateStatus:
    messages: int
    per: Per
    used: int
    resets_in_seconds: int
    exempt: bool


class MessageRateLimit:
    """A fixed window per user in the shared EphemeralStore (Redis or the database): one atomic increment per
    message. `exempt` names operators' accounts: user ids, or CHANNEL:EXTERNAL_ID identities."""

    def __init__(self, store: EphemeralStore, users: UserRepository, messages: int, per: Per,
                 exempt: Iterable[str] = (), clock: Callable[[], float] = time.time):
        self._store = store
        self._users = users
        self.messages = messages
        self.per = per
        self._window = SECONDS[per]
        self._exempt_ids = {e for e in exempt if ":" not in e}
        self._exempt_identities = [Identity(*e.split(":", 1)) for e in exempt if ":" in e]
        self._resolved = False
        self._clock = clock

    async def is_exempt(self, user_id: str) -> bool:
        if not self._resolved:
            for identity in self._exempt_identities:
                user = await self._users.find_by_identity(identity)
                if user is not None:
                    self._exempt_ids.add(user.id)
            self._resolved = bool(self._exempt_ids) or not self._exempt_identities
        return user_id in self._exempt_ids

    def _slot(self) -> tuple[int, int]:
        now = self._clock()
        slot = int(now // self._window)
        return slot, max(1, math.ceil((slot + 1) * self._window - now))

    async def check(self, user_id: str) -> None:
        """Count one message; RateLimited (with retry_after seconds) when it is over the limit."""
        if await self.is_exempt(user_id):
            return
        slot, resets_in = self._slot()
        count = await self._store.incr("rate", f"{user_id}:{slot}", self._window + 5)
        if count > self.messages:
            error = RateLimited(f"You can send {self.messages} messages per {self.per}; wait {resets_in} s.")
            error.retry_after = resets_in  # type: ignore[attr-defined]  # the API's Retry-After header
            raise error

    async def status(self, user_id: str) -> RateStatus:
        slot, resets_in = self._slot()
        used = int(await self._store.get("rate", f"{user_id}:{slot}") or 0)
        return RateStatus(self.messages, self.per, min(used, self.messages), resets_in,
                          await self.is_exempt(user_id))
