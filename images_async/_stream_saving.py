"""Saving a response's images to disk as the body arrives, without holding the body.

:func:`save_body_images` drives ``StreamedResponse.save_images``: the JSON body is split as
it arrives (:mod:`._payload_split`), each ``b64_json`` payload is decoded in pieces into a
hidden temporary file beside its target, and only the small rest of the body is kept and
parsed at the end. Once the whole body has parsed, and every ``url`` image is downloaded,
the files get their names (``stem-1.png``, ``stem-2.png``, ...; see :mod:`._saving`): all of
them or, on any failure or cancellation, none, and no temporary file is left behind.
:class:`PayloadSaver` does that work for one body; batch output lines use it too.

:func:`save_event_images` drives ``ImageEventStream.save_images``: each completed image of
an event stream is written to its own new file as its event arrives.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import attrs

from ._converter import ResponseShapeError, parse_images_skeleton
from ._errors import ImageDecodeError
from ._models import CompletedImageEvent, ImagesResponse, ImageStreamEvent
from ._payload_split import Base64Pieces, BodySplitter, PayloadPiece, payload_marker
from ._saving import (
    OutputError,
    extension_for,
    open_new,
    path_inside,
    place_new,
    temporary_beside,
    write_new,
    write_new_file,
)

_T = TypeVar("_T")

#: Decoded bytes gathered before they go to the file (in a worker thread): few thread hops,
#: and at most about this much of an image held at a time.
FLUSH_BYTES = 512 * 1024
#: What a held piece costs beyond its bytes (the object itself): escapes in a payload cut
#: it into many small pieces, which must not pile up unseen.
_PIECE_OVERHEAD = 64
#: An image's first bytes, kept to tell its format when the response does not name it.
HEAD_BYTES = 64 * 1024

#: Fetches the bytes of an image URL (the client's download path).
FetchURL = Callable[[str], Awaitable[bytes]]
#: Makes the error a body that is not an images response raises: (message, body start).
InvalidBody = Callable[[str, bytes], BaseException]


@attrs.frozen(kw_only=True)
class SavedImages:
    """What ``StreamedResponse.save_images`` wrote, and the rest of the response."""

    paths: tuple[Path, ...]
    """The files written, one per image of ``response.data``, in the same order."""
    response: ImagesResponse
    """The response without its payloads: every image's ``b64_payload`` is None; ``url``,
    ``revised_prompt``, ``created``, ``usage`` and the other fields are as received."""


async def in_thread(function: Callable[..., _T], *args: object) -> _T:
    """``function(*args)`` in a worker thread; when cancelled, the thread is waited for
    first, so that nothing it writes appears after the clean-up that follows."""
    work = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):  # its failure is not the news: the cancel is
            await work
        raise


def checked_directory(directory: str | os.PathLike[str]) -> Path:
    """``directory`` as a path, or :class:`OutputError` when it is not an existing one."""
    path = Path(directory)
    if not path.is_dir():
        raise OutputError(f"cannot write into {path}: not an existing directory")
    return path


class _PayloadFile:
    """One payload decoded, piece by piece, into a temporary file."""

    def __init__(self, temporary: Path, number: int) -> None:
        self.temporary = temporary
        self.head = b""
        self._number = number
        self._file = os.fdopen(open_new(temporary), "wb")
        self._decoder = Base64Pieces()
        # Decoded pieces not written yet: kept apart (writelines), never joined.
        self._pending: list[bytes] = []
        self._pending_size = 0

    def add(self, text: bytes) -> bool:
        """Decode ``text``; True when enough is gathered to :meth:`flush`."""
        self._keep(self._decoded(self._decoder.feed, text))
        return self._pending_size >= FLUSH_BYTES

    async def flush(self) -> None:
        pieces, self._pending, self._pending_size = self._pending, [], 0
        await in_thread(self._file.writelines, pieces)

    async def complete(self) -> None:
        """The payload ended: write the rest and make the file durable, then close it."""
        self._keep(self._decoded(self._decoder.finish))
        pieces, self._pending, self._pending_size = self._pending, [], 0
        await in_thread(self._finish_file, pieces)

    def _finish_file(self, pieces: list[bytes]) -> None:
        with self._file:
            self._file.writelines(pieces)
            self._file.flush()
            os.fsync(self._file.fileno())

    def discard(self) -> None:
        self._file.close()
        self.temporary.unlink(missing_ok=True)

    def _decoded(self, decode: Callable[..., list[bytes]], *text: bytes) -> list[bytes]:
        try:
            return decode(*text)
        except binascii.Error as exc:
            message = f"payload {self._number + 1} carries malformed base64: {exc}"
            raise ImageDecodeError(message) from None

    def _keep(self, pieces: list[bytes]) -> None:
        for piece in pieces:
            if len(self.head) < HEAD_BYTES:
                self.head += piece[: HEAD_BYTES - len(self.head)]
            self._pending.append(piece)
            self._pending_size += len(piece) + _PIECE_OVERHEAD


class PayloadSaver:
    """Payloads of one body (or one batch output line) decoded into temporary files as it
    arrives, then named: the files made so far, for clean-up."""

    def __init__(self, directory: Path, stem: str) -> None:
        self.directory = directory
        self.stem = stem  # names the temporary files only; :meth:`place` names the images
        self.payloads: dict[int, _PayloadFile] = {}
        self.temporaries: list[Path] = []  # every temporary file made, removed at the end
        self.placed: list[Path] = []
        self.decode_error: ImageDecodeError | None = None
        """The first payload found malformed, when :meth:`receive` was told to go on."""

    async def receive(
        self, chunks: AsyncIterator[bytes], *, past_bad_payload: bool = False
    ) -> bytes:
        """Read ``chunks`` to the end, payloads into files; returns the skeleton. A
        malformed payload raises :class:`ImageDecodeError`, or with ``past_bad_payload``
        is kept in :attr:`decode_error` while the rest is split (no more files written)."""
        splitter = BodySplitter()
        async for chunk in chunks:
            for piece in splitter.feed(chunk):
                if self.decode_error is not None:
                    continue
                try:
                    await self._write(piece)
                except ImageDecodeError as error:
                    if not past_bad_payload:
                        raise
                    self.decode_error = error
        return splitter.skeleton()

    async def _write(self, piece: PayloadPiece) -> None:
        file = self.payloads.get(piece.payload) or self._new_payload(piece.payload)
        if file.add(piece.text) and not piece.last:
            await file.flush()
        if piece.last:
            await file.complete()

    def _new_payload(self, payload: int) -> _PayloadFile:
        temporary = temporary_beside(path_inside(self.directory, f"{self.stem}-{payload}"))
        self.temporaries.append(temporary)
        file = self.payloads[payload] = _PayloadFile(temporary, payload)
        return file

    def check_cut(self, payloads: list[int | None]) -> None:
        """Each image's marker names a payload cut from the body, and a different one (a
        server could only forge one with a NUL in an escaped key's value: refused if so).
        Raises :class:`ResponseShapeError`."""
        named = [payload for payload in payloads if payload is not None]
        if any(p not in self.payloads for p in named) or len(set(named)) != len(named):
            raise ResponseShapeError("ImagesResponse.data: a b64_json that is not base64 text")

    async def place(
        self,
        response: ImagesResponse,
        payloads: list[int | None],
        stem: str,
        fetch_url: FetchURL | None,
    ) -> SavedImages:
        """Name the images of the parsed ``response`` (``stem-1.png``, ...), each payload's
        file once every image is complete on disk; returns them."""
        files = [
            await self._image_file(number, response, payload, fetch_url)
            for number, payload in enumerate(payloads, start=1)
        ]
        # Only now, every image complete on disk, do the files get their names: here on the
        # loop, not in a thread, so a cancellation cannot leave a name given behind our back
        # (links and renames of files already made durable take microseconds).
        for number, (temporary, head) in enumerate(files, start=1):
            extension = extension_for(response.output_format, head)
            self.placed.append(place_new(temporary, self.directory, f"{stem}-{number}", extension))
        images = tuple(attrs.evolve(image, b64_payload=None) for image in response.data)
        return SavedImages(paths=tuple(self.placed), response=attrs.evolve(response, data=images))

    async def _image_file(
        self,
        number: int,
        response: ImagesResponse,
        payload: int | None,
        fetch_url: FetchURL | None,
    ) -> tuple[Path, bytes]:
        """The complete temporary file of image ``number`` (from 1), and its first bytes."""
        image = response.data[number - 1]
        if payload is not None:
            file = self.payloads[payload]
            return file.temporary, file.head
        if image.b64_payload is not None:
            content = image.decode()
        elif image.url is not None and fetch_url is not None:
            content = await fetch_url(image.url)
        elif image.url is not None:
            raise ImageDecodeError(f"image {number} came as a URL, and no client can fetch it")
        else:
            raise ImageDecodeError(f"image {number} has neither b64_json nor url")
        temporary = temporary_beside(path_inside(self.directory, f"{self.stem}-{number}"))
        self.temporaries.append(temporary)
        await in_thread(write_new, temporary, content)
        return temporary, content[:HEAD_BYTES]

    def clean_up(self, failed: bool) -> None:
        """Remove every temporary file; and, when ``failed``, the files named so far."""
        for file in self.payloads.values():
            file.discard()  # closed already, unless the body stopped inside its payload
        for temporary in self.temporaries:
            temporary.unlink(missing_ok=True)
        for path in self.placed if failed else ():
            path.unlink(missing_ok=True)


async def save_body_images(
    chunks: AsyncIterator[bytes],
    directory: Path,
    stem: str,
    *,
    fetch_url: FetchURL | None,
    invalid_body: InvalidBody,
) -> SavedImages:
    """Save the images of the JSON body ``chunks`` make to new files in ``directory``.

    Raises what parsing and decoding in memory would: ``invalid_body(...)`` for a body
    that is not an images response (a truncated one included), :class:`ImageDecodeError`
    for a payload that is not valid base64; then no file is left, temporary or final.
    """
    saver = PayloadSaver(directory, stem)
    failed = True
    try:
        skeleton = await saver.receive(chunks)
        try:
            response, payloads = parse_images_skeleton(skeleton, payload_marker)
            saver.check_cut(payloads)
        except ResponseShapeError as exc:
            message = f"unexpected response body: {exc}"
            raise invalid_body(message, skeleton[:1000]) from None
        saved = await saver.place(response, payloads, stem, fetch_url)
        failed = False
    finally:
        saver.clean_up(failed)
    return saved


async def save_event_images(
    events: AsyncIterator[ImageStreamEvent], directory: Path, stem: str
) -> list[Path]:
    """Write each completed image of ``events`` to a new file in ``directory`` as it
    arrives (``stem-1.png``, ...); returns their paths. Partial images are not saved."""
    paths: list[Path] = []
    async for event in events:
        if isinstance(event, CompletedImageEvent):
            content = event.decode()
            extension = extension_for(event.output_format, content[:HEAD_BYTES])
            name = f"{stem}-{len(paths) + 1}"
            paths.append(await in_thread(write_new_file, directory, name, extension, content))
    return paths
