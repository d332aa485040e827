"""Reading request bodies for the emulator: JSON and forms, read once, strictly, not validated.

This module owns request intake, the step between aiohttp and the checks of
:mod:`._validation`. A body is read into a :class:`RequestBody`: the parsed JSON document,
or the text and file parts of a form. Every way a body can be unreadable (a broken
``Content-Encoding``, an unknown charset, malformed multipart, JSON that is invalid or
nested past the parser's depth, text that is not UTF-8) becomes the
:class:`~._responses.APIError` to answer, kept in ``RequestBody.failure``: hostile input
gets a 400 in the API's shape, never a 500 with a traceback.
"""

from __future__ import annotations

import json
from typing import Literal

import attrs
from aiohttp import BodyPartReader, web
from aiohttp.http import HttpProcessingError

from ._responses import APIError, bad_request

__all__ = ["UNPARSEABLE_JSON", "FilePart", "RequestBody", "read_body", "recorded_params"]

UNPARSEABLE_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you "
    "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
)
_MAX_PARTS = 64
_FORM = "application/x-www-form-urlencoded"
# What aiohttp's readers raise on malformed input: ValueError (with UnicodeDecodeError) from
# the parsers, LookupError for an unknown charset, payload errors for a broken
# Content-Encoding, HttpProcessingError for bad part headers, RuntimeWarning when its
# warning about a bad Content-Disposition is turned into an error (as test suites do), and
# AssertionError from aiohttp 3.9's multipart reader on a body that ends inside a part.
_UNREADABLE = (
    ValueError,
    LookupError,
    web.RequestPayloadError,
    HttpProcessingError,
    RuntimeWarning,
    AssertionError,
)


@attrs.frozen(kw_only=True)
class FilePart:
    """One file part of a multipart body."""

    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@attrs.define(kw_only=True)
class RequestBody:
    """A request body, read but not validated."""

    kind: Literal["json", "multipart", "other"] = "other"
    document: object = None
    """The parsed JSON body (``kind="json"``)."""
    texts: list[tuple[str, str]] = attrs.field(factory=list)
    files: list[FilePart] = attrs.field(factory=list)
    failure: APIError | None = None
    """Why the body cannot be validated, as the error to answer."""


async def read_body(request: web.Request) -> RequestBody:
    """Read the whole body of ``request``; unreadable bodies give a ``failure``."""
    body = RequestBody()
    try:
        await _read_into(request, body)
    except _UNREADABLE as exc:
        what = "Invalid multipart body" if body.kind == "multipart" else "Unreadable body"
        body.failure = bad_request(f"{what}: {exc}.")
    return body


async def _read_into(request: web.Request, body: RequestBody) -> None:
    content_type = request.content_type
    if content_type == _FORM:
        # A form without files; read like a multipart one so the missing file is named.
        body.kind = "multipart"
        fields = await request.post()
        body.texts = [(name, value) for name, value in fields.items() if isinstance(value, str)]
    elif content_type == "multipart/form-data":
        body.kind = "multipart"
        await _read_parts(request, body)
    elif content_type == "application/json":
        body.kind = "json"
        raw = await request.read()
        try:
            # Strict JSON, like the API's parser: NaN and Infinity are not numbers there.
            body.document = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
            body.failure = bad_request(UNPARSEABLE_JSON)
    else:
        await request.read()


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


async def _read_parts(request: web.Request, body: RequestBody) -> None:
    reader = await request.multipart()
    for _ in range(_MAX_PARTS + 1):
        part = await reader.next()
        if part is None:
            return
        if not isinstance(part, BodyPartReader):
            body.failure = bad_request(
                "Invalid multipart body: nested multipart bodies are not supported."
            )
            return
        name, filename = part.name or "", part.filename
        # aiohttp keeps undecodable header bytes as lone surrogates; the API wants UTF-8.
        if not _is_text(name) or (filename is not None and not _is_text(filename)):
            body.failure = bad_request(
                "Invalid multipart body: a part's name or file name is not valid UTF-8."
            )
            return
        content = bytes(await part.read(decode=False))
        if filename is not None:
            body.files.append(
                FilePart(
                    field=name,
                    filename=filename,
                    content_type=part.headers.get("Content-Type"),
                    content=content,
                )
            )
            continue
        try:
            body.texts.append((name, content.decode("utf-8")))
        except UnicodeDecodeError:
            body.failure = bad_request(
                f"Invalid value for '{name}': the text is not valid UTF-8.", name, "invalid_value"
            )
            return
    body.failure = bad_request(f"Invalid multipart body: too many parts (more than {_MAX_PARTS}).")


def _is_text(value: str) -> bool:
    """Whether ``value`` is valid Unicode (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def recorded_params(body: RequestBody) -> dict[str, object]:
    """The JSON body, or the text parts of a form as sent (strings; repeats make lists)."""
    if body.kind != "multipart":
        document = body.document
        return dict(document) if isinstance(document, dict) else {}
    params: dict[str, object] = {}
    for name, value in body.texts:
        previous = params.get(name)
        if previous is None:
            params[name] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            params[name] = [previous, value]
    return params
