"""QuotaLedger: what a reply may cost, holding it before the model call and settling after."""
from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timedelta, timezone
from typing import Callable

from core.domain import Hold, LedgerEntry, ModelSpec, Usage
from core.errors import QuotaExceeded
from core.ports import LedgerRepository

log = logging.getLogger(__name__)

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
    """Holds are leases: taken for `hold_lease_seconds`, renewed by the live reply (see `lease`), and freed by
    the sweep once a lease lapses, so a dead worker's hold blocks its user for one lease, not for the TTL.
    `hold_ttl_seconds` caps a hold's whole life, renewals included."""

    def __init__(self, ledger: LedgerRepository, hold_ttl_seconds: float = 600,
                 clock: Callable[[], datetime] = utcnow, hold_lease_seconds: float = 20, allowance=None):
        self._ledger = ledger
        self._ttl = timedelta(seconds=hold_ttl_seconds)
        self._lease = min(timedelta(seconds=hold_lease_seconds), self._ttl)
        self._clock = clock
        self._renewers: set[asyncio.Task] = set()
        # The free allowance (core.allowance.Allowance): renewed before a hold, so it is spent first.
        self.allowance = allowance

    @property
    def lease_seconds(self) -> float:
        return self._lease.total_seconds()

    async def hold(self, user_id: str, spec: ModelSpec, prompt_tokens: int, key: str) -> Hold:
        """Reserve the worst-case cost of one reply, or raise QuotaExceeded (and nothing is held)."""
        amount = worst_case_cost(spec, prompt_tokens)
        if self.allowance is not None:
            await self.allowance.renew(user_id)
        now = self._clock()
        hold = await self._ledger.try_hold(user_id, amount, key, now + self._lease)
        if hold is None:
            # A crashed worker's hold may be what blocks this user: free lapsed holds, then retry once.
            if await self._ledger.release_expired(now):
                hold = await self._ledger.try_hold(user_id, amount, key, now + self._lease)
        if hold is None:
            raise QuotaExceeded(f"This reply may cost up to {amount} tokens and your balance does not cover it. "
                                "Buy a pack to continue.")
        return hold

    async def hold_amount(self, user_id: str, amount: int, key: str, what: str) -> Hold:
        """Reserve a known worst case (speech: seconds x weight), or raise QuotaExceeded naming `what`."""
        now = self._clock()
        hold = await self._ledger.try_hold(user_id, amount, key, now + self._lease)
        if hold is None and await self._ledger.release_expired(now):
            hold = await self._ledger.try_hold(user_id, amount, key, now + self._lease)
        if hold is None:
            raise QuotaExceeded(f"{what} may cost up to {amount} tokens and your balance does not cover it. "
                                "Buy a pack to continue.")
        return hold

    async def settle_amount(self, hold: Hold, cost: int, key: str, ref: str) -> LedgerEntry | None:
        """Charge the real cost of what `hold_amount` reserved (once per key) and free the hold."""
        return await self._ledger.settle(hold, cost, key=key, ref=ref)

    async def renew(self, hold: Hold, deadline: datetime) -> bool:
        """Extend a live hold by one lease (never past `deadline`); False when it is no longer active."""
        return await self._ledger.renew(hold.id, min(self._clock() + self._lease, deadline))

    def lease(self, hold: Hold) -> "HoldLease":
        """Start renewing `hold` in the background until the returned lease is stopped."""
        lease = HoldLease(self, hold, self._clock() + self._ttl)
        self._renewers.add(lease.task)
        lease.task.add_done_callback(self._renewers.discard)
        return lease

    async def settle(self, hold: Hold, spec: ModelSpec, usage: Usage, message_id: str,
                     ref: str | None = None) -> LedgerEntry | None:
        """Charge the real cost of a reply (once per message) and free its hold."""
        return await self._ledger.settle(hold, cost_of(spec, usage), key=f"usage:{message_id}",
                                         ref=ref or message_id)

    async def release(self, hold: Hold) -> None:
        await self._ledger.release(hold.id)

    async def release_expired(self) -> int:
        return await self._ledger.release_expired(self._clock())

    async def credit(self, user_id: str, amount: int, kind: str, key: str, ref: str = "") -> LedgerEntry | None:
        """Add tokens (grant, purchase, adjustment); a repeated key credits nothing and returns None."""
        return await self._ledger.post(user_id, amount, kind, key, ref)

    async def debit(self, user_id: str, amount: int, kind: str, key: str, ref: str = "") -> LedgerEntry | None:
        return await self._ledger.post(user_id, -amount, kind, key, ref)


class HoldLease:
    """Renews one reply's hold every third of a lease, so two missed renewals still leave it held."""

    def __init__(self, quota: QuotaLedger, hold: Hold, deadline: datetime):
        self._quota = quota
        self._hold = hold
        self._deadline = deadline
        self._stopped = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"renew hold {hold.id}")

    def stop(self) -> None:
        """The reply is over: renew no more. Never interrupts a renewal already sent (that one is harmless:
        it only touches a hold that is still active)."""
        self._stopped.set()

    async def _run(self) -> None:
        every = self._quota.lease_seconds / 3
        while True:
            try:
                await asyncio.wait_for(self._stopped.wait(), every)
                return
            except asyncio.TimeoutError:
                pass
            try:
                renewed = await self._quota.renew(self._hold, self._deadline)
            except Exception:
                log.warning("renewing quota hold %s failed; will retry", self._hold.id, exc_info=True)
                continue
            if not renewed and not self._stopped.is_set():
                # Swept after a lapse (the database or this worker stalled for a whole lease), or past the TTL:
                # the settlement still charges the reply, capped by what the user has left.
                log.warning("quota hold %s lapsed while its reply was still running", self._hold.id)
                return
