"""The Pacer of a fan-out on a virtual clock: shared cooldown, AIMD concurrency, budgets.

Time only moves when a test calls :meth:`VirtualTime.advance`, so every schedule is exact
and no test waits for real.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import Any

import pytest

from images_async import PacerState
from images_async._pacing import Pacer

#: Rounds of the event loop that let woken tasks run to their next wait.
SETTLE_ROUNDS = 20
#: Real seconds after which a step that should not wait at all counts as hung.
HANG_SECONDS = 5.0


async def settle() -> None:
    """Let every runnable task run until it waits again (nothing here does real I/O)."""
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(0)


class VirtualTime:
    """A clock that moves only when told to; sleepers wake in order of their deadlines."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        #: Every sleep asked for, in seconds.
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), wake))
        await wake

    async def advance(self, seconds: float) -> None:
        """Move the clock forward, waking each sleeper at its deadline."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not wake.done():
                wake.set_result(None)
            await settle()
        self.now = target
        await settle()

    def pacer(self, concurrency: int, **budgets: float | None) -> Pacer:
        return Pacer(concurrency=concurrency, clock=self.clock, sleep=self.sleep, **budgets)


@pytest.fixture
def virtual() -> VirtualTime:
    return VirtualTime()


class Workers:
    """Tasks that each acquire a slot once and note the virtual time they got it."""

    def __init__(self, pacer: Pacer, time: VirtualTime) -> None:
        self._pacer = pacer
        self._time = time
        self.started: list[float] = []
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, count: int, images: int = 1) -> None:
        for _ in range(count):
            self.tasks.append(asyncio.ensure_future(self._acquire(images)))

    async def _acquire(self, images: int) -> None:
        await self._pacer.acquire(images)
        self.started.append(self._time.now)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def promptly(awaitable: Awaitable[None]) -> None:
    """Await a step that must not wait; fail instead of hanging if it does."""
    await asyncio.wait_for(awaitable, HANG_SECONDS)


async def finished_within(awaitable: Awaitable[object], time: VirtualTime) -> bool:
    """Whether ``awaitable`` completes without the virtual clock moving."""
    task = asyncio.ensure_future(awaitable)
    await settle()
    done = task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return done


# --- the shared cooldown ------------------------------------------------------------------


async def test_no_worker_starts_before_the_cooldown_ends(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=4)
    pacer.record_rate_limit(5.0)  # at t=1000: nothing may start before t=1005
    workers = Workers(pacer, virtual)
    workers.start(3)

    await virtual.advance(4.999)
    assert workers.started == []
    assert pacer.in_flight == 0

    await virtual.advance(0.001)
    # The 429 also halved the limit: two start at once, the third waits for a slot.
    assert workers.started == [1005.0, 1005.0]
    assert pacer.in_flight == 2
    pacer.release()
    await settle()
    assert workers.started == [1005.0, 1005.0, 1005.0]
    await workers.stop()


async def test_a_later_429_extends_the_cooldown_of_waiting_workers(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=4)
    pacer.record_rate_limit(2.0)  # until 1002
    workers = Workers(pacer, virtual)
    workers.start(1)
    await virtual.advance(1.0)
    pacer.record_rate_limit(3.0)  # at 1001: until 1004
    await virtual.advance(1.5)  # the first wait ends at 1002; the worker must wait again
    assert workers.started == []
    await virtual.advance(1.5)
    assert workers.started == [1004.0]
    await workers.stop()


async def test_a_shorter_429_never_shortens_the_cooldown(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=4)
    pacer.record_rate_limit(10.0)
    pacer.record_rate_limit(1.0)
    assert pacer.state().cooling_down_for == 10.0


async def test_a_429_without_a_wait_cools_down_for_a_second(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=4)
    pacer.record_rate_limit(None)
    assert pacer.state().cooling_down_for == 1.0
    assert await finished_within(pacer.wait_for_cooldown(), virtual) is False
    await virtual.advance(1.0)
    assert await finished_within(pacer.wait_for_cooldown(), virtual) is True


async def test_without_a_cooldown_nothing_sleeps(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=2)
    await promptly(pacer.wait_for_cooldown())
    await promptly(pacer.acquire())
    assert virtual.slept == []
    assert pacer.state() == PacerState(limit=2, in_flight=1, cooling_down_for=0.0)


async def test_the_retry_loop_waits_out_the_cooldown_too(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=4)
    pacer.record_rate_limit(0.5)
    waiting = asyncio.ensure_future(pacer.wait_for_cooldown())
    await virtual.advance(0.25)
    assert not waiting.done()
    assert pacer.state().cooling_down_for == pytest.approx(0.25)
    await virtual.advance(0.25)
    assert waiting.done()
    assert pacer.state().cooling_down_for == 0.0


# --- adaptive concurrency -----------------------------------------------------------------


async def test_each_429_halves_the_limit_down_to_one(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=16)
    limits = []
    for _ in range(6):
        pacer.record_rate_limit(0.0)
        limits.append(pacer.limit)
    assert limits == [8, 4, 2, 1, 1, 1]


async def test_the_limit_grows_by_one_after_a_window_of_successes(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=4)
    pacer.record_rate_limit(0.0)
    pacer.record_rate_limit(0.0)
    assert pacer.limit == 1
    history = []
    for _ in range(12):
        pacer.record_success()
        history.append(pacer.limit)
    # 1 success grows 1 -> 2, 2 more grow 2 -> 3, 3 more grow 3 -> 4; never past 4.
    assert history == [2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4]


async def test_a_429_restarts_the_window_of_successes(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=8)
    pacer.record_rate_limit(0.0)  # 8 -> 4
    for _ in range(3):
        pacer.record_success()
    pacer.record_rate_limit(0.0)  # 4 -> 2, and the three successes no longer count
    pacer.record_success()
    assert pacer.limit == 2
    pacer.record_success()
    assert pacer.limit == 3


async def test_never_more_in_flight_than_the_limit(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=2)
    workers = Workers(pacer, virtual)
    workers.start(5)
    await settle()
    assert (len(workers.started), pacer.in_flight) == (2, 2)
    pacer.release()
    await settle()
    assert (len(workers.started), pacer.in_flight) == (3, 2)
    pacer.release()
    pacer.release()
    await settle()
    assert (len(workers.started), pacer.in_flight) == (5, 2)
    await workers.stop()


async def test_a_grown_limit_lets_a_waiting_worker_in(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=4)
    pacer.record_rate_limit(0.0)
    pacer.record_rate_limit(0.0)  # limit 1
    workers = Workers(pacer, virtual)
    workers.start(2)
    await settle()
    assert len(workers.started) == 1
    pacer.record_success()  # limit 2: the second worker gets in without a release
    await settle()
    assert len(workers.started) == 2
    assert pacer.in_flight == 2
    await workers.stop()


async def test_a_shrunk_limit_holds_new_workers_until_enough_finish(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=4)
    workers = Workers(pacer, virtual)
    workers.start(4)
    await settle()
    pacer.record_rate_limit(0.0)  # limit 2 while 4 are in flight
    workers.start(1)
    pacer.release()
    pacer.release()
    await settle()
    assert len(workers.started) == 4  # 2 still in flight: the limit is full
    pacer.release()
    await settle()
    assert len(workers.started) == 5
    await workers.stop()


async def test_cancelling_a_waiting_worker_takes_no_slot(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=1)
    await promptly(pacer.acquire())
    waiting = asyncio.ensure_future(pacer.acquire())
    await settle()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert pacer.in_flight == 1
    pacer.release()
    await promptly(pacer.acquire())
    assert pacer.in_flight == 1


# --- budgets ------------------------------------------------------------------------------


async def test_requests_per_minute_spreads_calls_after_the_first_minutes_worth(
    virtual: VirtualTime,
) -> None:
    pacer = virtual.pacer(concurrency=100, requests_per_minute=60)
    for _ in range(60):
        await promptly(pacer.acquire())
        pacer.release()
    assert virtual.slept == []
    workers = Workers(pacer, virtual)
    workers.start(2)
    await virtual.advance(0.999)
    assert workers.started == []
    await virtual.advance(0.001)
    assert workers.started == [1001.0]  # one token a second
    await virtual.advance(1.0)
    assert workers.started == [1001.0, 1002.0]
    await workers.stop()


async def test_an_idle_budget_refills_up_to_one_minutes_worth(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=100, requests_per_minute=60)
    for _ in range(60):
        await promptly(pacer.acquire())
        pacer.release()
    await virtual.advance(3600.0)
    for _ in range(60):  # a full minute's worth, not an hour's
        await promptly(pacer.acquire())
        pacer.release()
    assert virtual.slept == []
    assert await finished_within(pacer.acquire(), virtual) is False


async def test_images_per_minute_counts_each_requests_images(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=10, images_per_minute=10)
    await promptly(pacer.acquire(images=4))
    await promptly(pacer.acquire(images=4))
    workers = Workers(pacer, virtual)
    workers.start(1, images=4)  # 2 tokens left: 2 more come in 12 s
    await virtual.advance(11.9)
    assert workers.started == []
    await virtual.advance(0.1)
    assert workers.started == [1012.0]
    await workers.stop()


async def test_a_request_larger_than_the_budget_waits_for_a_full_bucket(
    virtual: VirtualTime,
) -> None:
    pacer = virtual.pacer(concurrency=10, images_per_minute=10)
    await promptly(pacer.acquire(images=10))
    workers = Workers(pacer, virtual)
    workers.start(1, images=50)
    await virtual.advance(59.0)
    assert workers.started == []
    await virtual.advance(1.0)
    assert workers.started == [1060.0]
    await workers.stop()


async def test_the_tighter_of_both_budgets_decides(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=10, requests_per_minute=600, images_per_minute=6)
    await promptly(pacer.acquire(images=6))
    workers = Workers(pacer, virtual)
    workers.start(1, images=1)  # requests are plentiful; one image takes 10 s
    await virtual.advance(9.0)
    assert workers.started == []
    await virtual.advance(1.0)
    assert workers.started == [1010.0]
    await workers.stop()


async def test_budgets_wait_out_a_cooldown_first(virtual: VirtualTime) -> None:
    pacer = virtual.pacer(concurrency=4, requests_per_minute=60)
    pacer.record_rate_limit(3.0)
    workers = Workers(pacer, virtual)
    workers.start(1)
    await virtual.advance(2.9)
    assert workers.started == []
    await virtual.advance(0.1)
    assert workers.started == [1003.0]
    await workers.stop()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 1, "requests_per_minute": 0}, "requests_per_minute"),
        ({"concurrency": 1, "images_per_minute": -5}, "images_per_minute"),
    ],
)
def test_bad_settings_are_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Pacer(**arguments)
