"""Turning the image references of a JSON edit into bytes: data URLs, file ids, local URLs.

This module owns what an ``ImageRefParam`` (``{"image_url": ...}`` or ``{"file_id": ...}``)
stands for: :func:`resolve_reference` returns the referenced file as a
:class:`ReferencedImage`, or raises the 400 the API answers for a reference it cannot use.

* ``data:image/...;base64,...`` URLs are decoded (strict base64).
* File ids are looked up in the emulator's :class:`~._file_store.FileStore`.
* ``http`` and ``https`` URLs: the emulator never goes out to the network, so it downloads
  only from the loopback host names (``127.0.0.1``, ``::1``, ``localhost``), without
  following redirects, and refuses any other host with the ``invalid_image_url`` error the
  API gives for a URL it cannot download.

Checking that the bytes are an image the model takes is :mod:`._validation`'s business.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Mapping

import aiohttp
import attrs
from yarl import URL

from .._params import GPT_MAX_FILE_BYTES
from ._file_store import FileStore
from ._responses import APIError, bad_request

__all__ = ["LOOPBACK_HOSTS", "MAX_IMAGE_URL_LENGTH", "ReferencedImage", "resolve_reference"]

#: The hosts the emulator downloads image URLs from; every other host is refused.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
#: The longest ``image_url`` the spec allows (20 MiB of text: data URLs are long).
MAX_IMAGE_URL_LENGTH = 20_971_520
_DATA_URL = re.compile(
    r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?);base64,", re.ASCII
)
_DOWNLOAD_TIMEOUT = 10.0
_READ_CHUNK = 64 * 1024


@attrs.frozen(kw_only=True)
class ReferencedImage:
    """The file a reference stands for, ready to be checked like an upload."""

    filename: str
    content: bytes = attrs.field(repr=lambda content: f"<{len(content)} bytes>")
    content_type: str | None
    """As the data URL or the download declared it (None: a stored file's, guessed later)."""


async def resolve_reference(reference: object, param: str, files: FileStore) -> ReferencedImage:
    """The image ``reference`` (the value at ``param``, e.g. ``images[0]``) stands for."""
    if not isinstance(reference, Mapping):
        raise bad_request(
            f"Invalid type for '{param}': expected an object with 'image_url' or 'file_id'.",
            param,
            "invalid_type",
        )
    if unknown := sorted(set(reference) - {"image_url", "file_id"}):
        name = f"{param}.{unknown[0]}"
        raise bad_request(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    if len(reference) != 1:
        raise bad_request(
            f"Invalid value for '{param}': give exactly one of 'image_url' or 'file_id'.",
            param,
            "invalid_value",
        )
    [(kind, value)] = reference.items()
    where = f"{param}.{kind}"
    if not isinstance(value, str):
        raise bad_request(f"Invalid type for '{where}': expected a string.", where, "invalid_type")
    if kind == "file_id":
        return _stored(value, where, files)
    return await _from_url(value, where)


def _stored(file_id: str, param: str, files: FileStore) -> ReferencedImage:
    stored = files.get(file_id)
    if stored is None:
        raise bad_request(
            f"Invalid file_id {file_id!r}: no such file (never uploaded, deleted or expired).",
            param,
            "invalid_file_id",
        )
    return ReferencedImage(filename=stored.filename, content=stored.content, content_type=None)


def _url_error(param: str, message: str) -> APIError:
    return bad_request(message, param, "invalid_image_url")


async def _from_url(text: str, param: str) -> ReferencedImage:
    if len(text) > MAX_IMAGE_URL_LENGTH:
        raise _url_error(
            param, f"The image URL is too long: at most {MAX_IMAGE_URL_LENGTH} characters."
        )
    if text[:5].lower() == "data:":
        return _decoded(text, param)
    try:
        url = URL(text)
    except ValueError:
        raise _url_error(param, "Invalid image URL: it does not parse.") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise _url_error(param, "Invalid image URL: expected an http(s) URL or a base64 data URL.")
    if url.host.lower().rstrip(".") not in LOOPBACK_HOSTS:
        raise _url_error(
            param,
            f"Error while downloading {url.host}: the emulator does not reach the network; "
            "it downloads image URLs only from 127.0.0.1, ::1 or localhost.",
        )
    return await _downloaded(url, param)


def _decoded(text: str, param: str) -> ReferencedImage:
    match = _DATA_URL.match(text)
    if match is None:
        raise _url_error(param, "Invalid data URL: expected data:<media type>;base64,<data>.")
    try:
        content = base64.b64decode(text[match.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise _url_error(param, "Invalid base64 image data in the data URL.") from None
    content_type = match["type"]
    extension = content_type.rsplit("/", 1)[-1] if content_type else "bin"
    return ReferencedImage(
        filename=f"image.{extension}", content=content, content_type=content_type
    )


async def _downloaded(url: URL, param: str) -> ReferencedImage:
    """GET ``url`` (a loopback host): 200 and at most the API's image size, or a 400."""
    timeout = aiohttp.ClientTimeout(total=_DOWNLOAD_TIMEOUT)
    failed = f"Error while downloading {url.host}"
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            if response.status != 200:
                raise _url_error(param, f"{failed}: the server answered {response.status}.")
            content = bytearray()
            # Bounded by the size limit: each chunk is non-empty until the body ends.
            async for chunk in response.content.iter_chunked(_READ_CHUNK):
                content += chunk
                if len(content) > GPT_MAX_FILE_BYTES:
                    raise _url_error(
                        param, f"{failed}: the image is larger than {GPT_MAX_FILE_BYTES} bytes."
                    )
            content_type = response.content_type
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise _url_error(param, f"{failed}: {type(exc).__name__}.") from None
    name = url.name or "image"
    return ReferencedImage(
        filename=name,
        content=bytes(content),
        content_type=content_type if content_type.startswith("image/") else None,
    )
