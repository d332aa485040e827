"""``images-async batch FILE.jsonl --out DIR``: a resumable fan-out from a JSON Lines file.

Each input line is one request: a JSON object with an ``endpoint`` (``generate``, ``edit``
or ``variation``; ``generate`` when absent) and that method's parameters; image paths are
relative to the input file. Every finished line is appended to ``DIR/results.jsonl`` and
flushed to disk at once, so a crash or Ctrl-C loses nothing that finished; a record's
``files`` are named relative to ``DIR``. Running the same command again skips the lines
recorded as successful and retries the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from ._async_images import AsyncImages
from ._errors import APIStatusError, ImagesError
from ._fanout import Outcome
from ._output import Progress, save_response
from ._requests import EditRequest, GenerateRequest, ImageRequest, VariationRequest

RESULTS_FILE = "results.jsonl"

_REQUEST_TYPES: Mapping[str, type[GenerateRequest] | type[EditRequest] | type[VariationRequest]]
_REQUEST_TYPES = {
    "generate": GenerateRequest,
    "generations": GenerateRequest,
    "edit": EditRequest,
    "edits": EditRequest,
    "variation": VariationRequest,
    "variations": VariationRequest,
    "create_variation": VariationRequest,
}


class BadLineError(ImagesError, ValueError):
    """An input line that is not a usable request."""


def _resolve_paths(value: Any, base: Path) -> Any:
    """Relative image paths in a line are relative to the input file."""
    if isinstance(value, str):
        return str(base / value)
    if isinstance(value, list):
        return [_resolve_paths(item, base) for item in value]
    return value


def parse_line(text: str, base: Path) -> ImageRequest:
    """The request one input line describes; raises :class:`BadLineError` or
    :class:`InvalidRequestError` (bad parameters, checked at once)."""
    try:
        fields = json.loads(text)
    except ValueError as exc:
        raise BadLineError(f"not valid JSON: {exc}") from None
    if not isinstance(fields, dict):
        raise BadLineError("a line must be a JSON object")
    endpoint = fields.pop("endpoint", "generate")
    request_type = _REQUEST_TYPES.get(endpoint) if isinstance(endpoint, str) else None
    if request_type is None:
        raise BadLineError(f"unknown endpoint {endpoint!r} (generate, edit or variation)")
    for name in ("image", "mask"):
        if name in fields:
            fields[name] = _resolve_paths(fields[name], base)
    known = {field.name for field in attrs.fields(request_type)}
    if unknown := sorted(set(fields) - known):
        raise BadLineError(f"unknown parameter(s) for {endpoint}: {', '.join(unknown)}")
    try:
        return request_type(**fields)
    except TypeError as exc:
        raise BadLineError(str(exc)) from None


def completed_lines(results: Path) -> set[int]:
    """Line numbers whose latest recorded result is a success."""
    done: set[int] = set()
    if not results.exists():
        return done
    with results.open(encoding="utf-8") as file:
        for text in file:
            try:
                record = json.loads(text)
            except ValueError:
                continue  # a line cut short by a crash: that request runs again
            if not isinstance(record, dict) or not isinstance(record.get("line"), int):
                continue
            if record.get("ok"):
                done.add(record["line"])
            else:
                done.discard(record["line"])
    return done


def _error_record(line: int, error: BaseException) -> dict[str, Any]:
    record: dict[str, Any] = {
        "line": line,
        "ok": False,
        "error": str(error),
        "error_type": type(error).__name__,
    }
    if isinstance(error, APIStatusError):
        record.update(status_code=error.status_code, request_id=error.request_id)
    return record


class _ResultLog:
    """Appends one JSON record per finished line and forces it to disk."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file

    @classmethod
    @contextlib.contextmanager
    def appending(cls, results: Path) -> Iterator[_ResultLog]:
        """Open ``results`` for appending, after ending a last line a crash cut short."""
        with results.open("a+b") as probe:
            if probe.tell() > 0:
                probe.seek(-1, os.SEEK_END)
                if probe.read(1) != b"\n":
                    # Otherwise the next record would join the broken line and be lost too.
                    probe.write(b"\n")
        with results.open("a", encoding="utf-8") as file:
            yield cls(file)

    def write(self, record: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())


def _pending(source: Path, done: set[int], log: _ResultLog) -> Iterator[tuple[int, ImageRequest]]:
    """The requests still to run, read lazily; unusable lines are logged as failures."""
    with source.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if number in done or not text.strip():
                continue
            try:
                yield number, parse_line(text, source.parent)
            except ValueError as exc:  # BadLineError and InvalidRequestError alike
                log.write(_error_record(number, exc))


async def _record(
    images: AsyncImages, outcome: Outcome[ImageRequest], line: int, out: Path, log: _ResultLog
) -> bool:
    if outcome.response is None:
        assert outcome.error is not None
        log.write(_error_record(line, outcome.error))
        return False
    response = outcome.response
    try:
        paths = await save_response(images, response, out, f"line-{line:05d}")
    except ImagesError as error:  # a URL that failed to download fails its line only
        log.write(_error_record(line, error))
        return False
    files = [path.name for path in paths]
    log.write({"line": line, "ok": True, "created": response.created, "files": files})
    return True


async def run_batch(
    images: AsyncImages,
    source: Path,
    out: Path,
    *,
    concurrency: int,
    requests_per_minute: float | None = None,
    images_per_minute: float | None = None,
) -> int:
    """Run every pending line of ``source``; returns 0 when all lines have succeeded."""
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    results = out / RESULTS_FILE
    done = completed_lines(results)
    skipped = len(done)
    with source.open(encoding="utf-8") as file:
        total = sum(1 for text in file if text.strip())
    progress = Progress(total - skipped, "batch")
    line_of_index: list[int] = []
    succeeded = 0
    with _ResultLog.appending(results) as log:

        def requests() -> Iterator[ImageRequest]:
            for line, request in _pending(source, done, log):
                line_of_index.append(line)
                yield request

        run = images.run_many(
            requests(),
            concurrency=concurrency,
            requests_per_minute=requests_per_minute,
            images_per_minute=images_per_minute,
        )
        try:
            async with contextlib.aclosing(run) as outcomes:
                async for outcome in outcomes:
                    line = line_of_index[outcome.index]
                    succeeded += await _record(images, outcome, line, out, log)
                    progress.advance()
        finally:
            progress.close()
    not_done = total - len(completed_lines(results))
    print(
        f"batch: {succeeded} succeeded now, {skipped} were done before, {not_done} failed; "
        f"results in {results}"
    )
    return 0 if not_done == 0 else 1
