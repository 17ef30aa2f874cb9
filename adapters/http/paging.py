"""Cursor pages over short lists held in memory (roles, products), shaped like the database's pages."""
from __future__ import annotations

import base64
from typing import Callable, Sequence, TypeVar

from core.domain import Page
from core.errors import InvalidRequest

T = TypeVar("T")


def _encode(key: str) -> str:
    return base64.urlsafe_b64encode(f"k{key}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    if not raw.startswith("k"):
        raise InvalidRequest("cursor is not valid; use the cursor from the previous page.")
    return raw[1:]


def page_list(items: Sequence[T], key: Callable[[T], str], limit: int, cursor: str | None) -> Page:
    """Items in their given order, after the one whose key the cursor names."""
    start = 0
    if cursor:
        after = _decode(cursor)
        keys = [key(i) for i in items]
        start = keys.index(after) + 1 if after in keys else next(
            (n for n, k in enumerate(keys) if k > after), len(keys))
    chunk = list(items[start:start + limit])
    has_more = start + limit < len(items)
    return Page(tuple(chunk), _encode(key(chunk[-1])) if has_more and chunk else None, has_more)
