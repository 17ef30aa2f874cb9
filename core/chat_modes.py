"""ChatModes: whether a group chat is answered on every message or only when the bot is mentioned or replied to."""
from __future__ import annotations

import time
from typing import Callable, Literal, Protocol

ReplyTo = Literal["all", "mentions"]
REPLY_TO: tuple[ReplyTo, ...] = ("all", "mentions")
DEFAULT: ReplyTo = "mentions"


class ChatSettingsStore(Protocol):
    """Per-chat settings, kept in the database (every worker reads the same)."""

    async def reply_to(self, chat_key: str) -> str | None:
        """The chat's stored choice, or None when it never made one."""
        ...

    async def set_reply_to(self, chat_key: str, reply_to: str) -> None: ...


class ChatModes:
    """`/mode all|mentions` (a chat admin's choice, stored per chat; default `mentions`). Every group message that
    does not address the bot asks `reply_to`, so answers are kept for `cache_seconds`; a change made on another
    worker is seen within that time, one made here at once."""

    def __init__(self, store: ChatSettingsStore, cache_seconds: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._ttl = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[ReplyTo, float]] = {}

    async def reply_to(self, chat_key: str) -> ReplyTo:
        cached = self._cache.get(chat_key)
        now = self._clock()
        if cached is not None and cached[1] > now:
            return cached[0]
        stored = await self._store.reply_to(chat_key)
        value: ReplyTo = stored if stored in REPLY_TO else DEFAULT  # type: ignore[assignment]
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[chat_key] = (value, now + self._ttl)
        return value

    async def set(self, chat_key: str, reply_to: ReplyTo) -> None:
        await self._store.set_reply_to(chat_key, reply_to)
        self._cache[chat_key] = (reply_to, self._clock() + self._ttl)
