"""The Files API client (``images.files``): upload, retrieve, download and delete files.

This module owns the ``/files`` calls: what each one sends, the checks made before anything
is sent, and the file object the API answers with (:class:`StoredFile`, the spec's
``OpenAIFile``). Every call is a :class:`PreparedRequest` sent through the client's
:class:`CallSender`, so it gets the same retries, timeouts, hooks, proxy and TLS rules as an
image call, and the same typed errors (an unknown id is a :class:`NotFoundError`). A file's
content comes as a :class:`StreamedResponse`: read in chunks, never held whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import attrs

from ._config import Timeout, checked_headers, checked_query
from ._errors import InvalidRequestError
from ._files import FileTypes, load_uploads
from ._prepare import PreparedRequest
from ._response import RawResponse, StreamedResponse, StreamingResponseContext
from ._response_info import validation_error
from ._saving import temporary_beside
from ._sending import CallSender
from ._stream_saving import in_thread

#: The purposes the spec lists for an upload; others are sent as given (a newer API may
#: know them).
KNOWN_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
#: The piece size a file's content is written to disk in.
SAVE_CHUNK_BYTES = 1024 * 1024


@attrs.frozen(kw_only=True)
class StoredFile:
    """A file uploaded to the API (the ``OpenAIFile`` object); fields it does not name are
    ignored."""

    id: str
    """The file's id (``file-...``): what :meth:`AsyncStoredFiles.retrieve` takes."""
    bytes: int
    """The file's size in bytes."""
    created_at: int
    """When the file was uploaded, in Unix seconds."""
    filename: str
    """The name the file was uploaded under."""
    purpose: str
    """What the file is for: ``batch``, ``batch_output``, ``vision``, ``user_data``..."""
    status: str | None = None
    """``uploaded``, ``processed`` or ``error`` (deprecated by the API; may be absent)."""
    expires_at: int | None = None
    """When the file expires, in Unix seconds (None: it does not)."""


@runtime_checkable
class _FilesClient(Protocol):
    """What the Files client needs of :class:`AsyncImages` (named structurally: no import
    upwards)."""

    @property
    def _sender(self) -> CallSender: ...


