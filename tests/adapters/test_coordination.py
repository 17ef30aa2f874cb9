"""Coordination between workers over the shared store (database or Redis): two instances of each class play two
workers that share nothing but the store."""
from __future__ import annotations

import asyncio
import time

import pytest

from adapters.coordination.locks import NAMESPACE as LOCKS, SharedLocks
from adapters.coordination.pacing import SharedPacing
from adapters.coordination.stops import StopRequests
from adapters.coordination.streams import RedisEventLog
from adapters.storage import db
from adapters.storage.ephemeral import DatabaseEphemeralStore
from adapters.storage.redis_store import RedisEphemeralStore


@pytest.fixture
async def database_store(tmp_path):
    await db.open_database(f"sqlite://{tmp_path}/coord.db")
    yield DatabaseEphemeralStore()
    await db.close_database()


@pytest.fixture
async def redis_store(redis_url: str, redis_prefix: str):
    shared = RedisEphemeralStore(redis_url, redis_prefix)
    yield shared
    await shared.close()


@pytest.fixture(params=["database_store", "redis_store"])
def store(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


async def test_a_lock_is_held_by_one_worker_at_a_time(store) -> None:
    one, two = SharedLocks(store, poll_seconds=0.01), SharedLocks(store, poll_seconds=0.01)
    order: list[str] = []
    async with one.hold("chat:1"):
        with pytest.raises(TimeoutError):
            async with two.hold("chat:1", timeout=0.3):
                order.append("two while one held")
        async with two.hold("chat:2", timeout=1):      # other keys are free
            order.append("other key")
        waiting = asyncio.create_task(_hold_then_note(two, "chat:1", order))
        await asyncio.sleep(0)
        order.append("one")
    await asyncio.wait_for(waiting, 5)
    assert order == ["other key", "one", "two"]


async def _hold_then_note(locks: SharedLocks, key: str, order: list[str]) -> None:
    async with locks.hold(key, timeout=5):
        order.append("two")


async def test_a_dead_workers_lease_expires(store) -> None:
    await store.add(LOCKS, "chat:9", "a worker that died", 0.3)
    started = time.monotonic()
    async with SharedLocks(store, poll_seconds=0.02).hold("chat:9", timeout=5):
        assert time.monotonic() - started >= 0.2


async def test_a_held_lease_is_renewed_past_its_length(store) -> None:
    one, two = SharedLocks(store, lease_seconds=0.3, poll_seconds=0.02), SharedLocks(store, poll_seconds=0.02)
    async with one.hold("long"):
        with pytest.raises(TimeoutError):
            async with two.hold("long", timeout=0.8):   # well past one lease: still held
                pass


async def test_a_stop_reaches_the_worker_running_the_task_and_only_from_its_owner(store) -> None:
    here, there = StopRequests(store, poll_seconds=0.02), StopRequests(store, poll_seconds=0.02)
    stopped = asyncio.Event()
    forget = here.register("dify", "task-1", "carol", stopped.set)
    assert await there.request("dify", "task-1", "mallory") is False
    await asyncio.sleep(0.15)                            # several polls: a stranger's request does nothing
    assert not stopped.is_set()
    assert await there.request("dify", "task-1", "carol") is False   # not running there: relayed
    await asyncio.wait_for(stopped.wait(), 5)
    assert len(here) == 0
    forget()
    local = asyncio.Event()
    here.register("dify", "task-2", "carol", local.set)
    assert await here.request("dify", "task-2", "carol") is True and local.is_set()
    await here.close()
    await there.close()


async def test_pacing_lets_one_call_per_interval_through_across_workers(store) -> None:
    one, two = SharedPacing(store, poll_seconds=0.01), SharedPacing(store, poll_seconds=0.01)
    started = time.monotonic()
    await one.turn("chat:5", 0.3)
    await two.turn("chat:5", 0.3, timeout=5)
    assert time.monotonic() - started >= 0.25
    await one.pause("chat:6", 0.4)                      # a 429 seen by one worker...
    assert 0 < await two.paused_for("chat:6") <= 0.4     # ...holds the other back too
    began = time.monotonic()
    await two.turn("chat:6", 0, timeout=5)
    assert time.monotonic() - began >= 0.3


async def test_an_event_stream_written_by_one_worker_is_read_by_another(redis_url, redis_prefix) -> None:
    writer, reader = RedisEventLog(redis_url, redis_prefix), RedisEventLog(redis_url, redis_prefix)
    try:
        await writer.open("m1", {"conversation_id": "c1"})
        assert await reader.meta("m1") == {"conversation_id": "c1"}
        waiting = asyncio.create_task(reader.read("m1", 0, timeout=5))
        await writer.append("m1", 1, "delta", '{"content": "a"}')
        events, ended = await asyncio.wait_for(waiting, 5)
        assert [(e.id, e.name) for e in events] == [(1, "delta")] and not ended
        await writer.append("m1", 2, "done", "{}")
        await writer.end("m1", 3)
        events, ended = await reader.read("m1", 1, timeout=1)
        assert [(e.id, e.name) for e in events] == [(2, "done")] and ended
        assert not await writer.has_reader("m1")
        await reader.reading("m1", 5)
        assert await writer.has_reader("m1")
        assert await reader.read("nothing", 0, timeout=0.05) == ([], True)
    finally:
        await writer.close()
        await reader.close()
