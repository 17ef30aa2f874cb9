"""QuotaLedger: what a reply may cost, holding it before the model call and settling after."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Callable

from core.domain import Hold, LedgerEntry, ModelSpec, Usage
from core.errors import QuotaExceeded
from core.ports import LedgerRepository

# Our prompt count is an estimate of the provider's; hold a little more so the real cost fits.
PROMPT_ESTIMATE_MARGIN = 1.1


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def cost_of(spec: ModelSpec, usage: Usage) -> int:
    """CONTRACT 6: ceil(prompt x input_weight + completion x output_weight)."""
    return math.ceil(usage.prompt_tokens * spec.input_weight + usage.completion_tokens * spec.output_weight)


def worst_case_cost(spec: ModelSpec, prompt_tokens: int) -> int:
    return math.ceil(math.ceil(prompt_tokens * PROMPT_ESTIMATE_MARGIN) * spec.input_weight
                     + spec.max_output_tokens * spec.output_weight)


class QuotaLedger:
    def __init__(self, ledger: LedgerRepository, hold_ttl_seconds: int = 600,
                 clock: Callable[[], datetime] = utcnow):
        self._ledger = ledger
        self._ttl = timedelta(seconds=hold_ttl_seconds)
        self._clock = clock

    async def hold(self, user_id: str, spec: ModelSpec, prompt_tokens: int, key: str) -> Hold:
        """Reserve the worst-case cost of one reply, or raise QuotaExceeded (and nothing is held)."""
        amount = worst_case_cost(spec, prompt_tokens)
        now = self._clock()
        hold = await self._ledger.try_hold(user_id, amount, key, now + self._ttl)
        if hold is None:
            # A crashed worker's hold may be what blocks this user: free expired holds, then retry once.
            if await self._ledger.release_expired(now):
                hold = await self._ledger.try_hold(user_id, amount, key, now + self._ttl)
        if hold is None:
            raise QuotaExceeded(f"This reply may cost up to {amount} tokens and your balance does not cover it. "
                                "Buy a pack to continue.")
        return hold

    async def settle(self, hold: Hold, spec: ModelSpec, usage: Usage, message_id: str) -> LedgerEntry | None:
        """Charge the real cost of a reply (once per message) and free its hold."""
        return await self._ledger.settle(hold, cost_of(spec, usage), key=f"usage:{message_id}", ref=message_id)

    async def release(self, hold: Hold) -> None:
        await self._ledger.release(hold.id)

    async def release_expired(self) -> int:
        return await self._ledger.release_expired(self._clock())

    async def credit(self, user_id: str, amount: int, kind: str, key: str, ref: str = "") -> LedgerEntry | None:
        """Add tokens (grant, purchase, adjustment); a repeated key credits nothing and returns None."""
        return await self._ledger.post(user_id, amount, kind, key, ref)

    async def debit(self, user_id: str, amount: int, kind: str, key: str, ref: str = "") -> LedgerEntry | None:
        return await self._ledger.post(user_id, -amount, kind, key, ref)
