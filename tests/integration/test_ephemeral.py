"""EphemeralStore on the database and on Redis: add-if-absent, single-use take, expiry."""
from __future__ import annotations

import asyncio

import pytest

from adapters.storage import db
from adapters.storage.ephemeral import DatabaseEphemeralStore
from adapters.storage.redis_store import RedisEphemeralStore


@pytest.fixture
async def database_store(tmp_path):
    await db.open_database(f"sqlite://{tmp_path}/e.db")
    yield DatabaseEphemeralStore()
    await db.close_database()


@pytest.fixture
async def redis_store(redis_url: str, redis_prefix: str):
    store = RedisEphemeralStore(redis_url, redis_prefix)
    yield store
    await store.close()


@pytest.fixture(params=["database_store", "redis_store"])
def store(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


async def test_add_only_once_even_when_racing(store) -> None:
    results = await asyncio.gather(*(store.add("dedupe", "msg-1", str(i), 60) for i in range(20)))
    assert results.count(True) == 1
    assert await store.get("dedupe", "msg-1") == str(results.index(True))


async def test_take_hands_the_value_to_one_caller(store) -> None:
    await store.put("magic", "ABC123", "user-1", 60)
    results = await asyncio.gather(*(store.take("magic", "ABC123") for _ in range(10)))
    assert [r for r in results if r is not None] == ["user-1"]
    assert await store.get("magic", "ABC123") is None


async def test_expired_keys_are_gone_and_can_be_added_again(store) -> None:
    assert await store.add("scene", "s1", "pending", 0.05)
    await asyncio.sleep(0.1)
    assert await store.get("scene", "s1") is None
    assert await store.take("scene", "s1") is None
    assert await store.add("scene", "s1", "again", 60)
    await store.delete("scene", "s1")
    assert await store.get("scene", "s1") is None
