"""The JSONL of the Batch API: request values into input lines, output lines into outcomes.

This module owns the two line formats and nothing that sends. An input line
(``BatchRequestInput``) is ``{"custom_id", "method", "url", "body"}``, its ``body`` exactly
the JSON a live call sends; the ``custom_id`` is ``request-<index>``, the request's position
in what was submitted, so any output line names the request it answers. :func:`split_lines`
cuts the lines into files the API takes (one endpoint each, at most 50,000 lines and
200 MB). An output line (``BatchRequestOutput``) carries a ``response`` (status, request id,
body) or an ``error``; :func:`line_outcome` turns it into the :class:`Outcome` a live call
would have given, or with its images saved to files as the line is read
(:func:`saved_line_outcome`, over the pieces of :class:`JsonlPieces`: a line is never held
whole). :func:`request_of_line` rebuilds a request value from an input line, for a
process that knows a job only by its id.
"""

from __future__ import annotations

import json
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any

import attrs
from multidict import CIMultiDict

from ._converter import parse_images_response, parse_images_skeleton
from ._endpoints import ENDPOINTS
from ._errors import APIError, ImagesError, InvalidRequestError
from ._errors import status_error as _status_error
from ._fanout import Outcome, RequestT_co
from ._files import as_image_list
from ._image_refs import FileID, Reference, as_reference, reference_json
from ._payload_split import payload_marker
from ._request_values import (
    EditRequest,
    GenerateRequest,
    ImageRequest,
    RequestOptions,
    VariationRequest,
    request_arguments,
)
from ._stream_saving import FetchURL, PayloadSaver

#: The most lines one batch input file may hold (``CreateBatchRequest.input_file_id``).
MAX_LINES_PER_FILE = 50_000
#: The largest batch input file, in bytes (200 MB).
MAX_BYTES_PER_FILE = 200 * 1024 * 1024
#: The batch endpoint of each request value kind: the ``url`` of its lines.
GENERATIONS_URL = f"/v1/{ENDPOINTS['generate'].path}"
EDITS_URL = f"/v1/{ENDPOINTS['edit'].path}"
_CUSTOM_ID_PREFIX = "request-"
#: Fields of a request value that shape the HTTP call; a batch line has no place for them.
_CALL_OPTIONS = ("extra_headers", "extra_query", "extra_body", "timeout", "max_retries")


class BatchLineError(APIError):
    """A batch line failed without an HTTP response (the error file's ``error`` object):
    for instance a line the Batch API found invalid, or one that expired unrun."""

    def __init__(self, message: str, *, code: str | None, custom_id: str | None) -> None:
        super().__init__(message)
        self.code = code
        """The error's ``code`` (``batch_expired``, ``invalid_request``...), if given."""
        self.custom_id = custom_id
        """The line's ``custom_id``."""

    def __str__(self) -> str:
        code = f" code={self.code}" if self.code else ""
        return f"{self.message}{code} custom_id={self.custom_id}"


def custom_id(index: int) -> str:
    """The ``custom_id`` of the request at ``index``."""
    return f"{_CUSTOM_ID_PREFIX}{index}"


def index_of(custom: object) -> int | None:
    """The request index a ``custom_id`` names; None when it is not one of ours."""
    if not isinstance(custom, str) or not custom.startswith(_CUSTOM_ID_PREFIX):
        return None
    digits = custom[len(_CUSTOM_ID_PREFIX) :]
    return int(digits) if digits.isdigit() else None


def line_body(request: GenerateRequest | EditRequest, file_ids: Sequence[str]) -> dict[str, Any]:
    """The JSON body a live call of ``request`` sends, each local image file (the images,
    then the mask) replaced by the ``file_id`` its upload got, in ``file_ids``."""
    arguments = request_arguments(request)
    extra_body = arguments.get("extra_body") or {}
    params = {k: v for k, v in arguments.items() if k not in (*_CALL_OPTIONS, "image", "mask")}
    if isinstance(request, GenerateRequest):
        return {**params, **extra_body}
    uploaded = iter(file_ids)
    inputs = [*as_image_list(request.image), *([] if request.mask is None else [request.mask])]
    references = [as_reference(item, "image") or FileID(next(uploaded)) for item in inputs]
    body: dict[str, Any] = {"images": [reference_json(ref) for ref in references]}
    if request.mask is not None:
        body["images"].pop()
        body["mask"] = reference_json(references[-1])
    return {**body, **params, **extra_body}


