"""What the benchmark measures: the scenarios, the peers in each, and the targets.

Plain data, no measuring: :func:`scenarios` lists every scenario with its peers (a peer is
one client driven one way, see :class:`Entry`), :func:`with_before` adds the "before" twin
of every images_async peer, and :data:`TARGETS` states the goals the summary checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bench_payloads import (
    BATCH_LINES,
    BATCH_PROMPT,
    EDIT_PROMPT,
    LARGE_PROMPT,
    SAVE_PROMPT,
    SMALL_PROMPT,
)

BASELINE = "aiohttp"
BEFORE = "@before"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One peer in one scenario: a client, how its calls are spread, what each call does."""

    name: str
    label: str
    client: str
    """``aiohttp``, ``images`` (images_async) or ``openai`` (the official SDK)."""
    runner: str
    """``tasks``, ``threads``, ``handoff`` or ``run-many`` (see bench_worker.Spec)."""
    op: str
    """``decode``, ``b64``, ``edit``, ``save``, ``save-streamed``, ``batch-held`` or
    ``batch-saved`` (see bench_peers)."""
    concurrency: int
    """Tasks in flight (async runners) or calling threads."""
    reference: str = BASELINE
    """The peer this one's ratios are taken against, in the same scenario."""
    tree: str = ""
    """Import images_async from this source tree (the "before" variants)."""

    @property
    def spread_label(self) -> str:
        if self.runner in ("threads", "handoff"):
            return f"{self.concurrency} thread{'s' if self.concurrency > 1 else ''}"
        return f"{self.concurrency} task{'s' if self.concurrency > 1 else ''}"


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    body: str
    """Which response the calls get: ``small``, ``large``, ``save`` or ``batch`` (the
    large batch's output file)."""
    prompt: str
    requests: int
    """Calls per timed batch."""
    rounds: int
    """Timed batches per worker process."""
    processes: int
    """Worker processes per peer, taken in turns across peers."""
    entries: tuple[Entry, ...]
    warmup_prompt: str = SMALL_PROMPT
    warmup: int = 0
    """Warm-up calls (0: twice the concurrency)."""
    trace_concurrency: int = 0
    """Calls in flight in the traced batch (0: no tracemalloc measurement)."""
    trace_requests: int = 0
    response_memory: bool = False
    """Report the traced peak per response body (one response in flight)."""


def _aiohttp(op: str, concurrency: int, name: str = BASELINE, label: str = "") -> Entry:
    what = {
        "decode": "read + json.loads + b64decode",
        "b64": "read + json.loads, no decode",
        "edit": "FormData over the bytes",
        "save": "json.loads + b64decode + write",
        "batch-held": "lines split + json.loads + b64decode + write",
    }[op]
    return Entry(name, label or f"bare aiohttp, {what}", "aiohttp", "tasks", op, concurrency)


def _floor(threads: int) -> Entry:
    """Bare aiohttp called from threads through a minimal hand-off: a sync facade's floor."""
    label = "bare aiohttp via a loop-thread hand-off (floor of sync facades)"
    if threads == 1:
        return Entry("aiohttp-1thread", label, "aiohttp", "handoff", "decode", 1, "aiohttp-1task")
    return Entry("aiohttp-threads", label, "aiohttp", "handoff", "decode", threads)


def _images_decode(tasks: int, threads: int) -> list[Entry]:
    return [
        Entry("async-images", "AsyncImages, image.decode()", "images", "tasks", "decode", tasks),
        Entry("images-threads", "Images, image.decode()", "images", "threads", "decode", threads),
    ]


def _sdk_peers(op: str, concurrency: int, threads: int) -> list[Entry]:
    return [
        Entry("async-openai", "AsyncOpenAI", "openai", "tasks", op, concurrency),
        Entry("openai-threads", "OpenAI", "openai", "threads", op, threads),
    ]


