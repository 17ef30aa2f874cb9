"""The coordination ports behave the same in one process (no redis.url) and shared through Redis: each test runs
in both modes."""
from __future__ import annotations

import asyncio
import time

import pytest

from adapters.coordination.local import LocalCoordination, LocalPacing
from adapters.coordination.shared import SharedCoordination
from tests.adapters.coordination_support import Clock, Ticks


@pytest.fixture(params=["memory", "redis"])
def coordination(request: pytest.FixtureRequest):
    if request.param == "memory":
        return LocalCoordination()
    return SharedCoordination(request.getfixturevalue("redis_store"))


async def test_a_lock_has_one_holder_and_lets_waiters_in_first_come_first_served(coordination) -> None:
    locks = coordination.locks()
    order: list[str] = []

    async def take(name: str) -> None:
        async with locks.hold("chat:1", timeout=10):
            order.append(name)

    async with locks.hold("chat:1"):
        with pytest.raises(TimeoutError):
            async with locks.hold("chat:1", timeout=0.2):
                order.append("while held")
        async with locks.hold("chat:2", timeout=1):         # other keys are free
            order.append("other key")
        waiters = [asyncio.create_task(take(name)) for name in ("a", "b", "c")]
        await asyncio.sleep(0)
        order.append("holder")
    await asyncio.wait_for(asyncio.gather(*waiters), 10)
    assert order == ["other key", "holder", "a", "b", "c"]


async def test_pacing_lets_one_turn_per_interval_through_and_a_pause_holds_the_key_back(coordination) -> None:
    pacing = coordination.pacing()
    started = time.monotonic()
    for _ in range(3):
        await pacing.turn("chat:5", 0.2, timeout=5)
    assert time.monotonic() - started >= 0.4              # three turns: two intervals
    await pacing.pause("chat:6", 60)
    assert 59 < await pacing.paused_for("chat:6") <= 60
    assert await pacing.paused_for("chat:7") == 0
    with pytest.raises(TimeoutError):
        await pacing.turn("chat:6", 0.2, timeout=0.2)      # paused: no slot until the pause ends
    await pacing.pause("chat:8", 0.3)
    began = time.monotonic()
    await pacing.turn("chat:8", 0, timeout=5)
    assert time.monotonic() - began >= 0.25


async def test_a_stop_is_only_taken_from_the_owner(coordination) -> None:
    stops = coordination.stops()
    stopped = asyncio.Event()
    end = await stops.start("telegram", "42", "carol", stopped.set)
    assert await stops.owner_of("telegram", "42") == "carol"
    assert await stops.request("telegram", "42", "mallory") is False
    assert not stopped.is_set() and await stops.owner_of("telegram", "42") == "carol"
    assert await stops.request("telegram", "42", "carol") is True
    assert stopped.is_set()
    await end()
    assert await stops.owner_of("telegram", "42") is None and len(stops) == 0
    await stops.close()


async def test_in_one_process_a_turn_sleeps_once_until_its_slot() -> None:
    clock, ticks = Clock(), Ticks()
    pacing = LocalPacing(clock=clock, sleep=ticks.sleep)
    await pacing.turn("chat", 1.0)                          # the first slot is now
    assert ticks.asked == []
    second = asyncio.create_task(pacing.turn("chat", 1.0))
    third = asyncio.create_task(pacing.turn("chat", 1.0))
    await ticks.asked_times(2)
    assert ticks.asked == [1.0, 2.0]                         # each booked its own slot: one sleep each, no polling
    clock.advance(1.0)
    ticks.release()
    await second
    clock.advance(1.0)
    ticks.release()
    await third
    assert ticks.asked == [1.0, 2.0]


async def test_in_one_process_a_pause_moves_the_slot_and_a_sleeper_sleeps_once_more() -> None:
    clock, ticks = Clock(), Ticks()
    pacing = LocalPacing(clock=clock, sleep=ticks.sleep)
    await pacing.turn("chat", 1.0)
    waiting = asyncio.create_task(pacing.turn("chat", 1.0))
    await ticks.asked_times(1)
    await pacing.pause("chat", 5.0)                          # a 429 while it sleeps
    clock.advance(1.0)
    ticks.release()
    await ticks.asked_times(2)
    assert ticks.asked == [1.0, 4.0]                         # woke at its slot, then slept to the pause's end
    clock.advance(4.0)
    ticks.release()
    await waiting
    assert await pacing.paused_for("chat") == 0
    later = asyncio.create_task(pacing.turn("other", 1.0))   # other keys were never held back
    await later
    assert ticks.asked == [1.0, 4.0]


def _burn(cpu_seconds: float) -> None:
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:
        pass


async def test_answers_wait_for_a_slot_while_the_loop_is_busy_and_start_in_order_as_it_frees() -> None:
    from adapters.coordination.slots import ReplySlots

    slots = ReplySlots(floor=1, max_lag=0.004, recheck=0.01)
    busy = asyncio.Event()
    busy.set()

    async def hog() -> None:            # every loop turn costs 10 ms of CPU while `busy` is set
        while busy.is_set():
            _burn(0.01)
            await asyncio.sleep(0)

    entered: list[str] = []
    release = {name: asyncio.Event() for name in ("first", "second", "third")}

    async def answer(name: str) -> None:
        async with slots.slot():
            entered.append(name)
            await release[name].wait()

    hogging = asyncio.create_task(hog())
    first = asyncio.create_task(answer("first"))
    while entered != ["first"]:                       # the floor lets one in whatever the loop's state
        await asyncio.sleep(0)
    second, third = asyncio.create_task(answer("second")), asyncio.create_task(answer("third"))
    while slots.waiting() < 2:
        await asyncio.sleep(0)
    for _ in range(20):                                # many busy turns: nobody else gets in
        await asyncio.sleep(0)
    assert entered == ["first"] and slots.running == 1
    release["first"].set()
    await first
    while entered != ["first", "second"]:              # a freed slot goes to the first in line
        await asyncio.sleep(0)
    assert slots.waiting() == 1
    busy.clear()                                       # the loop has room again: the next starts beside it
    await hogging
    await asyncio.wait_for(_until(lambda: entered == ["first", "second", "third"]), 10)
    assert slots.running == 2
    release["second"].set()
    release["third"].set()
    await asyncio.gather(second, third)
    assert slots.running == 0 and slots.waiting() == 0


async def _until(check) -> None:
    while not check():
        await asyncio.sleep(0.005)
