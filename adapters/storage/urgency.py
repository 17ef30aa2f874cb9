"""Urgent statements: the one write an acknowledgement waits for does not give the event loop away first."""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Iterator

# Read by the inline SQLite engine before a statement (sqlite_inline._fair_turn). Set only around the statement
# itself: tasks started inside would inherit it.
URGENT: ContextVar[bool] = ContextVar("urgent_statement", default=False)


@contextlib.contextmanager
def urgent() -> Iterator[None]:
    """Statements inside run without first letting other queued work have a turn (an ack path's mark)."""
    token = URGENT.set(True)
    try:
        yield
    finally:
        URGENT.reset(token)