def input_line(index: int, url: str, body: Mapping[str, Any]) -> bytes:
    """One ``BatchRequestInput`` line, newline included."""
    line = {"custom_id": custom_id(index), "method": "POST", "url": url, "body": body}
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


@attrs.frozen(kw_only=True)
class InputFile:
    """The lines of one batch: its endpoint, its JSONL, and the requests it holds."""

    url: str
    content: bytes = attrs.field(repr=lambda content: f"<{len(content)} bytes>")
    indexes: tuple[int, ...]


def split_lines(
    lines: Iterable[tuple[int, str, bytes]],
    *,
    max_lines: int = MAX_LINES_PER_FILE,
    max_bytes: int = MAX_BYTES_PER_FILE,
) -> Iterator[InputFile]:
    """``(index, url, line)`` grouped into input files: one endpoint each, within limits."""
    pending: dict[str, tuple[list[bytes], list[int], int]] = {}
    for index, url, line in lines:
        if len(line) > max_bytes:
            raise ValueError(f"request {index}: its batch line alone is over {max_bytes} bytes")
        chunks, indexes, size = pending.setdefault(url, ([], [], 0))
        if len(indexes) >= max_lines or size + len(line) > max_bytes:
            yield InputFile(url=url, content=b"".join(chunks), indexes=tuple(indexes))
            chunks, indexes, size = [], [], 0
        chunks.append(line)
        indexes.append(index)
        pending[url] = (chunks, indexes, size + len(line))
    for url, (chunks, indexes, _) in pending.items():
        yield InputFile(url=url, content=b"".join(chunks), indexes=tuple(indexes))


#: A request the Batch API runs.
BatchRequest = GenerateRequest | EditRequest


async def collected_requests(
    requests: Iterable[ImageRequest] | AsyncIterable[ImageRequest],
) -> list[BatchRequest]:
    """The requests as a list (checked by :func:`check_batchable`, not here)."""
    if isinstance(requests, AsyncIterable):
        values: list[Any] = [request async for request in requests]
    else:
        values = list(requests)
    return values


def check_batchable(values: list[Any]) -> None:
    """Every value a generate or edit request; refused before anything is read or sent."""
    if not values:
        raise InvalidRequestError("requests: a batch job needs at least one request")
    for index, value in enumerate(values):
        if isinstance(value, VariationRequest):
            raise InvalidRequestError(
                f"requests[{index}]: the Batch API does not run image variations; send "
                "VariationRequest values live with run_many",
                param="requests",
            )
        if not isinstance(value, (GenerateRequest, EditRequest)):
            raise TypeError(
                f"requests[{index}]: expected a GenerateRequest or EditRequest, "
                f"not {type(value).__name__}"
            )
        if isinstance(value, EditRequest) and value.model == "dall-e-2":
            # A batch line names its images by file id: the JSON form of an edit, which
            # only GPT image models take.
            raise InvalidRequestError(
                f"requests[{index}]: a batched edit is sent as JSON, which dall-e-2 cannot "
                "edit from; use a GPT image model, or edit with dall-e-2 live (run_many)",
                param="requests",
            )
        if value.extra_headers or value.extra_query:
            raise InvalidRequestError(
                f"requests[{index}]: a batch line has no headers or query: leave "
                "extra_headers and extra_query unset",
                param="requests",
            )


def job_lines(
    values: Sequence[GenerateRequest | EditRequest], image_file_ids: Sequence[Sequence[str]]
) -> Iterator[tuple[int, str, bytes]]:
    """Each request's index, endpoint URL and JSONL line, its edit images named by the
    ``image_file_ids`` of the same position."""
    for index, (request, file_ids) in enumerate(zip(values, image_file_ids, strict=True)):
        body = line_body(request, file_ids)
        url = GENERATIONS_URL if isinstance(request, GenerateRequest) else EDITS_URL
        yield index, url, input_line(index, url, body)


def check_window(completion_window: object) -> None:
    """``completion_window``: a non-empty string (new windows pass through to the service)."""
    if not isinstance(completion_window, str) or not completion_window:
        raise InvalidRequestError(
            f"completion_window: must be a string such as '24h', not {completion_window!r}",
            param="completion_window",
        )


