"""The allowance across periods, on SQLite with the real ledger: what is left of yesterday's allowance is taken
back, purchased tokens are kept, today's is granted once; weeks renew on Mondays (UTC)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from adapters.storage.llm_allowance import TortoiseAllowanceReads
from core.allowance import Allowance, period_of
from core.domain import Identity, InboundMessage


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 3, 23, 0, tzinfo=timezone.utc)   # a Monday

    def __call__(self) -> datetime:
        return self.now


async def _reply(services, user_id: str):
    events = [e async for e in services.engine.reply(InboundMessage(user_id, "hello there"))]
    return events[-1].message


async def _allowance_entries(services, user_id: str) -> list[tuple[int, str]]:
    page = await services.repos.ledger.entries(user_id, 100, None)
    return [(e.amount, e.ref) for e in reversed(page.items) if e.kind == "allowance"]


async def test_leftover_allowance_expires_and_purchases_are_kept(services) -> None:
    clock = Clock()
    allowance = Allowance(services.repos.ledger, TortoiseAllowanceReads(), 300, "day", clock=clock)
    services.quota.allowance = allowance
    user = await services.accounts.ensure_user(Identity("test", "dora"))   # signup_grant: 1000 purchased-like
    first = await _reply(services, user.id)
    assert (await services.accounts.get(user.id)).balance == 1300 - first.cost
    status = await allowance.status(user.id, 1300 - first.cost)
    assert status.left == 300 - first.cost and status.renews_at == datetime(2025, 3, 4, tzinfo=timezone.utc)
    clock.now += timedelta(hours=2)                                          # the next day
    second = await _reply(services, user.id)
    assert await _allowance_entries(services, user.id) == [
        (300, "2025-03-03"), (-(300 - first.cost), "2025-03-03"), (300, "2025-03-04")]
    balance = (await services.accounts.get(user.id)).balance
    assert balance == 1000 + 300 - second.cost                              # yesterday's rest gone, purchases kept
    for _ in range(3):                                                      # asked again: granted once
        await allowance.renew(user.id)
    assert len(await _allowance_entries(services, user.id)) == 3


async def test_an_allowance_spent_in_full_takes_nothing_back(services) -> None:
    clock = Clock()
    allowance = Allowance(services.repos.ledger, TortoiseAllowanceReads(), 10, "day", clock=clock)
    services.quota.allowance = allowance
    user = await services.accounts.ensure_user(Identity("test", "eve"))
    spent = await _reply(services, user.id)
    assert spent.cost > 10
    clock.now += timedelta(days=1)
    await allowance.renew(user.id)
    assert await _allowance_entries(services, user.id) == [(10, "2025-03-03"), (10, "2025-03-04")]
    assert (await services.accounts.get(user.id)).balance == 1000 + 10 + 10 - spent.cost


def test_periods_are_utc_days_and_iso_weeks() -> None:
    sunday = datetime(2025, 3, 9, 23, 59, tzinfo=timezone.utc)
    assert period_of(sunday, "day") == ("2025-03-09", datetime(2025, 3, 10, tzinfo=timezone.utc))
    assert period_of(sunday, "week") == ("2025-W10", datetime(2025, 3, 10, tzinfo=timezone.utc))
    beijing_monday = datetime(2025, 3, 10, 7, 0, tzinfo=timezone(timedelta(hours=8)))   # still Sunday in UTC
    assert period_of(beijing_monday, "week")[0] == "2025-W10"
