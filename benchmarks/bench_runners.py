"""How a batch of calls is spread: over tasks, over threads, or from threads onto one loop.

A *batch* function ``batch(prompt, requests)`` makes that many calls and returns the sum of
what they returned. :func:`gathered` runs async calls under ``asyncio.gather`` with a
semaphore; :func:`threaded` runs sync calls from a pool of threads (or, for one thread, from
the calling thread itself); :class:`HandOff` is the floor of every sync facade over an async
client: each calling thread hands its coroutine to one event-loop thread and blocks until
the result is back, with nothing else in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bench_peers import CALL_TIMEOUT

T = TypeVar("T")
AsyncBatch = Callable[[str, int], Awaitable[int]]
SyncBatch = Callable[[str, int], int]


def gathered(call: Callable[[str], Awaitable[int]], concurrency: int) -> AsyncBatch:
    """``asyncio.gather`` of every call, at most ``concurrency`` at once (a semaphore)."""

    async def batch(prompt: str, requests: int) -> int:
        semaphore = asyncio.Semaphore(concurrency)

        async def one() -> int:
            async with semaphore:
                return await call(prompt)

        return sum(await asyncio.gather(*(one() for _ in range(requests))))

    return batch


@contextlib.contextmanager
def threaded(call: Callable[[str], int], threads: int) -> Iterator[SyncBatch]:
    """``threads`` threads that split the calls of a batch evenly between them."""
    if threads == 1:  # one thread: the caller's own, as a script would call it
        yield lambda prompt, requests: sum(call(prompt) for _ in range(requests))
        return

    def share(prompt: str, count: int) -> int:
        return sum(call(prompt) for _ in range(count))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench") as pool:

        def batch(prompt: str, requests: int) -> int:
            counts = [requests // threads + (i < requests % threads) for i in range(threads)]
            futures = [pool.submit(share, prompt, count) for count in counts if count]
            return sum(future.result(CALL_TIMEOUT) for future in futures)

        yield batch


class HandOff:
    """One event-loop thread that runs coroutines for blocked calling threads.

    The smallest hand-off there is: the caller schedules the coroutine with
    ``call_soon_threadsafe`` and waits on a lock of its own (one per calling thread, reused)
    that the task's done-callback releases. No futures are chained across threads.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bench-loop")
        self._thread.start()
        self._locks = threading.local()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        lock: threading.Lock | None = getattr(self._locks, "lock", None)
        if lock is None:
            lock = self._locks.lock = threading.Lock()
            lock.acquire()
        done: list[asyncio.Task[T]] = []

        def finished(task: asyncio.Task[T]) -> None:
            done.append(task)
            lock.release()

        def start() -> None:
            self.loop.create_task(coroutine).add_done_callback(finished)

        self.loop.call_soon_threadsafe(start)
        if not lock.acquire(timeout=CALL_TIMEOUT):
            raise TimeoutError(f"no result from the loop thread within {CALL_TIMEOUT:.0f} s")
        return done[0].result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(CALL_TIMEOUT)
        self.loop.close()
