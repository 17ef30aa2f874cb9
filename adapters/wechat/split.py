"""Split text into pieces of at most N UTF-8 bytes, never inside a character, preferring line and word ends."""
from __future__ import annotations

# WeChat's documented limit for the `content` of one text message (customer-service and passive replies).
TEXT_LIMIT_BYTES = 2048


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def split_utf8(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Pieces that each encode to at most `limit` bytes and join back to `text` (whitespace at cuts kept)."""
    if limit < 4:
        raise ValueError("limit must fit any one UTF-8 character (4 bytes)")
    pieces: list[str] = []
    rest = text
    while utf8_len(rest) > limit:
        cut = _fitting_chars(rest, limit)
        cut = _nicer_cut(rest, cut)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _fitting_chars(text: str, limit: int) -> int:
    """How many leading characters fit into `limit` bytes."""
    encoded = text.encode("utf-8")[:limit]
    # errors="ignore" drops a trailing partial character: exactly the characters that fit whole.
    return len(encoded.decode("utf-8", errors="ignore"))


def _nicer_cut(text: str, cut: int) -> int:
    """Move the cut back to a paragraph, line, sentence or word end when one is in the last third."""
    floor = cut * 2 // 3
    for marks in (("\n\n",), ("\n",), ("。", "！", "？", ". ", "! ", "? "), ("，", "；", ", ", "; ", " ")):
        best = max((text.rfind(m, floor, cut) + len(m) for m in marks if text.rfind(m, floor, cut) >= 0), default=-1)
        if best > floor:
            return best
    return cut
