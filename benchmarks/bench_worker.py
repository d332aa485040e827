"""One measurement of one peer, in a fresh process of its own.

``python bench_worker.py SPEC_JSON`` opens the peer, warms it up (small responses, so every
connection of the pool is open), then either times ``rounds`` batches (wall time, process
CPU time and the growth of the peak RSS) or, with ``trace``, runs one batch under
``tracemalloc`` and reports its peak. It prints one JSON line. A fresh process per
measurement keeps imports, pools and the peak RSS of one peer out of another's numbers; the
server runs in yet another process, so the CPU time here is the client's alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator

from bench_payloads import SMALL_PROMPT
from bench_peers import ASYNC_PEERS, CALL_TIMEOUT, THREAD_PEERS

Run = Callable[[str, int], int]


@dataclasses.dataclass(frozen=True)
class Spec:
    """What to measure (sent as JSON on the command line)."""

    peer: str
    base_url: str
    prompt: str
    requests: int
    concurrency: int
    warmup: int
    rounds: int
    bytes_per_call: int
    """Decoded image bytes each call must produce (checked)."""
    warmup_bytes_per_call: int
    trace: bool = False


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What one worker reports."""

    walls: list[float] = dataclasses.field(default_factory=list)
    cpus: list[float] = dataclasses.field(default_factory=list)
    rss_growth: int = 0
    """Bytes the peak RSS grew by during the timed rounds."""
    trace_peak: int = 0
    """Peak bytes traced by ``tracemalloc`` during one batch (trace runs only)."""


@contextlib.contextmanager
def _async_runner(spec: Spec) -> Iterator[Run]:
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    peer = ASYNC_PEERS[spec.peer](spec.base_url, spec.concurrency)
    try:
        batch = loop.run_until_complete(stack.enter_async_context(peer))
        try:

            def run(prompt: str, requests: int) -> int:
                timed = asyncio.wait_for(batch(prompt, requests), CALL_TIMEOUT)
                return loop.run_until_complete(timed)

            yield run
        finally:
            loop.run_until_complete(stack.aclose())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@contextlib.contextmanager
def _runner(spec: Spec) -> Iterator[Run]:
    if spec.peer in ASYNC_PEERS:
        with _async_runner(spec) as run:
            yield run
    else:
        with THREAD_PEERS[spec.peer](spec.base_url, spec.concurrency) as batch:
            yield batch


def _check(decoded: int, requests: int, per_call: int) -> None:
    if decoded != requests * per_call:
        raise RuntimeError(f"decoded {decoded} bytes, expected {requests} x {per_call}")


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def measure(spec: Spec) -> Measurement:
    with _runner(spec) as run:
        _check(run(SMALL_PROMPT, spec.warmup), spec.warmup, spec.warmup_bytes_per_call)
        gc.collect()
        if spec.trace:
            tracemalloc.start()
            try:
                _check(run(spec.prompt, spec.requests), spec.requests, spec.bytes_per_call)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            return Measurement(trace_peak=peak)
        walls: list[float] = []
        cpus: list[float] = []
        rss_before = _peak_rss()
        for _ in range(spec.rounds):
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            decoded = run(spec.prompt, spec.requests)
            cpus.append(time.process_time() - cpu)
            walls.append(time.perf_counter() - wall)
            _check(decoded, spec.requests, spec.bytes_per_call)
        return Measurement(walls=walls, cpus=cpus, rss_growth=_peak_rss() - rss_before)


if __name__ == "__main__":
    result = measure(Spec(**json.loads(sys.argv[1])))
    print(json.dumps(dataclasses.asdict(result)))
