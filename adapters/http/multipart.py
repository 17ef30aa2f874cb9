"""Reading one multipart part with a byte limit: refused as soon as it passes the limit, the rest never read."""
from __future__ import annotations

from typing import Callable

from aiohttp import BodyPartReader

CHUNK = 65536


async def read_part(part: BodyPartReader, limit: int, refusal: Callable[[], Exception]) -> bytes:
    """The part's bytes; `refusal()` is raised before a chunk that would pass `limit` is kept in memory."""
    buf = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        if len(buf) + len(chunk) > limit:
            raise refusal()
        buf += chunk
    return bytes(buf)
