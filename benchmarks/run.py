"""Benchmark images_async against bare aiohttp and the official openai SDK, as ratios.

``python benchmarks/run.py [--quick] [--only NAME ...] [--requests N]``

A server with precomputed answers runs in a child process on 127.0.0.1 (bench_server.py);
every measurement runs in a fresh child process of its own (bench_worker.py), so the CPU
time and memory it reports belong to one client alone. The tables compare peers measured
in the same run; nothing here asserts a time limit. See README.md for what each number means.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench_payloads import LARGE_PROMPT, SMALL_PROMPT
from bench_server import ServerProcess
from bench_worker import Measurement, Spec

import images_async

WORKER = Path(__file__).with_name("bench_worker.py")
#: A worker that has not finished by then is killed and its row reported as failed.
WORKER_TIMEOUT = 300.0
#: The issue's target: Images from 100 threads vs bare aiohttp, client CPU, small requests.
TARGET_RATIO = 1.6
BASELINE = "aiohttp"
MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Peer:
    name: str
    label: str
    threaded: bool
    sdk: bool = False
    """The official openai SDK (needs the package)."""

    @property
    def sdk_partner(self) -> str:
        """The SDK peer of the same kind (async or threads) this one is compared with."""
        return "openai-threads" if self.threaded else "async-openai"


PEERS = {
    peer.name: peer
    for peer in (
        Peer("aiohttp", "aiohttp, bare", threaded=False),
        Peer("aiohttp-threads", "aiohttp via loop thread", threaded=True),
        Peer("async-images", "AsyncImages", threaded=False),
        Peer("images-threads", "Images", threaded=True),
        Peer("async-openai", "AsyncOpenAI", threaded=False, sdk=True),
        Peer("openai-threads", "OpenAI", threaded=True, sdk=True),
        Peer("run-many", "AsyncImages.run_many", threaded=False),
    )
}
_CLIENT_PEERS = (
    "aiohttp",
    "aiohttp-threads",
    "async-images",
    "images-threads",
    "async-openai",
    "openai-threads",
)


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    title: str
    large: bool
    requests: int
    tasks: int
    """Concurrent calls of async peers."""
    threads: int
    """Threads of sync peers."""
    rounds: int
    """Timed batches per worker process."""
    processes: int
    """Worker processes per peer (their rounds are pooled)."""
    peers: tuple[str, ...]
    trace: bool = False
    """Also measure the tracemalloc peak (in a separate run)."""


@dataclasses.dataclass
class Row:
    """One peer's measurements in one workload: each worker process adds one or two."""

    peer: Peer
    workload: Workload
    timed: list[Measurement] = dataclasses.field(default_factory=list)
    traced: list[Measurement] = dataclasses.field(default_factory=list)
    problem: str = ""

    @property
    def measured(self) -> bool:
        return bool(self.timed) and not self.problem

    @property
    def wall(self) -> float:
        """Median wall time of one batch, over every round of every worker."""
        return statistics.median(wall for timed in self.timed for wall in timed.walls)

    @property
    def cpu(self) -> float:
        """Median client CPU time of one batch, over every round of every worker."""
        return statistics.median(cpu for timed in self.timed for cpu in timed.cpus)

    @property
    def rss_growth(self) -> float:
        return statistics.median(timed.rss_growth for timed in self.timed)

    @property
    def trace_peak(self) -> float:
        if not self.traced:
            return float("nan")
        return statistics.median(traced.trace_peak for traced in self.traced)

    @property
    def concurrency(self) -> int:
        return self.workload.threads if self.peer.threaded else self.workload.tasks


def workloads(quick: bool, requests: int | None) -> list[Workload]:
    small = requests or 500
    large = 50 if quick else 100
    rounds = 5 if quick else 10
    processes = 1 if quick else 3
    return [
        Workload(
            "small",
            f"{small} small generate requests (8x8 PNG)",
            large=False,
            requests=small,
            tasks=50,
            threads=100,
            rounds=rounds,
            processes=processes,
            peers=_CLIENT_PEERS,
        ),
        Workload(
            "large",
            f"{large} large responses (1024x1024 PNG, 1.5 MB of base64), decoded",
            large=True,
            requests=large,
            tasks=10,
            threads=10,
            rounds=2 if quick else 4,
            processes=processes,
            peers=_CLIENT_PEERS,
            trace=True,
        ),
        Workload(
            "fanout",
            f"fan-out of {small} small requests: run_many vs gather + Semaphore",
            large=False,
            requests=small,
            tasks=50,
            threads=50,
            rounds=rounds,
            processes=processes,
            peers=("aiohttp", "async-images", "run-many"),
        ),
    ]


# -- running ---------------------------------------------------------------------------------


def _measure(spec: Spec) -> Measurement:
    command = [sys.executable, "-W", "default", str(WORKER), json.dumps(dataclasses.asdict(spec))]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"no result within {WORKER_TIMEOUT:.0f} s") from None
    if done.returncode != 0 or done.stderr.strip():
        # Warnings count as failures too: every peer must shut down cleanly.
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(lines[-1])
    return Measurement(**json.loads(done.stdout))


def _spec(server: ServerProcess, workload: Workload, peer: Peer) -> Spec:
    concurrency = workload.threads if peer.threaded else workload.tasks
    return Spec(
        peer=peer.name,
        base_url=server.base_url,
        prompt=LARGE_PROMPT if workload.large else SMALL_PROMPT,
        requests=workload.requests,
        concurrency=concurrency,
        warmup=2 * concurrency,
        rounds=workload.rounds,
        bytes_per_call=server.large_size if workload.large else server.small_size,
        warmup_bytes_per_call=server.small_size,
    )


