"""The JSONL of the Batch API: request values into input lines, output lines into outcomes.

This module owns the two line formats and nothing that sends. An input line
(``BatchRequestInput``) is ``{"custom_id", "method", "url", "body"}``, its ``body`` exactly
the JSON a live call sends; the ``custom_id`` is ``request-<index>``, the request's position
in what was submitted, so any output line names the request it answers. :func:`split_lines`
cuts the lines into files the API takes (one endpoint each, at most 50,000 lines and
200 MB). An output line (``BatchRequestOutput``) carries a ``response`` (status, request id,
body) or an ``error``; :func:`line_outcome` turns it into the :class:`Outcome` a live call
would have given. :func:`request_of_line` rebuilds a request value from an input line, for a
process that knows a job only by its id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
from multidict import CIMultiDict

from ._converter import parse_images_response
from ._endpoints import ENDPOINTS
from ._errors import APIError
from ._errors import status_error as _status_error
from ._fanout import Outcome
from ._files import as_image_list
from ._image_refs import FileID, Reference, as_reference, reference_json
from ._request_values import EditRequest, GenerateRequest, RequestOptions, request_arguments

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


def line_outcome(
    line: Mapping[str, Any], index: int, request_for: Callable[[int], Any]
) -> Outcome[Any]:
    """The outcome an output (or error) line gives the request at ``index``."""
    request = request_for(index)
    response = line.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("status_code"), int):
        status = response["status_code"]
        body = response.get("body")
        request_id = response.get("request_id")
        if 200 <= status < 300:
            try:
                parsed = parse_images_response(json.dumps(body).encode())
            except ValueError as problem:
                unparsed = BatchLineError(
                    f"the line's response is not an images response: {problem}",
                    code="invalid_response",
                    custom_id=str(line.get("custom_id")),
                )
                return Outcome(index=index, request=request, error=unparsed)
            return Outcome(index=index, request=request, response=parsed)
        headers: CIMultiDict[str] = CIMultiDict()
        if isinstance(request_id, str):
            headers["x-request-id"] = request_id
        return Outcome(
            index=index, request=request, error=_status_error(status, headers=headers, body=body)
        )
    error = line.get("error")
    details = error if isinstance(error, Mapping) else {}
    message = str(details.get("message") or "the batch line failed without a response")
    code = details.get("code")
    return Outcome(
        index=index,
        request=request,
        error=BatchLineError(
            message,
            code=None if code is None else str(code),
            custom_id=str(line.get("custom_id")),
        ),
    )
