"""The hand-off between calling threads and a sync client's loop thread.

Many threads share one loop: each call is queued, the loop is woken once per batch and each
caller waits on a lock of its own. What must hold: every caller gets its own result or
exception, no call is lost when calls arrive while the loop drains the queue, ``close`` and
Ctrl-C leave no thread waiting forever and no coroutine un-awaited. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import gc
import signal
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest
from plugins.api_server import API_KEY, Reply
from plugins.threaded_server import ThreadedImagesAPI

from images_async import ClientClosedError, Images
from images_async._loop_thread import LoopThread

#: Upper bound of every wait on a thread or a call.
WAIT = 30.0
THREADS = 100

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


@pytest.fixture
def runner() -> Iterator[LoopThread]:
    loop_thread = LoopThread(name="images-async-test")
    try:
        yield loop_thread
    finally:
        loop_thread.close()


def run_in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(index)`` on ``count`` threads started together; their results, in order."""
    start = threading.Barrier(count)

    def started(index: int) -> Any:
        start.wait(WAIT)
        return work(index)

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(started, range(count), timeout=WAIT))


async def echo(value: object) -> object:
    await asyncio.sleep(0)
    return value


def test_many_threads_each_get_their_own_results(runner: LoopThread) -> None:
    calls = 50

    def work(index: int) -> list[object]:
        return [runner.run(echo((index, call))) for call in range(calls)]

    results = run_in_threads(THREADS, work)
    assert results == [[(index, call) for call in range(calls)] for index in range(THREADS)]


def test_many_threads_share_one_images_client(threaded_api: ThreadedImagesAPI) -> None:
    calls = 5
    base_url = f"{threaded_api.base_url}/v1"
    with Images(api_key=API_KEY, base_url=base_url, max_retries=0) as images:

        def work(index: int) -> list[tuple[str, str | None]]:
            prompts = [f"thread {index} call {call}" for call in range(calls)]
            return [
                (prompt, images.with_raw_response.generate(prompt=prompt).request_id)
                for prompt in prompts
            ]

        results = run_in_threads(THREADS, work)
    # The server numbers its answers ``req_<n>`` in the order requests arrive.
    prompt_of = {
        f"req_{number}": (request.json or {}).get("prompt")
        for number, request in enumerate(threaded_api.requests, start=1)
    }
    assert len(prompt_of) == THREADS * calls
    for answers in results:
        for prompt, request_id in answers:
            assert prompt_of[str(request_id)] == prompt, "a thread got another thread's answer"


class Refused(Exception):
    pass


async def refuse() -> None:
    await asyncio.sleep(0)
    raise Refused("no")


def test_an_exception_keeps_its_type_and_traceback(runner: LoopThread) -> None:
    with pytest.raises(Refused, match="no") as caught:
        runner.run(refuse())
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "refuse" in frames, "the coroutine's frame is missing from the traceback"


class Ready:
    """An awaitable that is not a coroutine (as ``with_raw_response`` methods return)."""

    def __await__(self) -> Generator[Any, None, str]:
        yield from asyncio.sleep(0).__await__()
        return "ready"


def test_an_awaitable_that_is_not_a_coroutine(runner: LoopThread) -> None:
    assert runner.run(Ready()) == "ready"


def test_the_call_sees_the_callers_context_variables(runner: LoopThread) -> None:
    async def read_and_change() -> str:
        seen = REQUEST_ID.get()
        REQUEST_ID.set("changed on the loop")
        return seen

    def work(index: int) -> tuple[str, str]:
        REQUEST_ID.set(f"thread {index}")
        return runner.run(read_and_change()), REQUEST_ID.get()

    results = run_in_threads(8, work)
    assert results == [(f"thread {index}", f"thread {index}") for index in range(8)]


