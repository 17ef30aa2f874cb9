"""MessageMarks: what every worker knows about a MsgId, in the shared store: seen, being answered, answered, tries."""
from __future__ import annotations

from core.ports import EphemeralStore

SEEN = "wechat-seen"
TRIES = "wechat-try"
GENERATING = "generating"
ANSWERED = "answered"
SEEN_TTL_SECONDS = 7 * 24 * 3600   # a MsgId is answered once, ever: far longer than WeChat ever retries
TRIES_TTL_SECONDS = 120            # WeChat's three tries come within ~15 s


class MessageMarks:
    def __init__(self, store: EphemeralStore, account: str, max_tries: int):
        self._store = store
        self._account = account
        self._max_tries = max_tries

    def _key(self, msg_key: str) -> str:
        return f"{self._account}:{msg_key}"

    async def first_time(self, msg_key: str) -> bool:
        """Marks the message seen (and being answered); True only for the first caller, on any worker."""
        return await self._store.add(SEEN, self._key(msg_key), GENERATING, SEEN_TTL_SECONDS)

    async def answered(self, msg_key: str) -> None:
        """The answer is parked in the outbox (or there was nothing to say): callbacks waiting anywhere may go."""
        await self._store.put(SEEN, self._key(msg_key), ANSWERED, SEEN_TTL_SECONDS)

    async def is_answered(self, msg_key: str) -> bool:
        # Marks written before this version hold "1": those messages were answered long ago.
        return await self._store.get(SEEN, self._key(msg_key)) != GENERATING

    async def attempt(self, msg_key: str) -> int:
        """Which of WeChat's tries this callback is (1, 2, 3...), counted across workers."""
        for n in range(1, self._max_tries + 1):
            if await self._store.add(TRIES, f"{self._key(msg_key)}:{n}", "1", TRIES_TTL_SECONDS):
                return n
        return self._max_tries + 1
