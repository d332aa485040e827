"""``images-async batch FILE.jsonl --out DIR``: a resumable fan-out from a JSON Lines file.

Input: each non-blank line is one request, a JSON object with an ``endpoint``
(``generate``, ``edit`` or ``variation``; ``generate`` when absent) and that method's
parameters; image paths are relative to the input file (see ``INPUT_EXAMPLES``).

Results: every finished line gets one record appended to ``DIR/results.jsonl`` and flushed
to disk at once, so a crash or Ctrl-C loses nothing that finished. A record holds the line
number, ``line_sha256`` (the SHA-256 of the line's normalised text: the JSON re-written
with sorted keys and no spaces, or the stripped text when it is not JSON), ``ok``, and
either the ``files`` written (named relative to ``DIR``) or the ``error``. Any failure of
one line (a refused request, an image that cannot be downloaded or decoded, a line that is
no request) becomes that line's failed record; the batch goes on.

Resuming: a line counts as done when its latest record under the same line number *and*
the same hash is a success. Running the command again retries everything else: failed
lines, and lines whose text changed since (or that moved, which shifts their numbers;
re-running a moved line is the price of never skipping a line that was not done).

Files: a line's images are ``line-NNNNN-HHHHHHHH-image-K.EXT`` (line number, the first 8
hex digits of the line's hash, image number from 1). They are downloaded and decoded
first, then written under temporary names and renamed into place together, and only then
recorded: a line has all its files and its record, or none. Because the hash is in the
name, a line edited and run again never overwrites the images of its earlier text; only a
re-run of the very same text (its record lost, or ``results.jsonl`` deleted) replaces its
own files, so re-runs never pile up ``-2`` copies.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeAlias

import attrs

from .. import (
    APIStatusError,
    AsyncImages,
    EditRequest,
    GenerateRequest,
    ImageRequest,
    ImagesError,
    Outcome,
    VariationRequest,
)
from .._endpoints import EndpointName, endpoint_named
from .output import extension_for, replace_files
from .progress import Progress

RESULTS_FILE = "results.jsonl"

#: One input line of each endpoint, as shown by ``images-async batch --help``.
INPUT_EXAMPLES = (
    '{"prompt": "a red kite over the sea", "model": "gpt-image-1", "quality": "low"}',
    '{"endpoint": "edit", "image": "room.png", "mask": "mask.png", "prompt": "add a plant"}',
    '{"endpoint": "variation", "image": "cat.png", "n": 2, "size": "256x256"}',
)

#: The request value a line builds, by the endpoint it names (by name or by alias: see
#: :func:`~images_async._endpoints.endpoint_named`).
REQUEST_TYPES: Mapping[
    EndpointName, type[GenerateRequest] | type[EditRequest] | type[VariationRequest]
] = {"generate": GenerateRequest, "edit": EditRequest, "variation": VariationRequest}

#: A line's identity for resuming: its number and the SHA-256 of its normalised text.
LineKey: TypeAlias = "tuple[int, str]"


class BadLineError(ImagesError, ValueError):
    """An input line that is not a usable request."""


# -- reading lines -------------------------------------------------------------------------


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
    except RecursionError:  # the parser recurses once per level of nesting
        raise BadLineError("not valid JSON: nested too deeply") from None
    if not isinstance(fields, dict):
        raise BadLineError("a line must be a JSON object")
    endpoint = fields.pop("endpoint", "generate")
    named = endpoint_named(endpoint) if isinstance(endpoint, str) else None
    if named is None:
        raise BadLineError(f"unknown endpoint {endpoint!r} (generate, edit or variation)")
    request_type = REQUEST_TYPES[named.name]
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


def line_sha256(text: str) -> str:
    """The SHA-256 (hex) of a line's normalised text, so re-formatting is no edit."""
    try:
        normalised = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    except (ValueError, RecursionError):
        normalised = text.strip()
    # surrogatepass: a lone surrogate in a non-JSON line must not crash the hash.
    return hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()


def line_keys(source: Path) -> list[LineKey]:
    """The key of every non-blank line of ``source``, in order."""
    with source.open(encoding="utf-8") as file:
        return [
            (number, line_sha256(text)) for number, text in enumerate(file, start=1) if text.strip()
        ]


# -- the results file ----------------------------------------------------------------------


def completed_keys(results: Path) -> set[LineKey]:
    """The (line, hash) keys whose latest recorded result is a success."""
    done: set[LineKey] = set()
    if not results.exists():
        return done
    with results.open(encoding="utf-8") as file:
        for text in file:
            try:
                record = json.loads(text)
            except ValueError:
                continue  # a line cut short by a crash: that request runs again
            if not isinstance(record, dict):
                continue
            line, digest = record.get("line"), record.get("line_sha256")
            if not isinstance(line, int) or not isinstance(digest, str):
                continue  # no hash (an older version's record): cannot tell, so run again
            if record.get("ok"):
                done.add((line, digest))
            else:
                done.discard((line, digest))
    return done


