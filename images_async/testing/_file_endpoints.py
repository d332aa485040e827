"""The Files API on the emulator: upload, list, retrieve, download and delete, as the API answers.

This module owns what each Files call answers, from values the server has already read (the
body, the ``file_id`` of the path, the query): ``POST /files`` (multipart ``purpose`` and
``file``, optional ``expires_after[anchor]``/``expires_after[seconds]``), ``GET /files``
(``purpose``, ``limit``, ``order``, ``after``), ``GET /files/{file_id}``,
``GET /files/{file_id}/content`` and ``DELETE /files/{file_id}``. The files live in a
:class:`~._file_store.FileStore`; refusals are :class:`~._responses.APIError`\\s (400 for a
bad form, 404 for an unknown id). Routing, credentials, faults and recording are the
server's business; nothing here touches aiohttp.

Departures from the real service: any purpose may be downloaded, a file's content is not
checked against its purpose (a ``batch`` file is read when a batch is created, as the API
does), and the size refusals (per file, per ``batch`` file, for the whole store) use the
emulator's own limits from :class:`~._config.EmulatorConfig`. An empty page's ``first_id``
and ``last_id`` are null: the spec's schema wants strings, but there is no id to give.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import attrs

from ._bodies import RequestBody
from ._config import EmulatorConfig
from ._file_store import FILE_PURPOSES, FileStore, file_object
from ._responses import APIError, PlannedResponse, bad_request, json_answer, list_page

__all__ = ["FileCall", "FileEndpoints"]

_EXPIRY_ANCHOR = "expires_after[anchor]"
_EXPIRY_SECONDS = "expires_after[seconds]"
_TEXT_FIELDS = frozenset({"purpose", _EXPIRY_ANCHOR, _EXPIRY_SECONDS})
_MIN_EXPIRY, _MAX_EXPIRY = 3600, 2_592_000
_MAX_LIST_LIMIT = 10_000
_DIGITS = re.compile(r"[0-9]{1,7}", re.ASCII)


@attrs.frozen(kw_only=True)
class FileCall:
    """What a Files call said, as the server read it."""

    body: RequestBody
    file_id: str
    """The ``{file_id}`` of the path ("" on the paths without one)."""
    query: Mapping[str, str]
    config: EmulatorConfig


#: How one route answers a call.
Respond = Callable[[FileCall], PlannedResponse]


class FileEndpoints:
    """The Files calls of one emulator, answering from its ``store``."""

    def __init__(self, store: FileStore) -> None:
        self.store = store

    def routes(self) -> list[tuple[str, str, Respond]]:
        """Each call's method, path (under the API root) and answer."""
        return [
            ("POST", "/files", lambda call: self.upload(call.body, call.config)),
            ("GET", "/files", lambda call: self.listing(call.query)),
            ("GET", "/files/{file_id}", lambda call: self.retrieve(call.file_id)),
            ("DELETE", "/files/{file_id}", lambda call: self.delete(call.file_id)),
            ("GET", "/files/{file_id}/content", lambda call: self.content(call.file_id)),
        ]

    def upload(self, body: RequestBody, config: EmulatorConfig) -> PlannedResponse:
        """``POST /files``: keep the ``file`` part under its ``purpose``."""
        if body.failure is not None:
            raise body.failure
        if body.kind != "multipart":
            raise bad_request(
                "Invalid Content-Type header: this endpoint takes multipart/form-data."
            )
        texts = _upload_texts(body)
        files = [part for part in body.files if part.field == "file"]
        if unknown := [part.field for part in body.files if part.field != "file"]:
            raise bad_request(
                f"Unknown parameter: '{unknown[0]}'.", unknown[0], "unknown_parameter"
            )
        purpose = texts.get("purpose")
        if purpose is None:
            raise _missing("purpose")
        if purpose not in FILE_PURPOSES:
            choices = ", ".join(sorted(FILE_PURPOSES))
            raise bad_request(
                f"Invalid value: {purpose!r}. Supported values are: {choices}.",
                "purpose",
                "invalid_value",
            )
        if not files:
            raise _missing("file")
        if len(files) > 1:
            raise bad_request("Only one file can be uploaded per request.", "file", "invalid_value")
        [part] = files
        if not part.content:
            raise bad_request("The file is empty.", "file", "invalid_value")
        limit = config.max_batch_file_bytes if purpose == "batch" else config.max_file_bytes
        stored = self.store.add(
            filename=part.filename or "file",
            purpose=purpose,
            content=part.content,
            expires_after=_expires_after(texts),
            max_file_bytes=min(limit, config.max_file_bytes),
            max_stored_bytes=config.max_stored_file_bytes,
        )
        return json_answer(file_object(stored))

    def retrieve(self, file_id: str) -> PlannedResponse:
        """``GET /files/{file_id}``: the file's ``OpenAIFile``."""
        return json_answer(file_object(self.store.require(file_id)))

    def content(self, file_id: str) -> PlannedResponse:
        """``GET /files/{file_id}/content``: the bytes as uploaded."""
        stored = self.store.require(file_id)
        return PlannedResponse(
            status=200, body=stored.content, content_type="application/octet-stream"
        )

    def delete(self, file_id: str) -> PlannedResponse:
        """``DELETE /files/{file_id}``: forget the file."""
        stored = self.store.delete(file_id)
        return json_answer({"id": stored.id, "object": "file", "deleted": True})

    def listing(self, query: Mapping[str, str]) -> PlannedResponse:
        """``GET /files``: a page of files, newest first unless ``order=asc``."""
        if unknown := sorted(set(query) - {"purpose", "limit", "order", "after"}):
            raise bad_request(
                f"Unknown parameter: '{unknown[0]}'.", unknown[0], "unknown_parameter"
            )
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise bad_request(
                f"Invalid value: {order!r}. Supported values are: asc, desc.",
                "order",
                "invalid_value",
            )
        purpose = query.get("purpose")
        files = [f for f in self.store if purpose is None or f.purpose == purpose]
        # The store keeps upload order, which is created_at order with ties kept in place.
        if order == "desc":
            files.reverse()
        page, has_more = list_page(
            files, query, noun="file", default_limit=_MAX_LIST_LIMIT, max_limit=_MAX_LIST_LIMIT
        )
        return json_answer(
            {
                "object": "list",
                "data": [file_object(f) for f in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": has_more,
            }
        )


def _missing(name: str) -> APIError:
    return bad_request(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def _upload_texts(body: RequestBody) -> dict[str, str]:
    texts: dict[str, str] = {}
    for name, value in body.texts:
        if name == "file":
            raise bad_request(
                "Invalid type for 'file': expected a file, but got a string instead.",
                "file",
                "invalid_type",
            )
        if name not in _TEXT_FIELDS:
            raise bad_request(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
        if name in texts:
            raise bad_request(f"Duplicate parameter: '{name}'.", name, "invalid_value")
        texts[name] = value
    return texts


def _expires_after(texts: Mapping[str, str]) -> int | None:
    """The seconds of an ``expires_after`` policy; None when the upload sets none."""
    anchor, seconds = texts.get(_EXPIRY_ANCHOR), texts.get(_EXPIRY_SECONDS)
    if anchor is None and seconds is None:
        return None
    if anchor is None:
        raise _missing(_EXPIRY_ANCHOR)
    if seconds is None:
        raise _missing(_EXPIRY_SECONDS)
    if anchor != "created_at":
        raise bad_request(
            f"Invalid value: {anchor!r}. Supported values are: created_at.",
            _EXPIRY_ANCHOR,
            "invalid_value",
        )
    if not _DIGITS.fullmatch(seconds) or not _MIN_EXPIRY <= int(seconds) <= _MAX_EXPIRY:
        raise bad_request(
            f"Invalid value for '{_EXPIRY_SECONDS}': {seconds!r}; expected an integer from "
            f"{_MIN_EXPIRY} (1 hour) to {_MAX_EXPIRY} (30 days).",
            _EXPIRY_SECONDS,
            "invalid_value",
        )
    return int(seconds)