def checked_id(batch_id: str) -> str:
    """A batch or file id, which becomes one segment of a URL path."""
    if not batch_id or "/" in batch_id or batch_id in (".", ".."):
        raise InvalidRequestError(f"job_id: {batch_id!r} is not a batch id", param="job_id")
    return batch_id


def request_of_line(line: Mapping[str, Any]) -> GenerateRequest | EditRequest:
    """The request value an input line was written from; images come back as references."""
    body = dict(line.get("body") or {})
    if line.get("url") == EDITS_URL:
        images = [_reference_of(item) for item in body.pop("images", [])]
        mask = body.pop("mask", None)
        known = _known_fields(EditRequest, body)
        return EditRequest(
            image=images[0] if len(images) == 1 else images,
            mask=None if mask is None else _reference_of(mask),
            **known,
        )
    return GenerateRequest(**_known_fields(GenerateRequest, body))


def _reference_of(item: object) -> Reference:
    reference = as_reference(item, "image")
    if reference is None:  # pragma: no cover - the lines were written by line_body
        raise ValueError(f"not an image reference: {item!r}")
    return reference


def _known_fields(kind: type[RequestOptions], body: dict[str, Any]) -> dict[str, Any]:
    """The body's fields the request value names, and the rest as its ``extra_body``."""
    names = {field.name for field in attrs.fields(kind)} - set(_CALL_OPTIONS) - {"image", "mask"}
    known = {name: value for name, value in body.items() if name in names}
    extra = {name: value for name, value in body.items() if name not in names}
    return {**known, **({"extra_body": extra} if extra else {})}


def line_error(line: Mapping[str, Any]) -> APIError | None:
    """The error an output (or error) line carries; None when it holds a 2xx response."""
    response = line.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("status_code"), int):
        status = response["status_code"]
        if 200 <= status < 300:
            return None
        headers: CIMultiDict[str] = CIMultiDict()
        if isinstance(request_id := response.get("request_id"), str):
            headers["x-request-id"] = request_id
        return _status_error(status, headers=headers, body=response.get("body"))
    error = line.get("error")
    details = error if isinstance(error, Mapping) else {}
    code = details.get("code")
    return BatchLineError(
        str(details.get("message") or "the batch line failed without a response"),
        code=None if code is None else str(code),
        custom_id=str(line.get("custom_id")),
    )


def _not_images(line: Mapping[str, Any], problem: ValueError) -> BatchLineError:
    return BatchLineError(
        f"the line's response is not an images response: {problem}",
        code="invalid_response",
        custom_id=str(line.get("custom_id")),
    )


def line_outcome(
    line: Mapping[str, Any], index: int, request_for: Callable[[int], Any]
) -> Outcome[Any]:
    """The outcome an output (or error) line gives the request at ``index``."""
    request = request_for(index)
    error = line_error(line)
    if error is None:
        try:
            parsed = parse_images_response(json.dumps(line["response"].get("body")).encode())
        except ValueError as problem:
            error = _not_images(line, problem)
        else:
            return Outcome(index=index, request=request, response=parsed)
    return Outcome(index=index, request=request, error=error)


# -- reading output files ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SavedOutcome(Outcome[RequestT_co]):
    """An :class:`Outcome` of ``outcomes(job, save_to=...)``: the images were saved to
    files as the output line was read. ``response`` holds no payloads (every image's
    ``b64_payload`` is None) and ``paths`` names the files; a failed one has ``error`` and
    no paths."""

    paths: tuple[Path, ...] = ()
    """The files written, one per image of ``response.data``, in the same order."""


#: Makes the error for a file that is not JSONL (a truncated one): (message, its start).
InvalidFile = Callable[[str, bytes], Exception]


