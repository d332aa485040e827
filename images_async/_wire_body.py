"""One attempt in the forms aiohttp takes: its body (JSON bytes, or a multipart payload over
the caller's own file bytes) and its time limits. Part of the HTTP boundary, with
:mod:`._transport`.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.abc import AbstractStreamWriter

from ._config import Timeout, TimeoutTypes

if TYPE_CHECKING:
    from ._files import MultipartBody
    from ._prepare import PreparedRequest

#: Methods whose requests are sent without a body (and so without a ``Content-Type``).
BODILESS_METHODS = frozenset({"GET", "DELETE"})


def encoded_body(request: PreparedRequest) -> aiohttp.Payload | bytes | None:
    """A fresh body for one attempt; the same bytes each time, read once and not copied.

    None for a method that carries no body (``GET``, ``DELETE``).
    """
    if request.method in BODILESS_METHODS:
        return None
    if request.files:
        from ._files import multipart_body  # not at import: the first call needs none of it

        return _MultipartPayload(multipart_body(request.form_fields, request.files))
    return json.dumps(request.json_body or {}, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=64)
def client_timeout(timeout: TimeoutTypes) -> aiohttp.ClientTimeout:
    """aiohttp's form of a timeout that :func:`._config.checked_timeout` accepted.

    Cached: every call of a client uses the same few timeouts.
    """
    if timeout is None:
        return aiohttp.ClientTimeout(total=None)
    if isinstance(timeout, Timeout):
        return aiohttp.ClientTimeout(
            total=timeout.total, connect=timeout.connect, sock_read=timeout.read
        )
    return aiohttp.ClientTimeout(total=timeout)


class _MultipartPayload(aiohttp.Payload):
    """A :class:`MultipartBody` written piece by piece: each file in one write, uncopied.

    Not ``FormData``: its ``BytesPayload`` warns above 1 MiB (``ResourceWarning``), its
    ``BytesIOPayload`` copies the bytes, then writes them in slices (a loop turn per slice;
    a thread hop on aiohttp 3.9), and it writes each boundary and header on its own. Fits
    the payload interface of aiohttp 3.9 (``write``) to 3.14 (``write_with_length`` too).
    """

    _value: tuple[bytes, ...]
    _size: int
    _autoclose = True  # aiohttp >= 3.12: nothing to release

    def __init__(self, body: MultipartBody) -> None:
        super().__init__(body.pieces, content_type=body.content_type)
        self._size = body.size

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        left = self._size if content_length is None else content_length
        for piece in self._value:
            if left <= 0:
                break
            await writer.write(piece if len(piece) <= left else memoryview(piece)[:left])
            left -= len(piece)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return b"".join(self._value).decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"".join(self._value)
