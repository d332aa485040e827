"""Image references: edit inputs that name an image instead of uploading it.

An edit takes each image (and its mask) as a local file, sent in a multipart body, or as a
reference, sent in a JSON body: :class:`ImageURL` (an ``https`` URL or a base64 ``data:``
URL) or :class:`FileID` (a file uploaded to the Files API), or the spec's own spelling of
them as dicts, ``{"image_url": ...}`` and ``{"file_id": ...}``. This module owns those
values, their JSON form, and the choice of body (:func:`edit_references`): one request
cannot be both, so references mixed with local files are refused, naming the input that
breaks the pattern. What a reference may hold, per model, is checked in :mod:`._params`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias, TypedDict

import attrs
from yarl import URL

from ._errors import InvalidFileError, InvalidRequestError, UnsupportedFileInputError
from ._files import FileTypes, image_labels
from ._imageinfo import inspect_image

#: A data URL as the API takes one: a media type, base64, then the bytes.
_DATA_URL = re.compile(r"data:(?P<media_type>[^;,]*)(?P<params>(;[^;,]*)*),(?P<data>.*)", re.S)
#: How much of a URL a repr shows: a data URL can be megabytes long.
_REPR_CHARACTERS = 60


def _shown(url: str) -> str:
    """A URL as a repr shows it: the start of a data URL (which can be megabytes long), and
    of any other URL neither its user information nor its query, where presigned URLs keep
    their credentials."""
    if url[:5].lower() == "data:":
        if len(url) <= _REPR_CHARACTERS:
            return repr(url)
        return f"{url[:_REPR_CHARACTERS]!r}... ({len(url):,} characters)"
    try:
        parsed = URL(url)
    except ValueError:
        return f"<a URL of {len(url):,} characters>"
    hidden = bool(parsed.raw_user or parsed.raw_password or parsed.raw_query_string)
    shown = str(parsed.with_user(None).with_query(None).with_fragment(None))
    return repr(f"{shown}?..." if hidden else str(parsed.with_fragment(None)))


def _must_be_string(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        raise UnsupportedFileInputError(
            f"{type(instance).__name__}.{attribute.name} must be a string, "
            f"not {type(value).__name__}"
        )


@attrs.frozen
class ImageURL:
    """An image the API fetches itself: an ``https`` URL, or a ``data:`` URL holding it.

    ``ImageURL("https://example.com/cat.png")``, or ``ImageURL.from_bytes(png_bytes)`` for a
    local image sent inside the request. Its repr shows only the start of a data URL, and
    no user information or query of another (presigned URLs carry credentials there).
    """

    url: str = attrs.field(validator=_must_be_string, repr=_shown)
    """The URL, sent as the reference's ``image_url``."""

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, content_type: str | None = None
    ) -> ImageURL:
        """A base64 data URL of ``data``, typed from the bytes (PNG, JPEG or WEBP).

        ``content_type`` names the type of bytes the client cannot identify; an image of a
        known format is always typed by what it is.
        """
        info = inspect_image(data)
        media_type = info.content_type if info else content_type
        if media_type is None:
            raise InvalidFileError(
                "ImageURL.from_bytes: the bytes are not a PNG, JPEG or WEBP image; "
                "pass content_type= to send them anyway",
                param="image_url",
            )
        return cls(f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}")


@attrs.frozen
class FileID:
    """An image uploaded with the Files API, by its id (``"file-..."``)."""

    id: str = attrs.field(validator=_must_be_string)
    """The file's id, sent as the reference's ``file_id``."""


class ImageURLParam(TypedDict):
    """The spec's spelling of an :class:`ImageURL`: ``{"image_url": "https://..."}``."""

    image_url: str


class FileIDParam(TypedDict):
    """The spec's spelling of a :class:`FileID`: ``{"file_id": "file-..."}``."""

    file_id: str


ImageReference: TypeAlias = "ImageURL | FileID | ImageURLParam | FileIDParam"
"""An image named rather than uploaded: sent in a JSON body."""

ImageInput: TypeAlias = "FileTypes | ImageReference"
"""One image of an edit (or its mask): a local file to upload, or a reference."""

Reference: TypeAlias = "ImageURL | FileID"
"""A reference in its one canonical form (dicts are read into these)."""


def as_reference(value: object, param: str) -> Reference | None:
    """``value`` as a :class:`ImageURL` or :class:`FileID`; None when it is a local file."""
    if isinstance(value, (ImageURL, FileID)):
        return value
    if not isinstance(value, Mapping):
        return None
    keys = set(value)
    if keys == {"image_url"}:
        return ImageURL(value["image_url"])
    if keys == {"file_id"}:
        return FileID(value["file_id"])
    raise UnsupportedFileInputError(
        f"{param}: cannot upload a dict, and as an image reference a dict has exactly one "
        f"key, 'image_url' or 'file_id' (got {sorted(map(str, keys))})",
        param=param,
    )


def reference_json(reference: Reference) -> dict[str, str]:
    """The reference as the JSON body writes it (``ImageRefParam``)."""
    if isinstance(reference, ImageURL):
        return {"image_url": reference.url}
    return {"file_id": reference.id}


def edit_references(
    images: Sequence[object], mask: object
) -> tuple[list[Reference], Reference | None] | None:
    """The references of an edit whose every image and mask is one; None when all are files.

    The first image decides which kind the request is; the first input of the other kind is
    named in an :class:`InvalidRequestError` that says how to make them agree. Uploading the
    local files first would hide a second request (and a stored file) behind one call, so
    the client leaves that choice to the caller.
    """
    labels = [*image_labels(len(images)), "mask"]
    inputs = [*images, *([] if mask is None else [mask])]
    references = [as_reference(value, label) for value, label in zip(inputs, labels, strict=False)]
    if not references or references[0] is None:
        stray = next((i for i, ref in enumerate(references) if ref is not None), None)
        if stray is None:
            return None
        raise _mixed(labels[stray], "a reference", "local files")
    stray = next((i for i, ref in enumerate(references) if ref is None), None)
    if stray is not None:
        raise _mixed(labels[stray], "a local file", "references")
    checked = [ref for ref in references if ref is not None]
    if mask is None:
        return checked, None
    return checked[:-1], checked[-1]


def _mixed(label: str, this: str, others: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{label}: is {this} but the first image is one of the {others}; an edit sends "
        "either local files (multipart) or references (JSON), not both: pass every image "
        "and the mask as files, or every one as a reference (ImageURL.from_bytes(data) "
        "makes one of local bytes, FileID(id) names a file uploaded to the Files API)",
        param=label,
    )


@attrs.frozen(kw_only=True)
class DataURLContent:
    """What a ``data:`` URL holds: its declared media type and its decoded bytes."""

    media_type: str
    content: bytes = attrs.field(repr=lambda content: f"<{len(content)} bytes>")


def data_url_content(url: str, param: str) -> DataURLContent | None:
    """The content of a ``data:`` URL (None for any other URL); a malformed one is an error."""
    if url[:5].lower() != "data:":
        return None
    match = _DATA_URL.fullmatch(url)
    if match is None or ";base64" not in match["params"].lower():
        raise InvalidFileError(
            f"{param}: a data URL must look like 'data:image/png;base64,...'", param=param
        )
    try:
        content = base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidFileError(f"{param}: the data URL's base64 is damaged", param=param) from None
    return DataURLContent(media_type=match["media_type"].strip().lower(), content=content)
