"""The Batch API client (``images.batches``): offload many image requests to the provider.

This module owns a job's life: :meth:`AsyncBatches.submit` checks every request as a live
call would, uploads each distinct local image once, writes the JSONL (:mod:`._batch_lines`)
and creates one batch per input file; :meth:`~AsyncBatches.wait` polls until the job ends;
:meth:`~AsyncBatches.outcomes` reads the output and error files line by line into one
:class:`Outcome` per request (its images saved to files as the line arrives, if asked);
:meth:`~AsyncBatches.cancel` stops it. A job is plain data (:class:`BatchJob`) whose ``id``
is all another process needs to pick it up. Every call goes through the client's
:class:`CallSender`: the same retries, timeouts, hooks and errors as an image call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
)
from typing import Any, Protocol, runtime_checkable

import attrs

from ._batch_lines import (
    BatchRequest,
    InvalidFile,
    JsonlPieces,
    SavedOutcome,
    check_batchable,
    check_window,
    checked_id,
    collected_requests,
    file_outcomes,
    index_of,
    job_lines,
    joined_line,
    request_of_line,
    split_lines,
)
from ._config import ClientOptions
from ._errors import ImagesError, InvalidRequestError, NotFoundError
from ._fanout import Outcome
from ._headers import server_requested_wait
from ._prepare import PreparedRequest, prepare_request_value
from ._request_values import EditRequest, GenerateRequest, ImageRequest
from ._response import RawResponse
from ._response_info import validation_error
from ._sending import CallSender
from ._stored_files import AsyncStoredFiles, json_object
from ._stream_saving import checked_directory

#: Statuses after which a batch changes no more.
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
#: How a job whose batches differ reports itself: the first status here that one has.
_STATUS_ORDER = (
    "validating",
    "in_progress",
    "finalizing",
    "cancelling",
    "failed",
    "expired",
    "cancelled",
    "completed",
)
#: The purpose local edit images are uploaded with. Of the spec's purposes, ``vision`` is the
#: one for images (``user_data`` is the catch-all), and it is what the provider's image
#: guides upload edit inputs with.
IMAGE_PURPOSE = "vision"
#: How the pause between polls grows: by half each poll, up to 8 times ``poll_interval`` (and
#: not past a minute unless ``poll_interval`` itself is longer).
_BACKOFF = 1.5
_MAX_POLL_FACTOR = 8
_MAX_POLL_SECONDS = 60.0


@attrs.frozen(kw_only=True)
class BatchRequestCounts:
    """How many requests a job holds, and how many have finished so far."""

    total: int = 0
    """Requests in the job (0 while the provider is still validating the input)."""
    completed: int = 0
    """Requests that ended with a response."""
    failed: int = 0
    """Requests that ended with an error."""

    def __add__(self, other: BatchRequestCounts) -> BatchRequestCounts:
        return BatchRequestCounts(
            total=self.total + other.total,
            completed=self.completed + other.completed,
            failed=self.failed + other.failed,
        )


@attrs.frozen(kw_only=True)
class BatchState:
    """One batch of a job, as the API last described it (the spec's ``Batch``)."""

    id: str
    """The batch's id (``batch_...``)."""
    endpoint: str
    """The endpoint of its every line: ``/v1/images/generations`` or ``/v1/images/edits``."""
    status: str
    """``validating``, ``in_progress``, ``finalizing``, ``completed``, ``failed``,
    ``expired``, ``cancelling`` or ``cancelled``."""
    input_file_id: str
    """The JSONL of its requests."""
    output_file_id: str | None = None
    """The lines that got a response, once there are some."""
    error_file_id: str | None = None
    """The lines that failed, once there are some."""
    request_counts: BatchRequestCounts = BatchRequestCounts()
    """Its requests: total, completed, failed."""
    errors: tuple[str, ...] = ()
    """Why the batch failed (validation errors of its input file), when it did."""


@attrs.frozen(kw_only=True)
class BatchJob:
    """A submitted job: one or more batches (one per endpoint, split at the API's limits).

    A frozen snapshot; :meth:`AsyncBatches.retrieve` or :meth:`AsyncBatches.wait` give a
    newer one.
    """

    batches: tuple[BatchState, ...]
    """Each batch of the job, in the order they were created."""

    @property
    def id(self) -> str:
        """The job's id, which :meth:`AsyncBatches.retrieve` takes, also in another process
        (the batch ids joined by commas; a one-batch job's id is its batch's)."""
        return ",".join(self.batch_ids)

    @property
    def batch_ids(self) -> tuple[str, ...]:
        """The id of each batch of the job."""
        return tuple(batch.id for batch in self.batches)

    @property
    def status(self) -> str:
        """The batches' status when they agree; else the least advanced one (while any
        runs), then ``failed``, ``expired`` or ``cancelled`` before ``completed``."""
        statuses = {batch.status for batch in self.batches}
        return next((s for s in _STATUS_ORDER if s in statuses), min(statuses))

    @property
    def done(self) -> bool:
        """True once every batch has ended (completed, failed, expired or cancelled)."""
        return all(batch.status in TERMINAL_STATUSES for batch in self.batches)

    @property
    def request_counts(self) -> BatchRequestCounts:
        """The counts of all its batches added up."""
        return sum((batch.request_counts for batch in self.batches), BatchRequestCounts())


class BatchTimeoutError(ImagesError, TimeoutError):
    """:meth:`AsyncBatches.wait` gave up before the job ended; the job keeps running."""

    def __init__(self, message: str, *, job: BatchJob) -> None:
        super().__init__(message)
        self.job = job
        """The job as last seen: ``job.id`` picks it up later."""


class BatchNotFinishedError(ImagesError, RuntimeError):
    """:meth:`AsyncBatches.outcomes` was asked for a job still running (``wait`` first)."""


class BatchNotRunError(ImagesError):
    """The batch ended without running this request: it expired, was cancelled or failed."""

    def __init__(self, message: str, *, batch_id: str, batch_status: str) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        """The batch the request was in."""
        self.batch_status = batch_status
        """How the batch ended: ``expired``, ``cancelled``, ``failed`` (or ``completed``
        when its output simply lacks the line)."""


@runtime_checkable
class _BatchesClient(Protocol):
    """What the Batch client needs of :class:`AsyncImages` (named structurally: no import
    upwards)."""

    @property
    def _sender(self) -> CallSender: ...

    @property
    def _options(self) -> ClientOptions: ...

    @property
    def files(self) -> AsyncStoredFiles: ...


@attrs.frozen
class _Submitted:
    """What this client remembers of a job it submitted: the requests as given (so outcomes
    hold the caller's own values), the batch of each, and the images it uploaded."""

    requests: dict[int, tuple[BatchRequest, str]]
    image_file_ids: tuple[str, ...]


class AsyncBatches:
    """``images.batches``: run many generate and edit requests through the Batch API.

    Half the price of live calls and outside the live rate limits, in exchange for latency
    (the provider finishes within ``completion_window``). ``submit`` returns a
    :class:`BatchJob` at once; ``wait`` for it, then read ``outcomes``.
    """

    def __init__(self, images: object, /) -> None:
        """Internal: a client makes its own (``images.batches``)."""
        if not isinstance(images, _BatchesClient):
            raise TypeError(f"{type(self).__name__} is made by AsyncImages, not directly")
        self._images = images
        self._submitted: dict[str, _Submitted] = {}

    async def submit(
        self,
        requests: Iterable[ImageRequest] | AsyncIterable[ImageRequest],
        completion_window: str = "24h",
        metadata: Mapping[str, str] | None = None,
    ) -> BatchJob:
        """Submit ``requests`` (:class:`GenerateRequest` and :class:`EditRequest` values) as
        one job; returns it once its batches are created.

        Every request is checked first, as a live call checks it, and nothing is uploaded
        when one fails (a :class:`VariationRequest` cannot be batched: use ``run_many``).
        Then each distinct local image file of the edits is uploaded once (purpose
        ``vision``) and named by its ``file_id``, the requests are written as JSONL (one file
        per endpoint, split at 50,000 lines or 200 MB), uploaded (purpose ``batch``) and a
        batch is created for each. An outcome's ``index`` is the request's position here.
        """
        values = await collected_requests(requests)
        check_batchable(values)
        check_window(completion_window)
        validate = self._images._options.validate_requests
        uploads: dict[str, tuple[str, bytes, str]] = {}  # content hash -> the file to upload
        hashes: list[list[str]] = []
        for request in values:
            prepared = await prepare_request_value(validate, request)
            digests = []
            for _, upload in prepared.files:
                digest = hashlib.sha256(upload.content).hexdigest()
                uploads.setdefault(digest, (upload.filename, upload.content, upload.content_type))
                digests.append(digest)
            hashes.append(digests)
        file_ids: dict[str, str] = {}
        inputs: list[str] = []
        batches: list[BatchState] = []
        remembered: dict[int, tuple[BatchRequest, str]] = {}
        try:
            for digest, image in uploads.items():
                stored = await self._images.files.upload(image, purpose=IMAGE_PURPOSE)
                file_ids[digest] = stored.id
            uploads.clear()
            lines = job_lines(values, [[file_ids[d] for d in ds] for ds in hashes])
            for number, input_file in enumerate(split_lines(lines)):
                name = f"images-batch-{number}.jsonl"
                uploaded = await self._images.files.upload(
                    (name, input_file.content, "application/jsonl"), purpose="batch"
                )
                inputs.append(uploaded.id)
                body: dict[str, object] = {
                    "input_file_id": uploaded.id,
                    "endpoint": input_file.url,
                    "completion_window": completion_window,
                }
                if metadata is not None:
                    body["metadata"] = dict(metadata)
                state, _ = await self._call("POST", "batches", body)
                batches.append(state)
                remembered.update((i, (values[i], state.id)) for i in input_file.indexes)
        except BaseException:
            # Half a job whose id nobody learns helps no one: cancel and delete what was made.
            await asyncio.shield(self._undo(batches, [*file_ids.values(), *inputs]))
            raise
        job = BatchJob(batches=tuple(batches))
        self._submitted[job.id] = _Submitted(remembered, tuple(file_ids.values()))
        return job

    async def retrieve(self, job_id: str) -> BatchJob:
        """The job ``job_id`` (a :attr:`BatchJob.id`) as it is now, also from a client in
        another process."""
        job, _ = await self._retrieve(job_id)
        return job

    async def wait(
        self,
        job: BatchJob,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        on_progress: Callable[[BatchRequestCounts], object] | None = None,
    ) -> BatchJob:
        """Poll ``job`` until every batch has ended; returns it then.

        The first pause is ``poll_interval`` seconds; it grows by half each poll, up to
        8 times ``poll_interval`` (at most a minute unless ``poll_interval`` is longer), and is
        never shorter than a ``Retry-After`` the API sends. ``on_progress`` gets the
        counts each time they change. After ``timeout`` seconds :class:`BatchTimeoutError`
        is raised. Neither it nor cancelling the wait (Ctrl-C) touches the job: it runs on,
        and ``job.id`` picks it up later.
        """
        if poll_interval <= 0:
            raise InvalidRequestError("poll_interval: must be positive", param="poll_interval")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        longest = max(poll_interval, min(_MAX_POLL_SECONDS, _MAX_POLL_FACTOR * poll_interval))
        pause = poll_interval
        reported: BatchRequestCounts | None = None
        while True:
            job, asked = await self._retrieve(job.id)
            if on_progress is not None and job.request_counts != reported:
                reported = job.request_counts
                on_progress(reported)
            if job.done:
                return job
            wait_for = max(pause, asked or 0.0)
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise BatchTimeoutError(
                        f"batch job {job.id} still {job.status} after {timeout:g}s "
                        "(it keeps running; retrieve it by its id later)",
                        job=job,
                    )
                wait_for = min(wait_for, remaining)
            await asyncio.sleep(wait_for)
            pause = min(pause * _BACKOFF, longest)

    async def cancel(self, job: BatchJob) -> BatchJob:
        """Cancel every batch of ``job`` still running; returns the job as it is then
        (batches move through ``cancelling`` to ``cancelled``, keeping finished lines)."""
        for batch in job.batches:
            if batch.status not in TERMINAL_STATUSES | {"cancelling"}:
                await self._call("POST", f"batches/{checked_id(batch.id)}/cancel")
        return await self.retrieve(job.id)

    async def outcomes(
        self,
        job: BatchJob,
        *,
        cleanup: bool = False,
        save_to: str | os.PathLike[str] | None = None,
    ) -> AsyncGenerator[Outcome[GenerateRequest | EditRequest], None]:
        """Exactly one :class:`Outcome` per submitted request of the ended ``job``, in any
        order; raises :class:`BatchNotFinishedError` while it runs.

        The output and error files are read line by line, never whole. A line's response
        is parsed as a live one; its error is the :class:`APIStatusError` a live call would
        raise (with the line's status, code and request id), or a :class:`BatchLineError`
        when the line has no response; a request the batch never ran (expired, cancelled,
        failed) gets a :class:`BatchNotRunError`. Outcomes hold the submitted requests, or,
        for a job submitted elsewhere, requests rebuilt from its input files (images as
        :class:`FileID` references). ``cleanup=True`` deletes the job's files (input, output,
        error, and the images this client uploaded) once every outcome is read.

        ``save_to`` (an existing directory) saves images as each line arrives, never holding
        a line whole: payloads are decoded in pieces into new files named
        ``request-<index>-1.png``, ``-2``, ... (as ``save_images`` names them: complete
        before named, never replacing a file); each outcome is a :class:`SavedOutcome`
        (``response`` without payloads, ``paths``: none if it failed). A malformed payload
        is the outcome's :class:`ImageDecodeError`, no file of it kept. Lines are capped at
        ``max_response_bytes``, files not (they can be gigabytes); a file cut short raises
        :class:`APIResponseValidationError`, keeping no file of its last line.
        """
        folder = None if save_to is None else checked_directory(save_to)
        job = await self.retrieve(job.id)
        if not job.done:
            raise BatchNotFinishedError(f"batch job {job.id} is {job.status}: wait for it first")
        submitted = self._submitted.get(job.id)
        requests = submitted.requests if submitted else await self._requests_from_inputs(job)
        seen: set[int] = set()
        for batch in job.batches:
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id is None:
                    continue
                async with self._jsonl(file_id) as (pieces, invalid):
                    lines = file_outcomes(
                        pieces,
                        invalid,
                        folder=folder,
                        wanted=lambda index: index in requests and index not in seen,
                        request_for=lambda index: requests[index][0],
                        fetch_url=self._images._sender.download,
                    )
                    async with contextlib.aclosing(lines):
                        async for outcome in lines:  # one per request: repeats are skipped
                            seen.add(outcome.index)
                            yield outcome
        statuses = {batch.id: batch.status for batch in job.batches}
        for index in sorted(requests.keys() - seen):
            request, batch_id = requests[index]
            status = statuses[batch_id]
            error = BatchNotRunError(
                f"request {index} was not run: batch {batch_id} is {status}",
                batch_id=batch_id,
                batch_status=status,
            )
            kind = Outcome if folder is None else SavedOutcome  # one kind per save_to
            yield kind(index=index, request=request, error=error)
        if cleanup:
            await self._clean_up(job, submitted)

    # -- internals -------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> tuple[BatchState, float | None]:
        """One Batch API call answering a ``Batch``, and the wait it asked for, if any."""
        request = PreparedRequest(path=path, method=method, json_body=body)
        raw = await self._images._sender.raw(request)
        return _batch_state(raw), server_requested_wait(raw.headers)

    async def _retrieve(self, job_id: str) -> tuple[BatchJob, float | None]:
        if not isinstance(job_id, str) or not job_id:
            raise InvalidRequestError(f"job_id: must be a job's id, not {job_id!r}", param="job_id")
        states: list[BatchState] = []
        longest: float | None = None
        for batch_id in job_id.split(","):
            state, asked = await self._call("GET", f"batches/{checked_id(batch_id)}")
            states.append(state)
            if asked is not None:
                longest = max(asked, longest or 0.0)
        return BatchJob(batches=tuple(states)), longest

    @contextlib.asynccontextmanager
    async def _jsonl(self, file_id: str) -> AsyncIterator[tuple[JsonlPieces, InvalidFile]]:
        """The lines of a JSONL file as it arrives (each capped at ``max_response_bytes``,
        not the file: an output file can be gigabytes), and the error a bad line raises."""
        path = f"files/{checked_id(file_id)}/content"
        headers = {"Accept": "application/binary"}
        request = PreparedRequest(path=path, method="GET", extra_headers=headers)
        sender = self._images._sender
        response, info = await sender.unread(request)
        invalid = functools.partial(validation_error, info)
        chunks = response.chunks(None, what="the batch file")
        try:
            limit = sender.options.max_response_bytes
            yield JsonlPieces(chunks, max_line_bytes=limit, invalid=invalid), invalid
            response.release()
        finally:
            await chunks.aclose()
            response.close()

    async def _requests_from_inputs(self, job: BatchJob) -> dict[int, tuple[BatchRequest, str]]:
        requests: dict[int, tuple[BatchRequest, str]] = {}
        for batch in job.batches:
            async with self._jsonl(batch.input_file_id) as (pieces, invalid):
                async for line_pieces in pieces.lines():
                    line = await joined_line(line_pieces, invalid)
                    if line is not None and (index := index_of(line.get("custom_id"))) is not None:
                        requests[index] = (request_of_line(line), batch.id)
        return requests

    async def _undo(self, batches: list[BatchState], file_ids: list[str]) -> None:
        """Best effort, for a failed ``submit``: the failure that stopped it is the news."""
        for batch in batches:
            with contextlib.suppress(ImagesError):
                await self._call("POST", f"batches/{checked_id(batch.id)}/cancel")
        for file_id in file_ids:
            with contextlib.suppress(ImagesError):
                await self._images.files.delete(file_id)

    async def _clean_up(self, job: BatchJob, submitted: _Submitted | None) -> None:
        files = [(b.input_file_id, b.output_file_id, b.error_file_id) for b in job.batches]
        for file_id in [*sum(files, ()), *(submitted.image_file_ids if submitted else ())]:
            with contextlib.suppress(NotFoundError):  # already gone: what cleaning up wants
                if file_id is not None:
                    await self._images.files.delete(file_id)


def _batch_state(raw: RawResponse) -> BatchState:
    """The body as a :class:`BatchState`; other fields are ignored."""
    document = json_object(raw)
    strings: dict[str, Any] = {}
    for name in ("id", "endpoint", "status", "input_file_id", "output_file_id", "error_file_id"):
        value = document.get(name)
        optional = name in ("output_file_id", "error_file_id")
        if not isinstance(value, str) and not (optional and value is None):
            message = f"unexpected response body: {name!r} is not a string"
            raise validation_error(raw, message, raw.content)
        strings[name] = value
    counts = document.get("request_counts")
    counts = counts if isinstance(counts, dict) else {}
    errors = document.get("errors")
    error_data = errors.get("data") if isinstance(errors, dict) else None
    known = {k: v for k in ("total", "completed", "failed") if isinstance(v := counts.get(k), int)}
    return BatchState(
        **strings,
        request_counts=BatchRequestCounts(**known),
        errors=tuple(
            str(item.get("message"))
            for item in (error_data if isinstance(error_data, list) else [])
            if isinstance(item, dict)
        ),
    )
