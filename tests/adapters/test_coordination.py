"""Coordination between workers over the shared store (database or Redis): two instances of each class play two
workers that share nothing but the store. Renewals and expiries are driven by the test (a stand-in for the sleep
between renewals, an injected clock), never by how fast the scheduler happens to be."""
from __future__ import annotations

import asyncio
import time

import pytest

from adapters.coordination.lines import WaitingLine
from adapters.coordination.locks import NAMESPACE as LOCKS, SharedLocks
from adapters.coordination.pacing import SharedPacing
from adapters.coordination.stops import RUNNING_NAMESPACE, StopRequests
from adapters.coordination.streams import RedisEventLog
from tests.adapters.coordination_support import Clock, RecordingStore, Ticks, eventually


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


async def test_a_dead_workers_lease_expires_and_a_live_one_does_not(store) -> None:
    await store.add(LOCKS, "chat:9", "a worker that died", 0.2)
    await store.add(LOCKS, "chat:10", "a worker that lives", 60)
    with pytest.raises(TimeoutError):
        async with SharedLocks(store, poll_seconds=0.02).hold("chat:10", timeout=0.3):
            pass
    async with SharedLocks(store, poll_seconds=0.02).hold("chat:9", timeout=10):   # frees itself
        assert await store.get(LOCKS, "chat:9") not in (None, "a worker that died")


async def test_a_held_lease_is_renewed_every_third_of_its_length_until_released(store) -> None:
    ticks, recorded = Ticks(), RecordingStore(store)
    one = SharedLocks(recorded, lease_seconds=30, sleep=ticks.sleep)
    async with one.hold("long"):
        token = await store.get(LOCKS, "long")
        for renewal in (1, 2):
            await ticks.asked_times(renewal)
            assert ticks.asked[-1] == 10                   # a third of the lease
            ticks.release()
            await recorded.until(lambda: recorded.puts(LOCKS, "long") == [(token, 30)] * renewal)
        with pytest.raises(TimeoutError):                  # still held: another worker waits
            async with SharedLocks(store, poll_seconds=0.01).hold("long", timeout=0.2):
                pass
    assert await store.get(LOCKS, "long") is None          # released at once, not left to expire


async def test_a_lease_taken_over_after_expiry_is_not_renewed_nor_released(store) -> None:
    ticks, recorded = Ticks(), RecordingStore(store)
    one = SharedLocks(recorded, lease_seconds=30, sleep=ticks.sleep)
    async with one.hold("taken"):
        await store.put(LOCKS, "taken", "another worker", 30)   # as if ours had expired and been taken
        await ticks.asked_times(1)
        ticks.release()
        await recorded.until(lambda: recorded.reads(LOCKS, "taken") >= 1)
    assert recorded.puts(LOCKS, "taken") == []
    assert await store.get(LOCKS, "taken") == "another worker"


async def test_a_stop_reaches_the_worker_running_the_task_and_only_from_its_owner(store) -> None:
    ticks = Ticks()
    here, there = StopRequests(store, sleep=ticks.sleep), StopRequests(store)
    stopped = asyncio.Event()
    forget = here.register("dify", "task-1", "carol", stopped.set)
    assert await there.request("dify", "task-1", "mallory") is False
    for look in (1, 2):                                    # two full looks: a stranger's request does nothing
        await ticks.asked_times(look)
        ticks.release()
    await ticks.asked_times(3)
    assert not stopped.is_set()
    assert await there.request("dify", "task-1", "carol") is False   # not running there: relayed
    ticks.release()
    await asyncio.wait_for(stopped.wait(), 5)
    assert len(here) == 0
    forget()
    local = asyncio.Event()
    here.register("dify", "task-2", "carol", local.set)
    assert await here.request("dify", "task-2", "carol") is True and local.is_set()
    await here.close()
    await there.close()


async def test_a_started_task_is_known_on_every_worker_until_it_ends(store) -> None:
    ticks = Ticks()
    here, there = StopRequests(store, sleep=ticks.sleep), StopRequests(store)
    await store.put("stop", "telegram:7", "carol", 60)      # left over from an earlier run: must not stop this one
    stopped = asyncio.Event()
    end = await here.start("telegram", "7", "carol", stopped.set)
    assert await there.owner_of("telegram", "7") == "carol" and await here.owner_of("telegram", "7") == "carol"
    await ticks.asked_times(1)
    ticks.release()
    await ticks.asked_times(2)                              # one full look at the store
    assert not stopped.is_set()
    await there.request("telegram", "7", "carol")
    ticks.release()
    await asyncio.wait_for(stopped.wait(), 5)
    await end()
    assert await there.owner_of("telegram", "7") is None
    await here.close()
    await there.close()


