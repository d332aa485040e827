"""File inputs and multipart bodies: every accepted form of an upload, read into one
:class:`UploadFile`, the text fields sent beside the files, and the body framing them all.

Uploads are read once, up front, into bytes: validation needs their headers, and a request
that is retried replays the very same bytes. From there on they are never copied: a body
(:func:`multipart_body`) holds the files' own bytes between its pieces of framing.

The content type comes from the bytes themselves (PNG, JPEG, WEBP), so an image is never
sent as ``application/octet-stream``; any other file (which only an unknown model or
``validate_requests=False`` lets through) is typed by its file name, and as
``application/octet-stream`` when the name says nothing.
"""

from __future__ import annotations

import asyncio
import io
import json
import mimetypes
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TypeAlias, TypeVar, cast

import attrs

from ._errors import InvalidFileError, UnsupportedFileInputError
from ._imageinfo import ImageInfo, inspect_image

FileContent: TypeAlias = "bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]"
"""The content of an upload: raw bytes, a path, or a binary file object."""

FileTypes: TypeAlias = (
    "FileContent | tuple[str | None, FileContent] | tuple[str | None, FileContent, str | None]"
)
"""An upload: content alone, ``(filename, content)`` or ``(filename, content, content_type)``."""

_Image = TypeVar("_Image")

# Control characters cannot appear in a part's headers (a CR or LF would start a new header);
# browsers percent-encode them in file names, and so do we.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@attrs.frozen(kw_only=True)
class UploadFile:
    """One upload, read and identified."""

    filename: str
    content: bytes = attrs.field(repr=lambda content: f"<{len(content)} bytes>")
    content_type: str
    info: ImageInfo | None


def _needs_io(value: object) -> bool:
    if isinstance(value, tuple):
        return len(value) > 1 and _needs_io(value[1])
    return not isinstance(value, (bytes, bytearray, memoryview))


def _read_content(content: object, param: str) -> tuple[bytes, str | None]:
    """The bytes of ``content`` and the file name it carries, if any."""
    if isinstance(content, bytes):
        return content, None
    if isinstance(content, (bytearray, memoryview)):
        return _snapshot(content), None
    if isinstance(content, (str, os.PathLike)):
        path = Path(content)
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            message = f"{param}: cannot read {str(path)!r}: {reason}"
            raise InvalidFileError(message, param=param) from None
    read = getattr(content, "read", None)
    if callable(read):
        if isinstance(content, io.TextIOBase):
            raise UnsupportedFileInputError(
                f"{param}: the file is open in text mode; open it with 'rb'", param=param
            )
        try:
            data = read()
        except (OSError, ValueError) as exc:  # ValueError: the file object is closed
            raise InvalidFileError(
                f"{param}: cannot read the file object: {exc}", param=param
            ) from exc
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise UnsupportedFileInputError(
                f"{param}: reading the file object gave {type(data).__name__}, not bytes",
                param=param,
            )
        name = getattr(content, "name", None)
        return bytes(data), os.path.basename(name) if isinstance(name, str) else None
    raise UnsupportedFileInputError(
        f"{param}: cannot upload a {type(content).__name__}; pass bytes, a path, a binary "
        "file object, or a (filename, content[, content_type]) tuple",
        param=param,
    )


def _snapshot(content: bytearray | memoryview) -> bytes:
    """Bytes that keep the content as it is now.

    A buffer the caller can still change is copied: the request must send what was
    validated, and every retry the same. A view of a whole ``bytes`` object is that object.
    """
    if (
        isinstance(content, memoryview)
        and isinstance(content.obj, bytes)
        and content.c_contiguous
        and content.nbytes == len(content.obj)
    ):
        return content.obj
    return bytes(content)


def _load(value: FileTypes, param: str) -> UploadFile:
    filename: str | None = None
    content_type: str | None = None
    content: object = value
    if isinstance(value, tuple):
        if len(value) not in (2, 3):
            raise UnsupportedFileInputError(
                f"{param}: a file tuple is (filename, content) or (filename, content, "
                f"content_type), not {len(value)} items",
                param=param,
            )
        filename, content = value[0], value[1]
        content_type = value[2] if len(value) == 3 else None
        _check_tuple_strings(filename, content_type, param)
    data, name_from_source = _read_content(content, param)
    if not data:
        raise InvalidFileError(f"{param}: the file is empty", param=param)
    info = inspect_image(data)
    filename = filename or name_from_source
    if content_type is None:
        content_type = _guess_content_type(info, filename)
    elif _CONTROL_CHARACTERS.search(content_type):
        raise InvalidFileError(f"{param}: bad content type {content_type!r}", param=param)
    if not filename:
        extension = info.format if info else "bin"
        filename = f"{param.split('[')[0]}.{extension}"
    filename = _CONTROL_CHARACTERS.sub(lambda match: f"%{ord(match[0]):02X}", filename)
    return UploadFile(filename=filename, content=data, content_type=content_type, info=info)