def scenarios(quick: bool, requests: int | None = None) -> list[Scenario]:
    small = requests or 500
    processes = 1 if quick else 3
    # One calling thread makes one call at a time: its like-for-like reference is bare
    # aiohttp making one call at a time (the targets still divide by the 50-task batch).
    images_1thread = Entry(
        "images-1thread",
        "Images, image.decode()",
        "images",
        "threads",
        "decode",
        1,
        reference="aiohttp-1task",
    )
    return [
        Scenario(
            "small",
            f"small calls: {small} generations of an 8x8 PNG (latency-bound)",
            body="small",
            prompt=SMALL_PROMPT,
            requests=small,
            rounds=5 if quick else 10,
            processes=processes,
            entries=(
                _aiohttp("decode", 50),
                _floor(100),
                *_images_decode(50, 100),
                _aiohttp(
                    "decode", 1, name="aiohttp-1task", label="bare aiohttp, one call at a time"
                ),
                _floor(1),
                images_1thread,
                *_sdk_peers("decode", 50, 100),
            ),
        ),
        Scenario(
            "large",
            f"large responses: {50 if quick else 100} generations of 1.5 MB of base64 each",
            body="large",
            prompt=LARGE_PROMPT,
            requests=50 if quick else 100,
            rounds=2 if quick else 4,
            processes=processes,
            entries=(
                _aiohttp("decode", 10),
                _aiohttp("b64", 10, name="aiohttp-json"),
                *_images_decode(10, 10),
                Entry(
                    "async-images-b64",
                    "AsyncImages, image.b64_json",
                    "images",
                    "tasks",
                    "b64",
                    10,
                    reference="aiohttp-json",
                ),
                *_sdk_peers("decode", 10, 10),
            ),
            trace_concurrency=1,
            trace_requests=3,
            response_memory=True,
        ),
        Scenario(
            "upload",
            f"uploads: {32 if quick else 64} edits of a 3.5 MB PNG, 16 in flight",
            body="small",
            prompt=EDIT_PROMPT,
            requests=32 if quick else 64,
            rounds=2 if quick else 4,
            processes=processes,
            entries=(
                _aiohttp("edit", 16),
                Entry("async-images", "AsyncImages.edit", "images", "tasks", "edit", 16),
                Entry("images-threads", "Images.edit", "images", "threads", "edit", 16),
                *_sdk_peers("edit", 16, 16),
            ),
            warmup_prompt=EDIT_PROMPT,
            warmup=16,
            trace_concurrency=16,
            trace_requests=16,
        ),
        Scenario(
            "save",
            "saving 10 x 8 MB: one response of n=10 images, each written to a file",
            body="save",
            prompt=SAVE_PROMPT,
            requests=1,
            rounds=2 if quick else 3,
            processes=processes,
            entries=(
                _aiohttp("save", 1),
                Entry("async-images", "AsyncImages.save_image", "images", "tasks", "save", 1),
                Entry("images-1thread", "Images.save_image", "images", "threads", "save", 1),
                Entry(
                    "async-openai", "AsyncOpenAI + b64decode + write", "openai", "tasks", "save", 1
                ),
            ),
            warmup=1,
            trace_concurrency=1,
            trace_requests=1,
            response_memory=True,
        ),
        Scenario(
            "save-streamed",
            "saving 10 x 8 MB straight to disk: save_images as the body arrives, vs in memory",
            body="save",
            prompt=SAVE_PROMPT,
            requests=1,
            rounds=2 if quick else 3,
            processes=processes,
            entries=(
                _aiohttp("save", 1),
                Entry("async-images", "AsyncImages.save_image", "images", "tasks", "save", 1),
                Entry(
                    "async-images-streamed",
                    "StreamedResponse.save_images",
                    "images",
                    "tasks",
                    "save-streamed",
                    1,
                    reference="async-images",
                ),
                Entry(
                    "images-1thread-streamed",
                    "SyncStreamedResponse.save_images",
                    "images",
                    "threads",
                    "save-streamed",
                    1,
                    reference="async-images",
                ),
            ),
            warmup=1,
            trace_concurrency=1,
            trace_requests=1,
            response_memory=True,
        ),
        Scenario(
            "batch-save",
            f"batch output to disk: {BATCH_LINES} lines x 1.5 MB of base64, saved as read",
            body="batch",
            prompt=BATCH_PROMPT,
            requests=1,
            rounds=2 if quick else 3,
            processes=processes,
            entries=(
                _aiohttp("batch-held", 1),
                Entry(
                    "async-images",
                    "batches.outcomes + save_image, in memory",
                    "images",
                    "tasks",
                    "batch-held",
                    1,
                ),
                Entry(
                    "async-images-batch-saved",
                    "batches.outcomes(save_to=...)",
                    "images",
                    "tasks",
                    "batch-saved",
                    1,
                    reference="async-images",
                ),
            ),
            warmup=1,
        ),
        Scenario(
            "fanout",
            f"fan-out: {small} small calls, run_many against gather + Semaphore",
            body="small",
            prompt=SMALL_PROMPT,
            requests=small,
            rounds=5 if quick else 10,
            processes=processes,
            entries=(
                _aiohttp("decode", 50, label="bare aiohttp, gather+Semaphore"),
                Entry(
                    "async-images", "AsyncImages, gather+Semaphore", "images", "tasks", "decode", 50
                ),
                Entry("run-many", "AsyncImages.run_many", "images", "run-many", "decode", 50),
            ),
        ),
    ]


