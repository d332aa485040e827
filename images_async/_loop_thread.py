"""The private event loop a sync facade runs its coroutines on: the one loop thread.

Each :class:`LoopThread` owns one event loop running on one daemon thread. Callers on any
thread hand it a coroutine and block until it finishes, so sync code (including code that is
itself inside another running loop, such as a notebook) never touches an event loop, and
every thread sharing a client shares its connection pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import TypeVar

from ._errors import ClientClosedError

_T = TypeVar("_T")

#: How long a Ctrl-C waits for the interrupted request to release its connection.
CANCEL_GRACE_SECONDS = 5.0
#: How long ``close`` waits for in-flight work and the loop thread to finish.
SHUTDOWN_GRACE_SECONDS = 10.0


class LoopThread:
    """An event loop on a daemon thread, started on first use."""

    def __init__(self, name: str = "images-async") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def started(self) -> bool:
        """Whether the loop thread was ever started (the first call starts it)."""
        return self._loop is not None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise ClientClosedError("this client is closed; create a new one")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                loop.call_soon(ready.set)
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` on the loop and wait for its result.

        An interrupt while waiting (Ctrl-C) cancels the work, waits briefly for it to unwind
        so its connection is released, and re-raises; the loop stays usable.
        """
        try:
            loop = self._running_loop()
            if threading.current_thread() is self._thread:
                raise RuntimeError("a sync client method was called from its own event loop thread")
        except BaseException:
            _close_if_unstarted(awaitable)  # else "coroutine ... was never awaited" at GC
            raise
        finished = threading.Event()

        async def tracked() -> _T:
            try:
                return await awaitable
            finally:
                finished.set()

        future = asyncio.run_coroutine_threadsafe(tracked(), loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            if self._closed:  # close() on another thread cancelled this call
                raise ClientClosedError("the client was closed while this call ran") from None
            raise
        except BaseException:
            if not future.done():
                future.cancel()
                finished.wait(CANCEL_GRACE_SECONDS)
            raise
        finally:
            # close() on another thread cancels every task, even one that has not taken its
            # first step yet and so never awaited ``awaitable``.
            _close_if_unstarted(awaitable)

    def iterate(self, iterator: AsyncIterator[_T]) -> Generator[_T, None, None]:
        """A sync iterator pulling one item at a time; leaving it early closes ``iterator``."""
        try:
            while True:
                try:
                    item = self.run(iterator.__anext__())
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose: Callable[[], Awaitable[object]] | None = getattr(iterator, "aclose", None)
            if aclose is not None and not self._closed:
                self.run(aclose())

    def close(self, final: Callable[[], Awaitable[object]] | None = None) -> None:
        """Cancel what is still running, await ``final()``, then stop the loop and thread.

        A loop that was never started is started for ``final`` only; without ``final`` it
        is just marked closed.
        """
        if final is not None:
            with contextlib.suppress(ClientClosedError):  # closed meanwhile by another thread
                self._running_loop()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if threading.current_thread() is thread:
            # Called from the loop itself (a finalizer run by garbage collection there):
            # waiting would deadlock, so let the loop finish the shutdown on its own.
            task = loop.create_task(_shutdown(final))
            task.add_done_callback(lambda _: loop.stop())
            return
        if thread.is_alive():
            shutdown = asyncio.run_coroutine_threadsafe(_shutdown(final), loop)
            try:
                shutdown.result(SHUTDOWN_GRACE_SECONDS)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(SHUTDOWN_GRACE_SECONDS)
        if not thread.is_alive():
            loop.close()


def _close_if_unstarted(awaitable: Awaitable[object]) -> None:
    if inspect.iscoroutine(awaitable) and (
        inspect.getcoroutinestate(awaitable) == inspect.CORO_CREATED
    ):
        awaitable.close()


async def _shutdown(final: Callable[[], Awaitable[object]] | None) -> None:
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if final is not None:
        await final()
    await asyncio.get_running_loop().shutdown_asyncgens()