def _check_tuple_strings(filename: object, content_type: object, param: str) -> None:
    if filename is not None and not isinstance(filename, str):
        raise UnsupportedFileInputError(
            f"{param}: the file name in a file tuple must be a string, "
            f"not {type(filename).__name__}",
            param=param,
        )
    if content_type is not None and not (isinstance(content_type, str) and "/" in content_type):
        raise UnsupportedFileInputError(
            f"{param}: the content type in a file tuple must be like 'image/png', not "
            f"{content_type!r}; pass a list to send several images",
            param=param,
        )


def image_labels(count: int) -> list[str]:
    """How errors name ``count`` edit images: ``image``, or ``image[0]``, ``image[1]``, ..."""
    return ["image"] if count == 1 else [f"image[{index}]" for index in range(count)]


def _guess_content_type(info: ImageInfo | None, filename: str | None) -> str:
    if info is not None:
        return info.content_type
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    return guessed or "application/octet-stream"


async def load_uploads(values: Sequence[FileTypes], params: Sequence[str]) -> list[UploadFile]:
    """Read every upload; file system reads happen off the event loop."""
    if any(_needs_io(value) for value in values):
        return await asyncio.to_thread(
            lambda: [_load(value, param) for value, param in zip(values, params, strict=True)]
        )
    return [_load(value, param) for value, param in zip(values, params, strict=True)]


def as_image_list(image: _Image | Sequence[_Image]) -> list[_Image]:
    """One image or several; a tuple whose first item is a file name is one image."""
    if isinstance(image, list):
        return list(image)
    if isinstance(image, tuple):
        is_one_file = 2 <= len(image) <= 3 and (image[0] is None or isinstance(image[0], str))
        if not is_one_file:
            return list(cast("tuple[_Image, ...]", image))
    return [cast("_Image", image)]


def form_fields(
    params: Mapping[str, object], extra_body: Mapping[str, object] | None
) -> list[tuple[str, str]]:
    """The text parts of a multipart body: the parameters, then any extra fields."""
    fields = {**params, **(extra_body or {})}
    return [(name, _form_value(value)) for name, value in fields.items() if value is not None]


def _form_value(value: object) -> str:
    """A parameter as multipart text: JSON spellings for booleans and structures."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


@attrs.frozen(kw_only=True)
class MultipartBody:
    """A ``multipart/form-data`` body as the pieces to send, in order.

    The framing before, between and after the files is one piece each, and each file's
    bytes are a piece of their own: the very object that was read, not a copy. A body
    with one image is three writes to the connection, however many text fields it has.
    """

    content_type: str
    pieces: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return sum(len(piece) for piece in self.pieces)


def multipart_body(
    fields: Sequence[tuple[str, str]], files: Sequence[tuple[str, UploadFile]]
) -> MultipartBody:
    """The text fields, then the files, framed byte for byte as aiohttp's
    ``FormData(quote_fields=False)`` frames them."""
    boundary = uuid.uuid4().hex
    pieces: list[bytes] = []
    framing = bytearray()
    for name, value in fields:
        framing += _part_head(boundary, name, "text/plain; charset=utf-8")
        framing += value.encode() + b"\r\n"
    for name, upload in files:
        framing += _part_head(boundary, name, upload.content_type, upload.filename)
        pieces += (bytes(framing), upload.content)
        framing = bytearray(b"\r\n")
    framing += f"--{boundary}--\r\n".encode()
    pieces.append(bytes(framing))
    return MultipartBody(
        content_type=f"multipart/form-data; boundary={boundary}", pieces=tuple(pieces)
    )


def _part_head(boundary: str, name: str, content_type: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{_quoted(name)}"'
    if filename is not None:
        disposition += f'; filename="{_quoted(filename)}"'
    head = f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Disposition: {disposition}"
    return f"{head}\r\n\r\n".encode()


def _quoted(text: str) -> str:
    """``text`` inside a quoted header parameter: as it is (the API expects ``image[]``
    literally, and UTF-8 names), but backslashes and quotes escaped, as aiohttp writes them,
    and control characters percent-encoded, as browsers do: a CR or LF would end the header.
    """
    text = _CONTROL_CHARACTERS.sub(lambda match: f"%{ord(match[0]):02X}", text)
    return text.replace("\\", "\\\\").replace('"', '\\"')
