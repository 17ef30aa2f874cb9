"""JSON text for hot paths (API answers, SSE events, Bot API bodies): orjson when installed, else the stdlib."""
from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # the `fast` extra is optional
    orjson = None  # type: ignore[assignment]

_OPTIONS = orjson.OPT_NON_STR_KEYS if orjson is not None else 0


def dumps_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is); what orjson cannot encode goes through the stdlib."""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=_OPTIONS)
        except TypeError:
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()


def loads(payload: bytes | str) -> Any:
    return orjson.loads(payload) if orjson is not None else json.loads(payload)
