"""The Batch API on the emulator: creating, following, cancelling and listing batches.

This module owns what each Batches call answers, from values the server has already read
(``POST /batches``, ``GET /batches/{batch_id}``, ``POST /batches/{batch_id}/cancel``,
``GET /batches`` with ``after`` and ``limit``), the batches of one emulator
(:class:`StoredBatch`, described on the wire as the spec's ``Batch``), and the work of each
batch: one asyncio task that moves it ``validating → in_progress → finalizing →
completed``. While validating, the task reads the input file (:mod:`._batch_lines`; a bad
file fails the batch with ``errors``); then it runs the lines one by one through the
emulator's own image handling (given as ``run_line``, so each line is validated and drawn
like a live call), at the pace of :class:`~._config.EmulatorConfig`; at the end it writes
the output file (lines that succeeded) and the error file (lines that did not) to the
:class:`~._file_store.FileStore` with purpose ``batch_output``. The live page reads the
newest batches as copies (:meth:`Batches.newest`).

A cancel moves the batch to ``cancelling``; the task stops before its next line and the
batch becomes ``cancelled``, with the lines run so far in its files (the others are left
out). A batch still running when its window (``EmulatorConfig.batch_window``) closes
becomes ``expired``: the lines run so far are in its files, and each line it never ran is in
the error file with the error ``batch_expired``, as the service does. :meth:`Batches.close`
cancels every task and waits for it, so an emulator closes without pending tasks.

Departures: only the image endpoints run (others are refused with 400 when the batch is
created); ``usage`` is not reported; lines run one at a time.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

import attrs

from ._batch_lines import (
    BATCHABLE_ENDPOINTS,
    BatchLine,
    LineResult,
    expired_line,
    read_batch_lines,
    result_line,
)
from ._bodies import UNPARSEABLE_JSON, RequestBody
from ._config import EmulatorConfig
from ._file_store import FileStore
from ._responses import APIError, PlannedResponse, bad_request, json_answer, list_page

__all__ = ["BatchCall", "Batches", "StoredBatch", "batch_object"]

#: Runs one line's body on an image endpoint (``generate`` or ``edit``) like a live call.
LineRunner = Callable[[str, dict[str, object]], Awaitable[LineResult]]
#: Sleeps for some seconds (and wakes up early when the emulator closes).
Pause = Callable[[float], Awaitable[None]]

# The endpoints the spec lets a batch name; those the emulator cannot run answer 400 too.
_SPEC_ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
_CREATE_FIELDS = frozenset(
    {"input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"}
)
_REQUIRED_FIELDS = ("input_file_id", "endpoint", "completion_window")
_WINDOW_SECONDS = 24 * 3600
_ACTIVE = frozenset({"validating", "in_progress", "finalizing"})
_MAX_LIST_LIMIT = 100
_DEFAULT_LIST_LIMIT = 20
_MAX_METADATA_PAIRS, _MAX_METADATA_KEY, _MAX_METADATA_VALUE = 16, 64, 512
_MIN_EXPIRY, _MAX_EXPIRY = 3600, 2_592_000


@attrs.define(kw_only=True)
class StoredBatch:
    """One batch as the emulator keeps it; its task updates it as the work goes on."""

    id: str
    endpoint: str
    input_file_id: str
    metadata: dict[str, str] | None
    created_at: int
    expires_at: int
    status: str = "validating"
    times: dict[str, int] = attrs.field(factory=dict)
    """When each later status was reached: ``in_progress_at``, ``completed_at``..."""
    counts: dict[str, int] = attrs.field(factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    errors: list[dict[str, object]] | None = None
    model: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    output_expires_after: int | None = None
    """Seconds the output and error files live (None: kept until deleted)."""
    cancel_requested: bool = False


def batch_object(batch: StoredBatch) -> dict[str, object]:
    """``batch`` as the API describes it (a ``Batch``); fields not set yet are left out."""
    described: dict[str, object] = {
        "id": batch.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "input_file_id": batch.input_file_id,
        "completion_window": "24h",
        "status": batch.status,
        "created_at": batch.created_at,
        "expires_at": batch.expires_at,
        **batch.times,
        "request_counts": dict(batch.counts),
        "metadata": batch.metadata,
    }
    optional = {
        "model": batch.model,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
    }
    described.update({name: value for name, value in optional.items() if value is not None})
    if batch.errors is not None:
        described["errors"] = {"object": "list", "data": batch.errors}
    return described


@attrs.frozen(kw_only=True)
class BatchCall:
    """What the server read of one Batches call."""

    body: RequestBody
    batch_id: str
    """The ``{batch_id}`` of the path ("" when the path has none)."""
    query: Mapping[str, str]
    config: EmulatorConfig


class Batches:
    """The batches of one emulator, the answers to the Batches calls, and the work of each."""

    def __init__(self, files: FileStore, *, run_line: LineRunner, pause: Pause) -> None:
        self._files = files
        self._run_line = run_line
        self._pause = pause
        self._batches: dict[str, StoredBatch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[tuple[str, str, Callable[[BatchCall], PlannedResponse]]]:
        """(method, path under the API root, answer) of each Batches call."""
        return [
            ("POST", "/batches", self.create),
            ("GET", "/batches", lambda call: self.listing(call.query)),
            ("GET", "/batches/{batch_id}", lambda call: self.retrieve(call.batch_id)),
            ("POST", "/batches/{batch_id}/cancel", lambda call: self.cancel(call.batch_id)),
        ]

    async def close(self) -> None:
        """Stop every batch's work and wait until each task has ended."""
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the calls -------------------------------------------------------------------------

    def create(self, call: BatchCall) -> PlannedResponse:
        """``POST /batches``: check the request, keep the batch and start its work."""
        fields = _create_fields(call.body)
        endpoint = fields["endpoint"]
        input_file = self._files.get(str(fields["input_file_id"]))
        if input_file is None:
            raise APIError(
                404, f"No such File object: {fields['input_file_id']}", param="input_file_id"
            )
        if input_file.purpose != "batch":
            raise bad_request(
                f"The input file {input_file.id} has purpose {input_file.purpose!r}; a batch "
                "needs a file uploaded with purpose 'batch'.",
                "input_file_id",
                "invalid_value",
            )
        created_at = int(time.time())
        batch = StoredBatch(
            id=f"batch_{uuid.uuid4().hex}",
            endpoint=str(endpoint),
            input_file_id=input_file.id,
            metadata=_metadata(fields.get("metadata")),
            created_at=created_at,
            expires_at=created_at + _WINDOW_SECONDS,
            output_expires_after=_output_expiry(fields.get("output_expires_after")),
        )
        self._batches[batch.id] = batch
        task = asyncio.get_running_loop().create_task(self._work(batch, call.config))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return json_answer(batch_object(batch))

    def retrieve(self, batch_id: str) -> PlannedResponse:
        """``GET /batches/{batch_id}``: the batch as it stands now."""
        return json_answer(batch_object(self._require(batch_id)))

    def cancel(self, batch_id: str) -> PlannedResponse:
        """``POST /batches/{batch_id}/cancel``: ask a running batch to stop (409 when done)."""
        batch = self._require(batch_id)
        if batch.status in _ACTIVE:
            batch.cancel_requested = True
            batch.status = "cancelling"
            batch.times["cancelling_at"] = int(time.time())
        elif batch.status != "cancelling":
            raise APIError(
                409, f"Cannot cancel a batch with status {batch.status!r}.", code="invalid_state"
            )
        return json_answer(batch_object(batch))

    def listing(self, query: Mapping[str, str]) -> PlannedResponse:
        """``GET /batches``: a page of batches, newest first."""
        if unknown := sorted(set(query) - {"after", "limit"}):
            raise bad_request(
                f"Unknown parameter: '{unknown[0]}'.", unknown[0], "unknown_parameter"
            )
        newest_first = list(reversed(self._batches.values()))
        page, has_more = list_page(
            newest_first,
            query,
            noun="batch",
            default_limit=_DEFAULT_LIST_LIMIT,
            max_limit=_MAX_LIST_LIMIT,
        )
        document: dict[str, object] = {
            "object": "list",
            "data": [batch_object(b) for b in page],
            "has_more": has_more,
        }
        if page:
            document.update(first_id=page[0].id, last_id=page[-1].id)
        return json_answer(document)

    def newest(self, limit: int) -> list[dict[str, object]]:
        """The ``limit`` newest batches as the API describes them, newest first (copies:
        a read-only view, for the live page)."""
        newest = itertools.islice(reversed(self._batches.values()), limit)
        return [batch_object(batch) for batch in newest]

    def _require(self, batch_id: str) -> StoredBatch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise APIError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        return batch

    # -- the work of a batch ---------------------------------------------------------------

    async def _work(self, batch: StoredBatch, config: EmulatorConfig) -> None:
        try:
            await self._run(batch, config)
        except APIError as error:  # the files could not be stored (the store is full)
            self._fail(batch, "file_store_error", str(error))
        except Exception as error:
            # A bug must show as a failed batch, not as a task whose exception nobody reads.
            self._fail(batch, "server_error", f"The emulator failed: {error!r}")

    async def _run(self, batch: StoredBatch, config: EmulatorConfig) -> None:
        deadline = time.monotonic() + config.batch_window
        await self._pause(config.batch_step_delay)
        if batch.cancel_requested:
            await self._stop(batch, config, [], [], "cancelled")
            return
        lines, errors = self._read_input(batch)
        if errors:
            batch.errors = errors
            self._set_status(batch, "failed")
            return
        batch.counts["total"] = len(lines)
        model = lines[0].body.get("model")
        batch.model = model if isinstance(model, str) else None
        self._set_status(batch, "in_progress")
        endpoint = BATCHABLE_ENDPOINTS[batch.endpoint]
        interval = 1 / config.batch_lines_per_second if config.batch_lines_per_second else 0.0
        succeeded: list[bytes] = []
        failed: list[bytes] = []
        for index, line in enumerate(lines):
            if batch.cancel_requested:
                break
            if time.monotonic() >= deadline:
                failed += [expired_line(unrun) for unrun in lines[index:]]
                await self._stop(batch, config, succeeded, failed, "expired")
                return
            result = await self._run_line(endpoint, line.body)
            if result.status == 200:
                succeeded.append(result_line(line, result))
                batch.counts["completed"] += 1
            else:
                failed.append(result_line(line, result))
                batch.counts["failed"] += 1
            await self._pause(interval)
        if not batch.cancel_requested:
            self._set_status(batch, "finalizing")
        await self._stop(
            batch, config, succeeded, failed, "cancelled" if batch.cancel_requested else "completed"
        )

    def _read_input(self, batch: StoredBatch) -> tuple[list[BatchLine], list[dict[str, object]]]:
        stored = self._files.get(batch.input_file_id)
        if stored is None:
            message = f"The input file {batch.input_file_id} was deleted or has expired."
            return [], [{"code": "invalid_file", "message": message, "param": None, "line": None}]
        return read_batch_lines(stored.content, batch.endpoint)

    async def _stop(
        self,
        batch: StoredBatch,
        config: EmulatorConfig,
        succeeded: list[bytes],
        failed: list[bytes],
        status: str,
    ) -> None:
        """Write the result files after a last step, then set the final ``status``."""
        if status != "expired":
            await self._pause(config.batch_step_delay)
        if batch.cancel_requested and status == "completed":
            status = "cancelled"  # a cancel that arrived while finalizing
        batch.output_file_id = self._write(batch, config, "output", succeeded)
        batch.error_file_id = self._write(batch, config, "error", failed)
        self._set_status(batch, status)

    def _write(
        self, batch: StoredBatch, config: EmulatorConfig, kind: str, lines: list[bytes]
    ) -> str | None:
        if not lines:
            return None
        stored = self._files.add(
            filename=f"{batch.id}_{kind}.jsonl",
            purpose="batch_output",
            content=b"".join(lines),
            expires_after=batch.output_expires_after,
            max_file_bytes=config.max_file_bytes,
            max_stored_bytes=config.max_stored_file_bytes,
        )
        return stored.id

    def _fail(self, batch: StoredBatch, code: str, message: str) -> None:
        batch.errors = [{"code": code, "message": message, "param": None, "line": None}]
        self._set_status(batch, "failed")

    @staticmethod
    def _set_status(batch: StoredBatch, status: str) -> None:
        batch.status = status
        batch.times[f"{status}_at"] = int(time.time())


