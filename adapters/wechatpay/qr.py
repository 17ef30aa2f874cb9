"""The payment QR code: a code_url rendered as a PNG image or as text for a terminal (segno)."""
from __future__ import annotations

import io

import segno


def png(text: str, scale: int = 8) -> bytes:
    """A PNG of the QR code for `text`, with the standard 4-module quiet zone."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def terminal_text(text: str) -> str:
    """The QR code drawn with block characters, two modules per line, for a light-on-dark terminal."""
    out = io.StringIO()
    segno.make(text, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()
