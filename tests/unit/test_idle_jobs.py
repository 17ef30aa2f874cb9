"""RecentChanges: an idle server's periodic jobs run while something changed lately, and skip otherwise."""
from __future__ import annotations

from bot.background import RecentChanges
from tests.adapters.coordination_support import Clock


def test_runs_first_then_only_within_the_window_after_a_change() -> None:
    clock, rows = Clock(), {"n": 500}          # start-up wrote 500 rows: not activity
    recent = RecentChanges(lambda: rows["n"], window=50, clock=clock)
    assert recent()                            # the first time: whatever an earlier run left
    clock.advance(10)
    assert not recent()                        # nothing written since
    rows["n"] += 1                             # a hold is taken
    clock.advance(10)
    assert recent()
    clock.advance(40)
    assert recent()                            # 40 s after the change was seen: still within the window
    clock.advance(11)
    assert not recent()


def test_runs_every_time_when_changes_cannot_be_counted() -> None:
    recent = RecentChanges(lambda: None, window=50, clock=Clock())
    assert recent() and recent() and recent()