def with_before(scenario: Scenario, tree: str) -> Scenario:
    """The scenario with a twin of every images_async peer that imports it from ``tree``."""
    entries: list[Entry] = []
    for entry in scenario.entries:
        entries.append(entry)
        if entry.client == "images":
            entries.append(
                dataclasses.replace(
                    entry, name=entry.name + BEFORE, label=entry.label + " (before)", tree=tree
                )
            )
    return dataclasses.replace(scenario, entries=tuple(entries))


def selected(all_scenarios: Sequence[Scenario], only: Sequence[str]) -> list[Scenario]:
    """The scenarios and peers named in ``only`` (all when empty).

    The references of the chosen peers, and bare aiohttp (every target divides by it),
    always run with them.
    """
    names = {scenario.name for scenario in all_scenarios}
    wanted_scenarios = {name for name in only if name in names}
    wanted_peers = {name for name in only if name not in names}
    chosen = []
    for scenario in all_scenarios:
        if wanted_scenarios and scenario.name not in wanted_scenarios:
            continue
        if wanted_peers:
            keep = {e.name for e in scenario.entries if e.name.removesuffix(BEFORE) in wanted_peers}
            if not keep:
                continue
            keep |= {e.reference for e in scenario.entries if e.name in keep} | {BASELINE}
            entries = tuple(e for e in scenario.entries if e.name in keep)
            scenario = dataclasses.replace(scenario, entries=entries)
        chosen.append(scenario)
    return chosen


def peer_names(all_scenarios: Sequence[Scenario]) -> list[str]:
    return sorted({entry.name for scenario in all_scenarios for entry in scenario.entries})


@dataclasses.dataclass(frozen=True)
class Target:
    """A goal: ``metric`` of ``peer`` (against ``reference``) at most ``limit``."""

    text: str
    scenario: str
    peer: str
    reference: str
    metric: str
    """``cpu``: client CPU ratio; ``peak``: tracemalloc peak ratio; ``peak/body``: traced
    peak per response body; ``ms``: cold-start milliseconds more than the reference;
    ``rss``: MiB the process's peak RSS grew by over its timed rounds."""
    limit: float


TARGETS = (
    Target(
        "uploads: AsyncImages CPU vs bare aiohttp", "upload", "async-images", BASELINE, "cpu", 1.1
    ),
    Target(
        "uploads: AsyncImages peak vs bare aiohttp", "upload", "async-images", BASELINE, "peak", 1.0
    ),
    Target(
        "large: AsyncImages decode() CPU vs aiohttp read+json+b64decode",
        "large",
        "async-images",
        BASELINE,
        "cpu",
        0.45,
    ),
    Target(
        "large: AsyncImages b64_json CPU vs aiohttp json.loads only",
        "large",
        "async-images-b64",
        "aiohttp-json",
        "cpu",
        0.6,
    ),
    Target("large: AsyncImages traced peak / body", "large", "async-images", "", "peak/body", 1.2),
    Target(
        "small: Images (100 threads) CPU vs bare aiohttp",
        "small",
        "images-threads",
        BASELINE,
        "cpu",
        2.0,
    ),
    Target(
        "small: Images (1 thread) CPU vs bare aiohttp",
        "small",
        "images-1thread",
        BASELINE,
        "cpu",
        1.5,
    ),
    Target(
        "save to disk: save_images peak RSS growth",
        "save-streamed",
        "async-images-streamed",
        "",
        "rss",
        32.0,
    ),
    Target(
        "save to disk: sync save_images peak RSS growth",
        "save-streamed",
        "images-1thread-streamed",
        "",
        "rss",
        32.0,
    ),
    Target(
        "save to disk: save_images CPU vs save_image in memory",
        "save-streamed",
        "async-images-streamed",
        "async-images",
        "cpu",
        1.0,
    ),
    Target(
        "batch output to disk: outcomes(save_to) peak RSS growth",
        "batch-save",
        "async-images-batch-saved",
        "",
        "rss",
        32.0,
    ),
    Target(
        "batch output to disk: outcomes(save_to) CPU vs outcomes + save_image",
        "batch-save",
        "async-images-batch-saved",
        "async-images",
        "cpu",
        1.0,
    ),
    Target(
        "cold start: images_async ms more than aiohttp",
        "cold",
        "images_async",
        "aiohttp",
        "ms",
        25.0,
    ),
)