async def test_a_running_mark_is_renewed_and_a_dead_workers_expires(store) -> None:
    ticks, clock, recorded = Ticks(), Clock(), RecordingStore(store)
    here = StopRequests(recorded, running_ttl_seconds=30, clock=clock, sleep=ticks.sleep)
    there = StopRequests(store)
    end = await here.start("telegram", "8", "dave", lambda: None)
    assert recorded.puts(RUNNING_NAMESPACE, "telegram:8") == [("dave", 30)]
    await ticks.asked_times(1)
    ticks.release()                                          # a look before a third of the mark's life: no renewal
    await ticks.asked_times(2)
    assert len(recorded.puts(RUNNING_NAMESPACE, "telegram:8")) == 1
    clock.advance(11)
    ticks.release()
    await ticks.asked_times(3)
    assert recorded.puts(RUNNING_NAMESPACE, "telegram:8") == [("dave", 30)] * 2
    assert await there.owner_of("telegram", "8") == "dave"
    await here.close()                                       # as if the worker died: no more renewals
    await store.put(RUNNING_NAMESPACE, "telegram:8", "dave", 0.2)   # ...and its last mark runs out
    await eventually(lambda: there.owner_of("telegram", "8"), None)
    await end()


async def test_the_gate_lets_the_smallest_waiter_of_any_worker_in_first(store) -> None:
    locks = [SharedLocks(store, poll_seconds=0.01, max_poll_seconds=0.02) for _ in range(2)]
    lines = [WaitingLine(store) for _ in range(2)]
    order: list[int] = []

    async def answer(worker: int, number: int) -> None:
        async with locks[worker].hold("chat:3", timeout=5, gate=lambda: lines[worker].first("chat:3", number)):
            await lines[worker].leave("chat:3", number)
            order.append(number)

    try:
        async with locks[0].hold("chat:3"):                   # an answer is running; 5, 6 and 7 arrive meanwhile
            for worker, number in ((1, 6), (0, 5), (1, 7)):
                await lines[worker].join("chat:3", number)
            # Worker 1's lane is ready first, with its own smallest (6): it must still wait for worker 0's 5.
            late = asyncio.create_task(answer(1, 6))
            early = asyncio.create_task(answer(0, 5))
        await asyncio.wait_for(asyncio.gather(late, early), 5)
        await asyncio.wait_for(answer(1, 7), 5)
        assert order == [5, 6, 7]
        assert await lines[0].first("chat:3", 10**9)          # nobody is left in the line
    finally:
        for line in lines:
            await line.close()


async def test_a_dead_workers_place_in_line_expires(store) -> None:
    clock = Clock(time.time())
    dead, alive = WaitingLine(store, ttl_seconds=30, clock=clock), WaitingLine(store, ttl_seconds=30, clock=clock)
    await dead.join("chat:4", 1)
    await dead.close()                                        # stops renewing, as a killed worker would
    await alive.join("chat:4", 2)
    assert not await alive.first("chat:4", 2)
    clock.advance(20)
    assert not await alive.first("chat:4", 2)                # not yet
    clock.advance(11)
    assert await alive.first("chat:4", 2)                    # the dead worker's place has run out
    await alive.leave("chat:4", 2)
    await alive.close()


async def test_pacing_lets_one_call_per_interval_through_across_workers(store) -> None:
    ticks = Ticks(passthrough=True)
    one, two = SharedPacing(store), SharedPacing(store, sleep=ticks.sleep)
    started, wall = time.monotonic(), time.time()
    await one.turn("chat:5", 0.3)
    await two.turn("chat:5", 0.3, timeout=5)
    assert time.monotonic() - started >= 0.3
    # The first sleep was until the slot's end (not a short poll): where it ends is at least 0.3 s after the start.
    assert 0 < ticks.asked[0] <= 0.3 and ticks.at[0] + ticks.asked[0] >= wall + 0.3 - 0.001
    await one.pause("chat:6", 60)                         # a 429 seen by one worker...
    assert 59 < await two.paused_for("chat:6") <= 60      # ...holds the other back too
    await one.pause("chat:7", 0.4)
    began = time.monotonic()
    await two.turn("chat:7", 0, timeout=5)
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
