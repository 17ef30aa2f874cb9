"""What every worker knows, in the shared store: about a MsgId (seen, being answered, answered, tries), and
which signed callback queries were used with which body."""
from __future__ import annotations

import hashlib
from typing import Mapping

from core.ports import EphemeralStore

SEEN = "wechat-seen"
TRIES = "wechat-try"
QUERIES = "wechat-query"
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


class SeenQueries:
    """Each signed query (timestamp, nonce) is good for one body: WeChat's retry resends the same bytes and is
    let through; the same query with any other body is a replay.

    A plaintext callback's signature covers only token, timestamp and nonce, so without this memory one
    captured query would carry any body from any openid. The signature is a function of (token, timestamp,
    nonce), so (timestamp, nonce) names the query, whichever mode (and signature field) it came in.
    """

    def __init__(self, store: EphemeralStore, account: str, tolerance_seconds: float):
        self._store = store
        self._account = account
        # A query is accepted while |now - timestamp| <= tolerance: at most 2 x tolerance after its first use.
        self._ttl = 2 * tolerance_seconds + 60

    async def admit(self, query: Mapping[str, str], body: bytes) -> bool:
        """True for a query never seen before (it is remembered with this body, on every worker at once) or seen
        with exactly this body; False for a seen query with another body."""
        signed = f"{query.get('timestamp', '')}\n{query.get('nonce', '')}".encode()
        key = f"{self._account}:{hashlib.sha256(signed).hexdigest()[:40]}"   # fits the store's key column
        digest = hashlib.sha256(body).hexdigest()
        if await self._store.add(QUERIES, key, digest, self._ttl):
            return True
        return await self._store.get(QUERIES, key) == digest