class AsyncStoredFiles:
    """``images.files``: upload files to the API, look them up, download and delete them.

    Each call takes ``extra_headers`` and ``extra_query`` (added to the request as sent) and
    ``timeout`` and ``max_retries`` (overriding the client's for this call). Bad arguments
    raise :class:`InvalidRequestError` before anything is sent.
    """

    def __init__(self, images: object, /) -> None:
        """Internal: a client makes its own (``images.files``)."""
        if not isinstance(images, _FilesClient):
            raise TypeError(f"{type(self).__name__} is made by AsyncImages, not directly")
        self._images = images

    async def upload(
        self,
        file: FileTypes,
        *,
        purpose: str,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> StoredFile:
        """Upload ``file`` (``POST /files``, multipart) for ``purpose``; returns its object.

        ``file`` is a path, bytes, a binary file object, or a ``(filename, content[,
        content_type])`` tuple; it is read once, and a retry sends the same bytes.
        ``purpose`` is ``batch``, ``vision``, ``user_data``, ``assistants``, ``fine-tune``
        or ``evals`` (another non-empty string is sent as given).
        """
        if not isinstance(purpose, str) or not purpose.strip():
            raise InvalidRequestError(
                f"purpose: must be a non-empty string (one of {', '.join(sorted(KNOWN_PURPOSES))})"
                f", not {purpose!r}",
                param="purpose",
            )
        (upload,) = await load_uploads([file], ["file"])
        request = _request(
            "POST",
            "files",
            extra_headers,
            extra_query,
            timeout,
            max_retries,
            form_fields=[("purpose", purpose)],
            files=[("file", upload)],
        )
        return _stored_file(await self._images._sender.raw(request))

    async def retrieve(
        self,
        file_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> StoredFile:
        """The object of the file ``file_id`` (``GET /files/{file_id}``)."""
        path = f"files/{_checked_file_id(file_id)}"
        request = _request("GET", path, extra_headers, extra_query, timeout, max_retries)
        return _stored_file(await self._images._sender.raw(request))

    async def delete(
        self,
        file_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> bool:
        """Delete the file ``file_id`` (``DELETE /files/{file_id}``); True when the API says
        it is deleted."""
        path = f"files/{_checked_file_id(file_id)}"
        request = _request("DELETE", path, extra_headers, extra_query, timeout, max_retries)
        raw = await self._images._sender.raw(request)
        deleted = json_object(raw).get("deleted")
        if not isinstance(deleted, bool):
            raise validation_error(raw, "unexpected response body: no boolean 'deleted'", b"")
        return deleted

    def content(
        self,
        file_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> StreamingResponseContext:
        """The content of the file ``file_id`` (``GET /files/{file_id}/content``), unread.

        ``async with images.files.content(file_id) as response:`` then iterate
        ``response.iter_bytes()`` (or ``iter_lines()`` for a JSONL file): the content is read
        as it arrives, never held whole, and the connection is released when the block
        ends, also when you stop early. The request is sent when the block is entered;
        ``max_response_bytes`` bounds the content read.
        """
        path = f"files/{_checked_file_id(file_id)}/content"
        extra = checked_headers(extra_headers, option="extra_headers", per_call=True)
        # The content is any bytes, not JSON (the official SDK asks for it so too).
        headers = {"Accept": "application/binary", **(extra or {})}
        request = _request("GET", path, headers, extra_query, timeout, max_retries)
        sender = self._images._sender

        async def send() -> StreamedResponse:
            return await sender.streamed(request)

        return StreamingResponseContext(send)

    async def save_content(
        self,
        file_id: str,
        path: str | os.PathLike[str],
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> Path:
        """Write the content of the file ``file_id`` to ``path`` as it arrives; returns it.

        The content goes to a hidden file beside ``path``, which replaces ``path`` only once
        complete: a failed or cancelled download leaves no partial file behind.
        """
        target = Path(path)
        context = self.content(
            file_id,
            extra_headers=extra_headers,
            extra_query=extra_query,
            timeout=timeout,
            max_retries=max_retries,
        )
        temporary = temporary_beside(target)
        try:
            # Each step in a thread that a cancellation waits for: the clean-up below must
            # not race a thread still opening or writing the file.
            async with context as response:
                file = await in_thread(open, temporary, "xb")
                try:
                    async for chunk in response.iter_bytes(SAVE_CHUNK_BYTES):
                        await in_thread(file.write, chunk)
                    await in_thread(_flush_to_disk, file)
                finally:
                    await in_thread(file.close)
            await in_thread(os.replace, temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return target


def _flush_to_disk(file: IO[bytes]) -> None:
    file.flush()
    os.fsync(file.fileno())


def _checked_file_id(file_id: object) -> str:
    """``file_id``, which becomes one segment of the URL's path: a slash, ``.`` or ``..``
    would reach another URL, so they are refused whatever ``validate_requests`` says."""
    if not isinstance(file_id, str) or not file_id or "/" in file_id or file_id in (".", ".."):
        raise InvalidRequestError(
            f"file_id: must be a file's id (a non-empty string without '/'), not {file_id!r}",
            param="file_id",
        )
    return file_id


def _request(
    method: str,
    path: str,
    extra_headers: object,
    extra_query: object,
    timeout: float | Timeout | None,
    max_retries: int | None,
    **body: Any,
) -> PreparedRequest:
    return PreparedRequest(
        path=path,
        method=method,
        extra_headers=checked_headers(extra_headers, option="extra_headers", per_call=True),
        extra_query=checked_query(extra_query, option="extra_query", per_call=True),
        timeout=timeout,
        max_retries=max_retries,
        **body,
    )


def json_object(raw: RawResponse) -> dict[str, Any]:
    """The body as a JSON object; :class:`APIResponseValidationError` when it is not one."""
    try:
        document = raw.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise validation_error(raw, "unexpected response body: not a JSON object", raw.content)
    return document


#: Each field of :class:`StoredFile`, the JSON type it must have, and whether it may be absent.
_FIELDS: dict[str, tuple[type, bool]] = {
    "id": (str, False),
    "bytes": (int, False),
    "created_at": (int, False),
    "filename": (str, False),
    "purpose": (str, False),
    "status": (str, True),
    "expires_at": (int, True),
}


def _stored_file(raw: RawResponse) -> StoredFile:
    """The body as a :class:`StoredFile`; other fields are ignored."""
    document = json_object(raw)
    values: dict[str, Any] = {}
    for name, (kind, optional) in _FIELDS.items():
        value = document.get(name)
        if value is None and optional:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            what = "an integer" if kind is int else "a string"
            message = f"unexpected response body: {name!r} is not {what}"
            raise validation_error(raw, message, raw.content)
        values[name] = value
    return StoredFile(**values)
