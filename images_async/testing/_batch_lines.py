"""The JSONL of the Batch API on the emulator: reading an input file, writing result lines.

This module owns the two line formats. An input file is read into :class:`BatchLine`\\s and
checked line by line as the service checks it while a batch is ``validating``: each line a
JSON object with a string ``custom_id`` (unique in the file), ``method`` ``POST``, ``url``
equal to the batch's endpoint and an object ``body``, and nothing else; at most
:data:`MAX_BATCH_LINES` lines. Problems come back as the ``errors`` entries of a failed batch
(``{"code", "message", "param", "line"}``, lines counted from 1), all of them, not only the
first. What a line's body asks for is not checked here: the line runs like a live call,
and a refusal is that line's 400 in the error file.

Result lines (:func:`result_line`) have the service's shape:
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``, with
``response`` null and ``error`` set for a line the batch never ran (it expired first).
Plain data: nothing here touches aiohttp.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

import attrs

from ._responses import encode_json

__all__ = [
    "BATCHABLE_ENDPOINTS",
    "MAX_BATCH_LINES",
    "BatchLine",
    "LineResult",
    "expired_line",
    "read_batch_lines",
    "result_line",
]

#: The endpoints a batch may name that the emulator runs, with the image endpoint of each.
BATCHABLE_ENDPOINTS: Mapping[str, str] = {
    "/v1/images/generations": "generate",
    "/v1/images/edits": "edit",
}
#: The most requests one input file may hold (the service's limit).
MAX_BATCH_LINES = 50_000
_LINE_FIELDS = frozenset({"custom_id", "method", "url", "body"})


@attrs.frozen(kw_only=True)
class BatchLine:
    """One request of an input file, checked for shape only."""

    number: int
    """Its line number in the file, from 1."""
    custom_id: str
    body: dict[str, object]


@attrs.frozen(kw_only=True)
class LineResult:
    """How one line ran: the status, request id and JSON body a live call would have had."""

    status: int
    request_id: str
    body: object


def _error(
    code: str, message: str, line: int | None, param: str | None = None
) -> dict[str, object]:
    return {"code": code, "message": message, "param": param, "line": line}


def read_batch_lines(
    content: bytes, endpoint: str
) -> tuple[list[BatchLine], list[dict[str, object]]]:
    """The requests of an input file for a batch on ``endpoint``, and the errors that fail it.

    The batch can run only when the error list is empty.
    """
    errors: list[dict[str, object]] = []
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return [], [_error("invalid_file", "The input file is not valid UTF-8 text.", None)]
    rows = text.splitlines()
    if not rows:
        return [], [_error("empty_file", "The input file is empty; it has no requests.", None)]
    if len(rows) > MAX_BATCH_LINES:
        message = (
            f"The input file has {len(rows)} requests; a batch may have at most {MAX_BATCH_LINES}."
        )
        return [], [_error("too_many_requests", message, None)]
    lines: list[BatchLine] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        line = _read_line(row, number, endpoint, errors)
        if line is None:
            continue
        if line.custom_id in seen:
            errors.append(
                _error(
                    "duplicate_custom_id",
                    f"The custom_id {line.custom_id!r} is used by an earlier line; each "
                    "request of a batch needs a custom_id of its own.",
                    number,
                    "custom_id",
                )
            )
        seen.add(line.custom_id)
        lines.append(line)
    return lines, errors


def _read_line(
    row: str, number: int, endpoint: str, errors: list[dict[str, object]]
) -> BatchLine | None:
    """One line as a request, or None after adding its problems to ``errors``."""
    try:
        document = json.loads(row)
    except ValueError:
        errors.append(_error("invalid_json_line", "This line is not valid JSON.", number))
        return None
    if not isinstance(document, dict):
        errors.append(_error("invalid_json_line", "This line is not a JSON object.", number))
        return None
    before = len(errors)
    for name in sorted(set(document) - _LINE_FIELDS):
        errors.append(_error("unknown_parameter", f"Unknown parameter: {name!r}.", number, name))
    for name in sorted(_LINE_FIELDS - set(document)):
        message = f"Missing required parameter: {name!r}."
        errors.append(_error("missing_required_parameter", message, number, name))
    custom_id, method = document.get("custom_id"), document.get("method")
    url, body = document.get("url"), document.get("body")
    if "custom_id" in document and (not isinstance(custom_id, str) or not custom_id):
        message = "The custom_id must be a non-empty string."
        errors.append(_error("invalid_value", message, number, "custom_id"))
    if "method" in document and method != "POST":
        message = f"Invalid method {method!r}: batch requests use POST."
        errors.append(_error("invalid_method", message, number, "method"))
    if "url" in document and url != endpoint:
        message = f"The URL {url!r} does not match the batch's endpoint {endpoint!r}."
        errors.append(_error("invalid_url", message, number, "url"))
    if "body" in document and not isinstance(body, dict):
        errors.append(_error("invalid_value", "The body must be a JSON object.", number, "body"))
    if len(errors) > before or not isinstance(custom_id, str) or not isinstance(body, dict):
        return None
    return BatchLine(number=number, custom_id=custom_id, body=body)


def result_line(line: BatchLine, result: LineResult) -> bytes:
    """The output (or error) file line of a request that ran."""
    response = {"status_code": result.status, "request_id": result.request_id, "body": result.body}
    return _encode(line, response, None)


def expired_line(line: BatchLine) -> bytes:
    """The error file line of a request the batch did not run before its window closed."""
    error = {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    }
    return _encode(line, None, error)


def _encode(line: BatchLine, response: object, error: object) -> bytes:
    document = {
        "id": f"batch_req_{uuid.uuid4().hex}",
        "custom_id": line.custom_id,
        "response": response,
        "error": error,
    }
    return encode_json(document) + b"\n"
