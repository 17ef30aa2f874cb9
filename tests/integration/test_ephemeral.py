"""EphemeralStore on the database and on Redis: add-if-absent, single-use take, expiry."""
from __future__ import annotations

import asyncio


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
