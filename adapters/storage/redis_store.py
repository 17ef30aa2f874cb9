"""EphemeralStore on Redis: the same short-lived keys, shared by every worker, with Redis doing the expiry."""
from __future__ import annotations

import redis.asyncio as redis

# INCRBY and the expiry of a new counter in one step (a script runs atomically on the server).
_INCR = """local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n"""


class RedisEphemeralStore:
    def __init__(self, url: str, prefix: str = "bot:"):
        self._redis = redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._incr = self._redis.register_script(_INCR)

    def _key(self, namespace: str, key: str) -> str:
        return f"{self._prefix}{namespace}:{key}"

    async def put(self, namespace: str, key: str, value: str, ttl_seconds: float) -> None:
        await self._redis.set(self._key(namespace, key), value, px=max(1, int(ttl_seconds * 1000)))

    async def add(self, namespace: str, key: str, value: str, ttl_seconds: float) -> bool:
        return bool(await self._redis.set(self._key(namespace, key), value, px=max(1, int(ttl_seconds * 1000)),
                                          nx=True))

    async def get(self, namespace: str, key: str) -> str | None:
        return await self._redis.get(self._key(namespace, key))

    async def take(self, namespace: str, key: str) -> str | None:
        return await self._redis.getdel(self._key(namespace, key))

    async def delete(self, namespace: str, key: str) -> None:
        await self._redis.delete(self._key(namespace, key))

    async def incr(self, namespace: str, key: str, ttl_seconds: float, amount: int = 1) -> int:
        return int(await self._incr(keys=[self._key(namespace, key)], args=[amount, max(1, int(ttl_seconds * 1000))]))

    async def purge_expired(self) -> int:
        return 0  # Redis expires keys itself

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except redis.RedisError:
            return False

    async def close(self) -> None:
        await self._redis.aclose()