def _error_record(key: LineKey, error: BaseException) -> dict[str, Any]:
    record: dict[str, Any] = {
        "line": key[0],
        "line_sha256": key[1],
        "ok": False,
        "error": str(error) or type(error).__name__,
        "error_type": type(error).__name__,
    }
    if isinstance(error, APIStatusError):
        record.update(status_code=error.status_code, request_id=error.request_id)
    return record


class ResultLog:
    """Appends one JSON record per finished line and forces it to disk; with ``echo``, also
    prints each record there as a JSON line."""

    def __init__(self, file: IO[str], echo: IO[str] | None) -> None:
        self._file = file
        self._echo = echo

    @classmethod
    @contextlib.contextmanager
    def appending(cls, results: Path, echo: IO[str] | None) -> Iterator[ResultLog]:
        """Open ``results`` for appending, after ending a last line a crash cut short."""
        with results.open("a+b") as probe:
            if probe.tell() > 0:
                probe.seek(-1, os.SEEK_END)
                if probe.read(1) != b"\n":
                    # Otherwise the next record would join the broken line and be lost too.
                    probe.write(b"\n")
        with results.open("a", encoding="utf-8") as file:
            yield cls(file, echo)

    def write(self, record: Mapping[str, Any]) -> None:
        text = json.dumps(record)
        self._file.write(text + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._echo is not None:
            print(text, file=self._echo, flush=True)


# -- running -------------------------------------------------------------------------------


def _pending(
    source: Path, keys: Mapping[int, str], done: set[LineKey], log: ResultLog, progress: Progress
) -> Iterator[tuple[LineKey, ImageRequest]]:
    """The requests still to run, read lazily; unusable lines are logged as failures (and
    counted as finished, since no outcome will come for them)."""
    with source.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            key = (number, keys.get(number) or line_sha256(text))
            if key in done or not text.strip():
                continue
            try:
                yield key, parse_line(text, source.parent)
            except Exception as exc:  # whatever a line does, it fails that line only
                log.write(_error_record(key, exc))
                progress.advance()


async def finish_line(
    images: AsyncImages, outcome: Outcome[Any], key: LineKey, out: Path, log: ResultLog
) -> bool:
    """Write a line's files and its record (or its failure); returns whether it succeeded."""
    try:
        response = outcome.unwrap()
        if not response.data:
            raise ValueError("the response holds no images")
        contents = [await images.read_image(image) for image in response.data]
        stem = f"line-{key[0]:05d}-{key[1][:8]}"
        names = [
            f"{stem}-image-{number}.{extension_for(response.output_format, content)}"
            for number, content in enumerate(contents, start=1)
        ]
        # No await from here on: Ctrl-C cannot fall between the files and their record.
        paths = replace_files(out, list(zip(names, contents, strict=True)))
    except Exception as error:  # any failure of one line fails that line only
        log.write(_error_record(key, error))
        return False
    record = {"line": key[0], "line_sha256": key[1], "ok": True, "created": response.created}
    log.write({**record, "files": [path.name for path in paths]})
    return True


async def run_batch(
    images: AsyncImages,
    source: Path,
    out: Path,
    *,
    concurrency: int,
    requests_per_minute: float | None = None,
    images_per_minute: float | None = None,
    json_lines: bool = False,
) -> int:
    """Run every pending line of ``source`` into the existing directory ``out``; returns 0
    when all lines have succeeded. ``json_lines`` prints each record on stdout (and the
    summary on stderr)."""
    results = out / RESULTS_FILE
    keys = dict(line_keys(source))
    done = completed_keys(results) & set(keys.items())
    progress = Progress(len(keys) - len(done), "batch")
    key_of_index: list[LineKey] = []
    succeeded = 0
    with ResultLog.appending(results, sys.stdout if json_lines else None) as log:

        def requests() -> Iterator[ImageRequest]:
            for key, request in _pending(source, keys, done, log, progress):
                key_of_index.append(key)
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
                    key = key_of_index[outcome.index]
                    succeeded += await finish_line(images, outcome, key, out, log)
                    progress.advance()
        finally:
            progress.close()
    not_done = len(set(keys.items()) - completed_keys(results))
    print(
        f"batch: {succeeded} succeeded now, {len(done)} were done before, {not_done} failed; "
        f"results in {results}",
        file=sys.stderr if json_lines else sys.stdout,
    )
    return 0 if not_done == 0 else 1
