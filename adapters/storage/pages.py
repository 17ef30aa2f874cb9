"""Cursor pagination over a table's monotonically increasing `seq` column."""
from __future__ import annotations

import base64
from typing import Any, Callable

from tortoise.queryset import QuerySet

from core.domain import Page
from core.errors import InvalidRequest


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("cursor is not valid; use the cursor from the previous page.") from None


async def page_of(query: QuerySet, limit: int, cursor: str | None, to_domain: Callable[[Any], Any],
                  newest_first: bool = False) -> Page:
    if cursor:
        seq = decode_cursor(cursor)
        query = query.filter(seq__lt=seq) if newest_first else query.filter(seq__gt=seq)
    rows = await query.order_by("-seq" if newest_first else "seq").limit(limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].seq) if has_more and rows else None
    return Page(tuple(to_domain(r) for r in rows), next_cursor, has_more)
