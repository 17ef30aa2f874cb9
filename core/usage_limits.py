"""UsageLimits: a user's free allowance and message rate limit together, as /me and /balance show them."""
from __future__ import annotations

from dataclasses import dataclass

from core.allowance import Allowance, AllowanceStatus
from core.domain import User
from core.rate_limit import MessageRateLimit, RateStatus


@dataclass(frozen=True)
class LimitsSummary:
    allowance: AllowanceStatus | None    # None: no allowance configured
    rate_limit: RateStatus | None        # None: no rate limit configured


class UsageLimits:
    def __init__(self, allowance: Allowance | None = None, rate_limit: MessageRateLimit | None = None):
        self.allowance = allowance
        self.rate_limit = rate_limit

    async def renew(self, user_id: str) -> None:
        """Grant this period's allowance if it is due (before the balance is read for display)."""
        if self.allowance is not None:
            await self.allowance.renew(user_id)

    async def summary(self, user: User) -> LimitsSummary:
        """`user` as read after `renew`: what is left of the allowance, and of the rate limit's window."""
        allowance = await self.allowance.status(user.id, user.balance) if self.allowance else None
        rate = await self.rate_limit.status(user.id) if self.rate_limit else None
        return LimitsSummary(allowance, rate)