# --- checking a create request ----------------------------------------------------------------


def _create_fields(body: RequestBody) -> dict[str, object]:
    if body.failure is not None:
        raise body.failure
    if body.kind != "json" or not isinstance(body.document, dict):
        raise bad_request(UNPARSEABLE_JSON)
    fields: dict[str, object] = body.document
    if unknown := sorted(set(fields) - _CREATE_FIELDS):
        raise bad_request(f"Unknown parameter: '{unknown[0]}'.", unknown[0], "unknown_parameter")
    for name in _REQUIRED_FIELDS:
        if name not in fields:
            raise bad_request(
                f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
            )
        if not isinstance(fields[name], str):
            raise bad_request(
                f"Invalid type for '{name}': expected a string.", name, "invalid_type"
            )
    endpoint = fields["endpoint"]
    if endpoint not in BATCHABLE_ENDPOINTS:
        supported = _SPEC_ENDPOINTS if endpoint not in _SPEC_ENDPOINTS else BATCHABLE_ENDPOINTS
        what = "" if endpoint not in _SPEC_ENDPOINTS else " (the emulator runs image batches only)"
        raise bad_request(
            f"Invalid value: {endpoint!r}{what}. Supported values are: {', '.join(supported)}.",
            "endpoint",
            "invalid_value",
        )
    if fields["completion_window"] != "24h":
        raise bad_request(
            f"Invalid value: {fields['completion_window']!r}. Supported values are: 24h.",
            "completion_window",
            "invalid_value",
        )
    return fields


