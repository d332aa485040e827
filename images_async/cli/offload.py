"""``images-async batch FILE.jsonl --offload --out DIR``: the same lines, run by the Batch API.

The lines are read and checked as the live ``batch`` reads them (:func:`.batch.parse_line`),
and every line still pending in ``DIR/results.jsonl`` goes into one job
(``images.batches.submit``); a line the Batch API cannot run (a variation, a line that is
no request) stops the command before anything is uploaded. The job's id is written into
``DIR/offload-job.json`` (atomically) *before* the wait starts, so Ctrl-C, a crash or a
closed laptop never loses it: the job keeps running at the provider, and the same command
picks it up again (retrieve and wait, never a second submit). The state file also holds a
hash of the input's lines: a different input in the same ``DIR`` is refused (exit 2)
rather than mixed up with the job's results.

Once the job has ended, each outcome is saved exactly as the live ``batch`` saves a line
(:func:`.batch.finish_line`: the same file names and ``results.jsonl`` records), so a later
live run or ``--status`` reads them. ``--status DIR`` and ``--cancel DIR`` act on the job
the state file names.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from .. import AsyncImages, BatchJob, BatchRequestCounts, ImagesError, VariationRequest
from .._saving import OutputError, write_atomically
from .batch import (
    RESULTS_FILE,
    BadLineError,
    LineKey,
    ResultLog,
    completed_keys,
    finish_line,
    line_keys,
    parse_line,
)
from .progress import Progress

#: The file in ``DIR`` that names the offloaded job.
STATE_FILE = "offload-job.json"


class OffloadStateError(ImagesError, ValueError):
    """``DIR`` holds a job for another input: a usage error (exit status 2)."""


@attrs.frozen(kw_only=True)
class OffloadState:
    """What ``DIR/offload-job.json`` keeps of a submitted job."""

    job_id: str
    """The :attr:`BatchJob.id` to retrieve the job by."""
    input_sha256: str
    """The hash of the input's lines (:func:`input_sha256`) the job was submitted for."""
    lines: tuple[LineKey, ...]
    """The key of each submitted line, by the request's index in the job."""
    saved: bool = False
    """True once every outcome has been saved into ``DIR``."""