class JsonlPieces:
    """A JSONL file cut into lines as its chunks arrive, each line handed out in pieces
    (never joined here), each at most ``max_line_bytes``: the file itself has no cap."""

    def __init__(
        self, chunks: AsyncIterator[bytes], *, max_line_bytes: int, invalid: InvalidFile
    ) -> None:
        self._chunks = chunks
        self._rest = b""
        self._ended = False
        self._max_line_bytes = max_line_bytes
        self._invalid = invalid

    async def lines(self) -> AsyncGenerator[AsyncIterator[bytes], None]:
        """Each line, as pieces; what the caller leaves unread of one is skipped."""
        while not self._ended or self._rest:
            pieces = self._pieces()
            yield pieces
            async for _ in pieces:
                pass

    async def _pieces(self) -> AsyncGenerator[bytes, None]:
        size = 0
        while True:
            if self._rest:
                chunk, self._rest = self._rest, b""
            elif (next_chunk := await anext(self._chunks, None)) is None:
                self._ended = True
                return
            else:
                chunk = next_chunk
            newline = chunk.find(b"\n")
            piece = chunk if newline < 0 else chunk[:newline]
            size += len(piece)
            if size > self._max_line_bytes:
                message = f"a line of the batch file is larger than {self._max_line_bytes} bytes"
                raise self._invalid(message, b"")
            if newline >= 0:
                self._rest = chunk[newline + 1 :]
            if piece:
                yield piece
            if newline >= 0:
                return


async def joined_line(pieces: AsyncIterator[bytes], invalid: InvalidFile) -> dict[str, Any] | None:
    """The JSON object of a line, read whole; None for a blank line or another value."""
    text = b"".join([piece async for piece in pieces])
    return _line_object(text, invalid)


def _line_object(text: bytes, invalid: InvalidFile) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        line = json.loads(text)
    except ValueError:
        raise invalid(
            "a line of the batch file is not JSON (is the file cut short?)", text
        ) from None
    return line if isinstance(line, dict) else None


async def saved_line_outcome(
    pieces: AsyncIterator[bytes],
    directory: Path,
    *,
    wanted: Callable[[int], bool],
    request_for: Callable[[int], Any],
    fetch_url: FetchURL | None,
    invalid: InvalidFile,
) -> Outcome[Any] | None:
    """The :class:`SavedOutcome` of an output line whose images go to new files as it
    arrives, named ``request-<index>-1.png``, ...; None for a line not ``wanted`` (or blank).

    The line is never held whole: its payloads are decoded in pieces into temporary files,
    named only once the line has parsed. A line that does not parse (a file cut short)
    raises ``invalid(...)``; a failed line, or a malformed payload, is an outcome's error.
    Either way, and when cancelled, no file of the line is left.
    """
    saver = PayloadSaver(directory, "request")
    failed = True
    try:
        line = _line_object(await saver.receive(pieces, past_bad_payload=True), invalid)
        index = None if line is None else index_of(line.get("custom_id"))
        if line is None or index is None or not wanted(index):
            return None
        error: Exception | None = line_error(line) or saver.decode_error
        if error is None:
            try:
                body = json.dumps(line["response"].get("body")).encode()
                response, payloads = parse_images_skeleton(body, payload_marker)
                saver.check_cut(payloads)
            except ValueError as problem:
                error = _not_images(line, problem)
        if error is not None:
            return SavedOutcome(index=index, request=request_for(index), error=error)
        try:
            saved = await saver.place(response, payloads, custom_id(index), fetch_url)
        except (ImagesError, OSError) as problem:  # an image without a payload, a failed
            # download, a full disk: this request's outcome, not the end of the others'
            return SavedOutcome(index=index, request=request_for(index), error=problem)
        failed = False
        return SavedOutcome(
            index=index, request=request_for(index), response=saved.response, paths=saved.paths
        )
    finally:
        saver.clean_up(failed)


async def file_outcomes(
    pieces: JsonlPieces,
    invalid: InvalidFile,
    *,
    folder: Path | None,
    wanted: Callable[[int], bool],
    request_for: Callable[[int], Any],
    fetch_url: FetchURL | None,
) -> AsyncGenerator[Outcome[Any], None]:
    """The outcome of each ``wanted`` line of an output or error file; with ``folder``,
    images saved there as each line is read (:func:`saved_line_outcome`), else held."""
    async for line_pieces in pieces.lines():
        if folder is not None:
            outcome = await saved_line_outcome(
                line_pieces,
                folder,
                wanted=wanted,
                request_for=request_for,
                fetch_url=fetch_url,
                invalid=invalid,
            )
        elif (
            (line := await joined_line(line_pieces, invalid)) is None
            or (index := index_of(line.get("custom_id"))) is None
            or not wanted(index)
        ):
            continue
        else:
            outcome = line_outcome(line, index, request_for)
        if outcome is not None:
            yield outcome