def test_a_call_from_the_loop_thread_raises_runtime_error(runner: LoopThread) -> None:
    async def nested() -> object:
        return runner.run(echo("inner"))

    with pytest.raises(RuntimeError, match="its own event loop thread"):
        runner.run(nested())
    gc.collect()  # the inner coroutine was closed: no "never awaited" warning (an error here)


def test_close_while_many_threads_wait_raises_client_closed_error_in_each(
    threaded_api: ThreadedImagesAPI,
) -> None:
    waiting = 20
    threaded_api.reply(*(Reply(delay=WAIT) for _ in range(waiting)))
    images = Images(api_key=API_KEY, base_url=f"{threaded_api.base_url}/v1", max_retries=0)

    def work(_: int) -> BaseException | None:
        try:
            images.generate(prompt="slow")
        except ClientClosedError as error:
            return error
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=waiting) as pool:
        outcomes = [pool.submit(work, index) for index in range(waiting)]
        deadline = time.monotonic() + WAIT
        while len(threaded_api.requests) < waiting and time.monotonic() < deadline:
            time.sleep(0.01)  # every request is on the wire
        images.close()
        errors = [outcome.result(WAIT) for outcome in outcomes]
    assert all(isinstance(error, ClientClosedError) for error in errors)


def test_close_while_threads_keep_calling_leaves_none_waiting(runner: LoopThread) -> None:
    """Calls race ``close``: each one either runs or raises ClientClosedError, and none is
    left waiting for a loop that has stopped."""
    finished = threading.Event()
    ran = [0] * THREADS

    def work(index: int) -> None:
        while True:
            try:
                runner.run(echo(index))
            except ClientClosedError:
                return
            ran[index] += 1
            if finished.is_set() and ran[index] > 1000:
                raise AssertionError("calls still run after close")

    with concurrent.futures.ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = [pool.submit(work, index) for index in range(THREADS)]
        time.sleep(0.2)
        runner.close()
        finished.set()
        for outcome in outcomes:
            outcome.result(WAIT)
    assert sum(ran) > 0
    gc.collect()  # the calls refused before starting were closed: no warning here


def test_close_from_the_loop_thread_does_not_wait_for_itself() -> None:
    """As a client's finalizer does when garbage collection runs on the loop thread."""
    runner = LoopThread(name="images-async-test")
    thread = runner.run(loop_thread())
    finals: list[bool] = []

    async def final() -> None:
        finals.append(True)

    async def close_here() -> None:
        runner.close(final)

    runner.run(close_here())
    thread.join(WAIT)
    assert not thread.is_alive()
    assert finals == [True]
    with pytest.raises(ClientClosedError):
        runner.run(echo("too late"))
    gc.collect()  # the refused coroutine was closed: no "never awaited" warning


async def loop_thread() -> threading.Thread:
    return threading.current_thread()


def interrupt_main_thread_after(seconds: float) -> threading.Thread:
    """Send SIGINT (a real signal, like Ctrl-C) to the main thread after ``seconds``."""

    def interrupt() -> None:
        time.sleep(seconds)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    thread = threading.Thread(target=interrupt, name="interrupter", daemon=True)
    thread.start()
    return thread


@pytest.mark.usefixtures("sigint_raises_keyboard_interrupt")
def test_keyboard_interrupt_while_the_call_is_still_queued(runner: LoopThread) -> None:
    """Ctrl-C before the loop took the call: it never starts, and run() returns at once
    instead of waiting out the grace period for a call that is not running."""
    loop = runner.run(running_loop())
    entered: list[bool] = []

    async def body() -> None:
        entered.append(True)

    loop.call_soon_threadsafe(time.sleep, 1.0)  # the loop is busy, so the call stays queued
    interrupter = interrupt_main_thread_after(0.2)
    begun = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.run(body())
    finally:
        interrupter.join(WAIT)
    assert time.monotonic() - begun < 3, "run() waited out the grace period"
    assert runner.run(echo("still usable")) == "still usable"
    assert entered == []
    gc.collect()  # the cancelled coroutine was closed: no "never awaited" warning


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