def input_sha256(keys: Sequence[LineKey]) -> str:
    """One hash of every line's number and hash: equal exactly when the same lines stand on
    the same line numbers."""
    text = "\n".join(f"{number}:{digest}" for number, digest in keys)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def read_state(out: Path) -> OffloadState | None:
    """The state file of ``out``, or None when there is none."""
    path = out / STATE_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return OffloadState(
            job_id=str(document["job_id"]),
            input_sha256=str(document["input_sha256"]),
            lines=tuple((int(line), str(digest)) for line, digest in document["lines"]),
            saved=bool(document.get("saved", False)),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        message = f"cannot read {path}: not a state file this command wrote ({exc})"
        raise OutputError(message) from None


def write_state(out: Path, state: OffloadState) -> None:
    """Replace the state file of ``out`` as one step: readers see the old one or the new."""
    document = {**attrs.asdict(state), "lines": [list(key) for key in state.lines]}
    write_atomically(out / STATE_FILE, json.dumps(document).encode())


def describe(job: BatchJob) -> str:
    """One line: the job's id, status and counts."""
    counts = job.request_counts
    return (
        f"job {job.id}: {job.status}, {counts.completed + counts.failed} of {counts.total} "
        f"requests done ({counts.failed} failed)"
    )


# -- submitting ----------------------------------------------------------------------------


def _pending_requests(source: Path, done: set[LineKey]) -> Iterator[tuple[LineKey, Any]]:
    """Every line not yet done, as a request the Batch API can run; the first line that is
    not one raises, naming it, before anything is uploaded."""
    keys = dict(line_keys(source))
    with source.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if not text.strip() or (number, keys[number]) in done:
                continue
            try:
                request = parse_line(text, source.parent)
            except ImagesError as exc:
                raise BadLineError(f"{source}, line {number}: {exc}") from None
            if isinstance(request, VariationRequest):
                raise BadLineError(
                    f"{source}, line {number}: the Batch API does not run variations; "
                    "run this file without --offload"
                )
            yield (number, keys[number]), request


async def _submit(images: AsyncImages, source: Path, out: Path, digest: str) -> OffloadState:
    done = completed_keys(out / RESULTS_FILE)
    pending = list(_pending_requests(source, done))
    if not pending:
        raise BadLineError(f"{source}: no line left to run (all done in {out / RESULTS_FILE})")
    job = await images.batches.submit([request for _, request in pending])
    state = OffloadState(job_id=job.id, input_sha256=digest, lines=tuple(k for k, _ in pending))
    write_state(out, state)
    return state


# -- waiting and saving --------------------------------------------------------------------


class _CountsShown:
    """The job's progress: a bar when ``Progress`` can show one, else a line per change."""

    def __init__(self, total: int, messages: IO[str]) -> None:
        self._bar = Progress(total, "offload")
        self._total = total
        self._messages = messages
        self._done = 0

    def __call__(self, counts: BatchRequestCounts) -> None:
        done = counts.completed + counts.failed
        total = counts.total or self._total  # 0 while the provider validates the input
        if self._bar.shown:
            for _ in range(max(0, done - self._done)):
                self._bar.advance()
        else:
            print(
                f"offload: {done} of {total} requests done ({counts.failed} failed)",
                file=self._messages,
                flush=True,
            )
        self._done = max(done, self._done)

    def close(self) -> None:
        self._bar.close()


async def _wait(
    images: AsyncImages, state: OffloadState, out: Path, poll_interval: float, messages: IO[str]
) -> BatchJob:
    shown = _CountsShown(len(state.lines), messages)
    try:
        job = await images.batches.retrieve(state.job_id)
        return await images.batches.wait(job, poll_interval=poll_interval, on_progress=shown)
    except (asyncio.CancelledError, KeyboardInterrupt):
        shown.close()  # the bar first, so the message below stands on a line of its own
        # The job runs on at the provider: say how to come back to it.
        print(
            f"batch job {state.job_id} keeps running: run the same command again to pick it "
            f"up and save its results (images-async batch --status {out} shows its progress)",
            file=sys.stderr,
            flush=True,
        )
        raise
    finally:
        shown.close()


async def _save(
    images: AsyncImages, job: BatchJob, state: OffloadState, out: Path, log: ResultLog
) -> int:
    """Save every outcome of the ended ``job``; returns how many succeeded."""
    succeeded = 0
    async with contextlib.aclosing(images.batches.outcomes(job)) as outcomes:
        async for outcome in outcomes:
            if 0 <= outcome.index < len(state.lines):
                succeeded += await finish_line(
                    images, outcome, state.lines[outcome.index], out, log
                )
    return succeeded


async def run_offload(
    images: AsyncImages,
    source: Path,
    out: Path,
    *,
    poll_interval: float,
    json_lines: bool = False,
) -> int:
    """Submit the pending lines of ``source`` as one Batch API job (or pick up the job
    ``out`` names), wait for it and save its outcomes into ``out``; returns 0 when every
    line has succeeded."""
    messages = sys.stderr if json_lines else sys.stdout
    keys = line_keys(source)
    digest = input_sha256(keys)
    state = read_state(out)
    if state is not None and state.input_sha256 != digest:
        raise OffloadStateError(
            f"{out} holds batch job {state.job_id} of another input (the lines of {source} "
            f"differ); use another --out, or remove {out / STATE_FILE} to submit anew"
        )
    if state is None:
        state = await _submit(images, source, out, digest)
        print(f"submitted batch job {state.job_id} ({len(state.lines)} requests)", file=messages)
    elif not state.saved:
        print(f"picking up batch job {state.job_id}", file=messages)
    if not state.saved:
        job = await _wait(images, state, out, poll_interval, messages)
        print(describe(job), file=messages)
        results = out / RESULTS_FILE
        with ResultLog.appending(results, sys.stdout if json_lines else None) as log:
            succeeded = await _save(images, job, state, out, log)
        write_state(out, attrs.evolve(state, saved=True))
        print(f"offload: {succeeded} of {len(state.lines)} requests succeeded", file=messages)
    else:
        print(f"batch job {state.job_id} was saved before", file=messages)
    not_done = len(set(keys) - completed_keys(out / RESULTS_FILE))
    print(f"batch: {not_done} line(s) not done; results in {out / RESULTS_FILE}", file=messages)
    return 0 if not_done == 0 else 1


def _state_of(out: Path) -> OffloadState:
    state = read_state(out)
    if state is None:
        raise OutputError(f"no offloaded batch job in {out} (no {STATE_FILE})")
    return state


async def show_status(images: AsyncImages, out: Path) -> int:
    """``--status DIR``: print the job's status and counts (it changes nothing)."""
    state = _state_of(out)
    job = await images.batches.retrieve(state.job_id)
    saved = "; its results are saved" if state.saved else ""
    print(f"{describe(job)}{saved}")
    return 0


async def cancel_job(images: AsyncImages, out: Path) -> int:
    """``--cancel DIR``: cancel the job; a later ``--offload`` run saves what it finished."""
    state = _state_of(out)
    job = await images.batches.cancel(await images.batches.retrieve(state.job_id))
    print(describe(job))
    return 0