def _metadata(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > _MAX_METADATA_PAIRS:
        raise bad_request(
            f"Invalid 'metadata': expected an object of at most {_MAX_METADATA_PAIRS} pairs.",
            "metadata",
            "invalid_value",
        )
    for key, text in value.items():
        if len(key) > _MAX_METADATA_KEY or not isinstance(text, str):
            raise bad_request(
                f"Invalid 'metadata': keys have at most {_MAX_METADATA_KEY} characters and "
                "values are strings.",
                f"metadata.{key}",
                "invalid_value",
            )
        if len(text) > _MAX_METADATA_VALUE:
            raise bad_request(
                f"Invalid 'metadata': a value has at most {_MAX_METADATA_VALUE} characters.",
                f"metadata.{key}",
                "invalid_value",
            )
    return dict(value)


def _output_expiry(value: object) -> int | None:
    if value is None:
        return None
    seconds = value.get("seconds") if isinstance(value, dict) else None
    if (
        not isinstance(value, dict)
        or set(value) != {"anchor", "seconds"}
        or value["anchor"] != "created_at"
        or not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not _MIN_EXPIRY <= seconds <= _MAX_EXPIRY
    ):
        raise bad_request(
            'Invalid \'output_expires_after\': expected {"anchor": "created_at", "seconds": '
            f"{_MIN_EXPIRY} to {_MAX_EXPIRY}}}.",
            "output_expires_after",
            "invalid_value",
        )
    return seconds