def run_workload(server: ServerProcess, workload: Workload, have_sdk: bool) -> list[Row]:
    """Measure every peer; workers of different peers take turns, so drift hits all alike."""
    rows = [Row(PEERS[name], workload) for name in workload.peers]
    for row in rows:
        if row.peer.sdk and not have_sdk:
            row.problem = "skipped: openai is not installed"
    for turn in range(workload.processes):
        for row in rows:
            if row.problem:
                continue
            print(
                f"  {workload.name} {turn + 1}/{workload.processes}: {row.peer.name}",
                file=sys.stderr,
            )
            spec = _spec(server, workload, row.peer)
            try:
                row.timed.append(_measure(spec))
                if workload.trace:
                    row.traced.append(_measure(dataclasses.replace(spec, trace=True)))
            except RuntimeError as error:
                row.problem = f"failed: {error}"
    return rows


# -- reporting -------------------------------------------------------------------------------


def _ratio(value: float, reference: float) -> str:
    if value != value or reference != reference or reference <= 0:  # NaN: not measured
        return "-"
    return f"{value / reference:.2f}x"


def _by_name(rows: Sequence[Row]) -> dict[str, Row]:
    return {row.peer.name: row for row in rows if row.measured}


def _label(row: Row) -> str:
    label = row.peer.label
    if row.workload.name == "fanout" and row.peer.name != "run-many":
        label += ", gather+Semaphore"
    unit = "threads" if row.peer.threaded else "tasks"
    return f"{label} ({row.concurrency} {unit})"


def table(rows: Sequence[Row]) -> str:
    """A Markdown table of one workload, with ratios against bare aiohttp and the SDK."""
    workload = rows[0].workload
    found = _by_name(rows)
    base = found.get(BASELINE)
    head = ["peer", "wall s", "req/s", "CPU s", "CPU ms/req", "CPU vs aiohttp", "CPU vs SDK"]
    if workload.trace:
        head += ["peak MiB", "RSS +MiB", "mem vs aiohttp", "mem vs SDK"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        if not row.measured:
            lines.append(f"| {_label(row)} | {row.problem} |" + " |" * (len(head) - 2))
            continue
        sdk = found.get(row.peer.sdk_partner)
        cells = [
            _label(row),
            f"{row.wall:.3f}",
            f"{workload.requests / row.wall:,.0f}",
            f"{row.cpu:.3f}",
            f"{1000 * row.cpu / workload.requests:.2f}",
            _ratio(row.cpu, base.cpu if base else float("nan")),
            _ratio(row.cpu, sdk.cpu if sdk else float("nan")),
        ]
        if workload.trace:
            cells += [
                f"{row.trace_peak / MIB:.1f}",
                f"{row.rss_growth / MIB:.1f}",
                _ratio(row.trace_peak, base.trace_peak if base else float("nan")),
                _ratio(row.trace_peak, sdk.trace_peak if sdk else float("nan")),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_line(rows: Sequence[Row]) -> str | None:
    """The issue's target, informational: Images from 100 threads vs bare aiohttp, CPU."""
    found = _by_name(rows)
    images, base = found.get("images-threads"), found.get(BASELINE)
    if images is None or base is None:
        return None
    ratio = images.cpu / base.cpu
    verdict = "PASS" if ratio <= TARGET_RATIO else "ABOVE TARGET"
    line = (
        f"Target: Images ({images.concurrency} threads) client CPU / bare aiohttp "
        f"({base.concurrency} tasks) on {images.workload.requests} small requests = {ratio:.2f}x "
        f"(target <= {TARGET_RATIO}x): {verdict}"
    )
    if (floor := found.get("aiohttp-threads")) is not None:
        line += f"; vs aiohttp via loop thread: {images.cpu / floor.cpu:.2f}x"
    return line


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def header() -> str:
    return (
        f"{datetime.date.today().isoformat()}  Python {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"images_async {images_async.__version__}, aiohttp {_version('aiohttp')}, "
        f"openai {_version('openai')}"
    )


# -- command line ----------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    names = ("small", "large", "fanout", *PEERS)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds and large responses (under a minute)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these workloads and/or peers (repeatable): {', '.join(names)}",
    )
    parser.add_argument(
        "--requests", type=int, metavar="N", help="small and fan-out requests (default 500)"
    )
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(names)
    if unknown:
        parser.error(f"unknown --only name(s): {', '.join(sorted(unknown))}")
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    return args


def _selected(all_workloads: list[Workload], only: Sequence[str]) -> list[Workload]:
    wanted_workloads = {name for name in only if name not in PEERS}
    wanted_peers = {name for name in only if name in PEERS}
    chosen = []
    for workload in all_workloads:
        if wanted_workloads and workload.name not in wanted_workloads:
            continue
        if wanted_peers:  # the baseline always runs: every ratio is relative to it
            peers = tuple(p for p in workload.peers if p in wanted_peers or p == BASELINE)
            workload = dataclasses.replace(workload, peers=peers)
        chosen.append(workload)
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    have_sdk = importlib.util.find_spec("openai") is not None
    chosen = _selected(workloads(args.quick, args.requests), args.only)
    print(header())
    if not have_sdk:
        print("Note: the openai package is not installed; its peers are skipped.")
    all_rows: list[Row] = []
    with ServerProcess() as server:
        print(f"Server: {server.base_url} (separate process)\n", flush=True)
        for workload in chosen:
            rows = run_workload(server, workload, have_sdk)
            all_rows += rows
            print(f"### {workload.title}\n\n{table(rows)}\n", flush=True)
    line = target_line([row for row in all_rows if row.workload.name == "small"])
    if line:
        print(line)
    return 1 if any(row.problem.startswith("failed") for row in all_rows) else 0


if __name__ == "__main__":
    sys.exit(main())
