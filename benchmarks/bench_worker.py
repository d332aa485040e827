"""One measurement of one peer, in a fresh process of its own.

``python bench_worker.py SPEC_JSON`` imports the client (with ``tree`` set, images_async is
imported from that source tree instead of the installed one), opens it, warms it up (so every
connection of the pool is open and lazy imports are done), times ``rounds`` batches (wall
time, process CPU time, growth of the peak RSS), then, if asked, runs one more batch under
``tracemalloc`` and reports its peak. It prints one JSON line: a :class:`Measurement`, or
``{"skipped": reason}`` when the images_async in use lacks an API the peer needs.

A fresh process per measurement keeps imports, pools and the peak RSS of one peer out of
another's numbers; the server runs in yet another process, so the CPU time here is the
client's alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported at run time only once images_async is on the path
    from bench_peers import Setup

Batch = Callable[[str, int], int]
BatchMaker = Callable[[int], AbstractContextManager[Batch]]


@dataclasses.dataclass(frozen=True)
class Spec:
    """What to measure (sent as JSON on the command line)."""

    peer: str
    client: str
    """``aiohttp``, ``images`` or ``openai``."""
    runner: str
    """``tasks`` (gather + Semaphore), ``threads``, ``handoff`` (threads onto one loop
    thread) or ``run-many``."""
    op: str
    base_url: str
    prompt: str
    requests: int
    concurrency: int
    rounds: int
    expected_per_call: int
    """What each call must return (decoded bytes or base64 characters): checked."""
    warmup_prompt: str
    warmup: int
    warmup_expected_per_call: int
    trace_concurrency: int = 0
    """Calls in flight during the traced batch; 0: no traced batch."""
    trace_requests: int = 0
    tree: str = ""
    """A source tree to import images_async from instead of the installed one."""


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What one worker reports."""

    walls: list[float] = dataclasses.field(default_factory=list)
    """Wall seconds of each timed batch."""
    cpus: list[float] = dataclasses.field(default_factory=list)
    """Process CPU seconds (every thread) of each timed batch."""
    rss_growth: int = 0
    """Bytes the peak RSS grew by during the timed rounds."""
    trace_peak: int = 0
    """Peak bytes traced by ``tracemalloc`` during the traced batch (0: none)."""
    skipped: str = ""
    images_async: str = ""
    """Where the images_async in use was imported from."""


def _import_images_async(tree: str) -> str:
    if tree:
        sys.path.insert(0, tree)
    import images_async

    where = str(Path(images_async.__file__).resolve().parent)
    if tree and not where.startswith(str(Path(tree).resolve())):
        raise RuntimeError(f"images_async was imported from {where}, not from {tree}")
    return where


@contextlib.contextmanager
def _async_batches(spec: Spec, setup: Setup) -> Iterator[BatchMaker]:
    from bench_peers import ASYNC_CLIENTS, CALL_TIMEOUT, run_many_images
    from bench_runners import gathered

    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    try:
        if spec.runner == "run-many":
            whole = loop.run_until_complete(stack.enter_async_context(run_many_images(setup)))
        else:
            call = loop.run_until_complete(
                stack.enter_async_context(ASYNC_CLIENTS[spec.client](setup))
            )
        try:

            @contextlib.contextmanager
            def batches(concurrency: int) -> Iterator[Batch]:
                batch = whole if spec.runner == "run-many" else gathered(call, concurrency)

                def run(prompt: str, requests: int) -> int:
                    timed = asyncio.wait_for(batch(prompt, requests), CALL_TIMEOUT)
                    return loop.run_until_complete(timed)

                yield run

            yield batches
        finally:
            loop.run_until_complete(stack.aclose())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@contextlib.contextmanager
def _handoff_batches(spec: Spec, setup: Setup) -> Iterator[BatchMaker]:
    from bench_peers import ASYNC_CLIENTS
    from bench_runners import HandOff, threaded

    handoff = HandOff()
    try:
        stack = contextlib.AsyncExitStack()
        call = handoff.run(stack.enter_async_context(ASYNC_CLIENTS[spec.client](setup)))
        try:
            yield lambda threads: threaded(lambda prompt: handoff.run(call(prompt)), threads)
        finally:
            handoff.run(stack.aclose())
    finally:
        handoff.close()


@contextlib.contextmanager
def _batches(spec: Spec, directory: Path) -> Iterator[BatchMaker]:
    from bench_payloads import upload_png
    from bench_peers import SYNC_CLIENTS, Setup
    from bench_runners import threaded

    setup = Setup(
        base_url=spec.base_url,
        connections=max(spec.concurrency, spec.trace_concurrency),
        op=spec.op,
        upload=upload_png() if spec.op == "edit" else b"",
        directory=directory,
    )
    if spec.runner == "handoff":
        with _handoff_batches(spec, setup) as batches:
            yield batches
    elif spec.runner == "threads":
        with SYNC_CLIENTS[spec.client](setup) as call:
            yield lambda threads: threaded(call, threads)
    else:
        with _async_batches(spec, setup) as batches:
            yield batches


def _check(got: int, requests: int, per_call: int) -> None:
    if got != requests * per_call:
        raise RuntimeError(f"calls returned {got}, expected {requests} x {per_call}")


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def _traced_peak(batches: BatchMaker, spec: Spec) -> int:
    with batches(spec.trace_concurrency) as run:
        gc.collect()
        tracemalloc.start()
        try:
            got = run(spec.prompt, spec.trace_requests)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    _check(got, spec.trace_requests, spec.expected_per_call)
    return peak


def measure(spec: Spec) -> Measurement:
    where = _import_images_async(spec.tree)
    from bench_peers import PeerUnavailable  # only now: it imports images_async

    walls: list[float] = []
    cpus: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as directory, contextlib.ExitStack() as stack:
        try:
            batches = stack.enter_context(_batches(spec, Path(directory)))
        except (PeerUnavailable, ImportError) as missing:
            return Measurement(skipped=str(missing) or type(missing).__name__, images_async=where)
        with batches(spec.concurrency) as run:
            got = run(spec.warmup_prompt, spec.warmup)
            _check(got, spec.warmup, spec.warmup_expected_per_call)
            rss_before = _peak_rss()
            for _ in range(spec.rounds):
                gc.collect()
                wall, cpu = time.perf_counter(), time.process_time()
                got = run(spec.prompt, spec.requests)
                cpus.append(time.process_time() - cpu)
                walls.append(time.perf_counter() - wall)
                _check(got, spec.requests, spec.expected_per_call)
            rss_growth = _peak_rss() - rss_before
        peak = _traced_peak(batches, spec) if spec.trace_concurrency else 0
    return Measurement(
        walls=walls, cpus=cpus, rss_growth=rss_growth, trace_peak=peak, images_async=where
    )


if __name__ == "__main__":
    result = measure(Spec(**json.loads(sys.argv[1])))
    print(json.dumps(dataclasses.asdict(result)))
