"""The private event loop a sync facade runs its coroutines on: the one loop thread.

Each :class:`LoopThread` owns one event loop running on one daemon thread. Callers on any
thread hand it a coroutine and block until it finishes, so sync code (including code that is
itself inside another running loop, such as a notebook) never touches an event loop, and
every thread sharing a client shares its connection pool.

The hand-off is built for many threads making small calls: a caller appends its call to a
queue and blocks on a lock of its own; the loop is woken once per batch of queued calls (one
``call_soon_threadsafe``, so one self-pipe write, however many threads submitted meanwhile),
runs each coroutine as a task of its own and releases the caller's lock when the task is
done. There is no wrapper coroutine and no ``concurrent.futures.Future`` per call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

from ._errors import ClientClosedError

_T = TypeVar("_T")

#: How long a Ctrl-C waits for the interrupted request to release its connection.
CANCEL_GRACE_SECONDS = 5.0
#: How long ``close`` waits for in-flight work and the loop thread to finish.
SHUTDOWN_GRACE_SECONDS = 10.0


class _Call(Generic[_T]):
    """One coroutine handed to the loop, and the lock its caller waits on.

    ``done`` is created locked; the loop releases it exactly once, when the task is done or
    when the call is refused without a task (``task`` stays None). A fresh lock per call costs
    no more than reusing one per thread, and a late release (after a caller stopped waiting
    on Ctrl-C) can never wake a later call.
    """

    __slots__ = ("context", "coroutine", "done", "finished", "queued", "task")

    def __init__(self, coroutine: Coroutine[Any, Any, _T]) -> None:
        self.coroutine = coroutine
        # The coroutine runs in a copy of the caller's context variables, as it would when
        # handed over with run_coroutine_threadsafe.
        self.context = contextvars.copy_context()
        self.done = threading.Lock()
        self.done.acquire()
        self.task: asyncio.Task[_T] | None = None
        #: Set (under the loop thread's lock) just before the call joins the queue.
        self.queued = False
        #: Set on the loop thread once ``done`` is released (or about to be).
        self.finished = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop thread: run the coroutine as a task (in the caller's context)."""
        task = self.context.run(loop.create_task, self.coroutine)
        self.task = task
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[_T]) -> None:
        if not task.cancelled():
            # Marks the exception as retrieved: a caller that stopped waiting (Ctrl-C) never
            # reads it, and asyncio would log it when the task is collected.
            task.exception()
        self.finished = True
        self.done.release()

    def refuse(self) -> None:
        """On the loop thread: end a call that never got a task (the client is closing)."""
        if not self.finished:
            self.finished = True
            self.coroutine.close()  # unstarted: closing it avoids "never awaited" at GC
            self.done.release()

    def cancel(self) -> None:
        """On the loop thread: the caller gave up (Ctrl-C); stop the call wherever it is."""
        task = self.task
        if task is None:
            self.refuse()
        else:
            task.cancel()


def _outcome(call: _Call[_T], closed: bool) -> _T:
    """What the finished ``call`` gives its caller: its result, or its exception."""
    task, call.task = call.task, None  # no cycle: exception -> traceback -> call -> task
    if task is None:  # refused: close() came first
        raise ClientClosedError("the client was closed while this call ran")
    if task.cancelled():
        if closed:  # close() on another thread cancelled this call
            raise ClientClosedError("the client was closed while this call ran")
        raise concurrent.futures.CancelledError
    try:
        return task.result()
    finally:
        del task


class LoopThread:
    """An event loop on a daemon thread, started on first use."""

    def __init__(self, name: str = "images-async") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._thread_id: int | None = None
        # Guards the queue, the wake-up flag, starting and closing.
        self._lock = threading.Lock()
        self._closed = False
        self._queue: list[_Call[Any]] = []
        #: True from the moment a caller schedules a wake-up until the loop takes the queue:
        #: while it holds, a new call only needs appending, the loop will see it.
        self._wakeup_scheduled = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def started(self) -> bool:
        """Whether the loop thread was ever started (the first call starts it)."""
        return self._loop is not None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started if needed; call it holding ``self._lock``."""
        if self._closed:
            raise ClientClosedError("this client is closed; create a new one")
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            loop.call_soon(ready.set)
            thread = threading.Thread(
                target=self._serve, args=(loop,), name=self._name, daemon=True
            )
            thread.start()
            ready.wait()
            self._loop, self._thread, self._thread_id = loop, thread, thread.ident
        return self._loop

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop thread's body: run until ``close`` stops it, then refuse what is left."""
        try:
            loop.run_forever()
        finally:
            # Calls queued after the last wake-up ran (close() won the race) still have a
            # caller waiting: end them, so nobody waits forever.
            self._start_queued()
            if self._closed:
                # Closed here, not in close(): close() cannot do it when a finalizer calls it
                # on this very thread, and the loop would be left open (a ResourceWarning).
                loop.close()

    def run(self, awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` on the loop and wait for its result.

        An interrupt while waiting (Ctrl-C) cancels the work, waits briefly for it to unwind
        so its connection is released, and re-raises; the loop stays usable.
        """
        call: _Call[_T] = _Call(awaitable if asyncio.iscoroutine(awaitable) else _await(awaitable))
        try:
            self._submit(call)
            call.done.acquire()
        except BaseException:
            self._give_up(call)
            raise
        return _outcome(call, self._closed)

    def _submit(self, call: _Call[Any]) -> None:
        """Queue ``call``, and wake the loop unless a wake-up is already on its way."""
        with self._lock:
            loop = self._running_loop()
            if threading.get_ident() == self._thread_id:
                raise RuntimeError("a sync client method was called from its own event loop thread")
            call.queued = True
            self._queue.append(call)
            if self._wakeup_scheduled:
                return
            self._wakeup_scheduled = True
        # RuntimeError: the loop was closed meanwhile, and its thread's exit refused the call.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._start_queued)

    def _start_queued(self) -> None:
        """On the loop thread: start every queued call (refuse them once closed)."""
        fresh: list[_Call[Any]] = []  # made before locking: no garbage collection inside
        with self._lock:
            calls, self._queue = self._queue, fresh
            self._wakeup_scheduled = False
            closed = self._closed
        loop = self._loop
        for call in calls:
            if call.finished:  # its caller gave up before it started
                continue
            if closed or loop is None or not loop.is_running():
                call.refuse()
            else:
                call.start(loop)

    def _give_up(self, call: _Call[Any]) -> None:
        """The caller was interrupted: cancel the call and let it unwind for a moment."""
        loop = self._loop
        if not call.queued or loop is None:
            _close_if_unstarted(call.coroutine)  # refused before it was queued
            return
        try:
            loop.call_soon_threadsafe(self._cancel, call)
        except RuntimeError:
            return  # the loop is closed: its thread's exit refused the call
        call.done.acquire(timeout=CANCEL_GRACE_SECONDS)

    def _cancel(self, call: _Call[Any]) -> None:
        """On the loop thread: cancel ``call``, and start what else is queued, since an
        interrupt between queueing and waking the loop may have left no wake-up coming."""
        call.cancel()
        self._start_queued()

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
        with self._lock:
            if self._closed:
                return
            if final is not None:
                self._running_loop()
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


async def _await(awaitable: Awaitable[_T]) -> _T:
    """A coroutine for an awaitable that is not one (a task needs a coroutine)."""
    return await awaitable


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
