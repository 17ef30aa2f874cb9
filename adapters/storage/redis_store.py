"""EphemeralStore on Redis: the same short-lived keys, shared by every worker, with Redis doing the expiry."""
from __future__ import annotations

import redis.asyncio as redis


class RedisEphemeralStore:
    def __init__(self, url: str, prefix: str = "bot:"):
        self._redis = redis.from_url(url, decode_responses=True)
        self._prefix = prefix

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

    async def purge_expired(self) -> int:
        return 0  # Redis expires keys itself

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except redis.RedisError:
            return False

    async def close(self) -> None:
        await self._redis.aclose()
