"""Response objects of the raw and streaming modes, and the server-sent event stream.

* :class:`RawResponse` — the body read in full, with status, headers and ``parse()``.
* :class:`StreamedResponse` — the body not read yet; iterate it in chunks, lines or events.
* :class:`ImageEventStream` — what ``generate(stream=True)`` returns: parsed events.

Both of the latter can save their images to disk as they arrive (:mod:`._stream_saving`).

Each of them releases its connection when the body is finished, and on ``close``. Bodies
arrive decoded (gzip, deflate) from the transport; ``max_response_bytes`` counts decoded bytes.
A stream of events never ends quietly without its image: see
:meth:`StreamedResponse.iter_events`.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import functools
import json
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Mapping,
)
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from multidict import CIMultiDictProxy
from yarl import URL

from ._converter import ResponseShapeError, parse_stream_event
from ._errors import APIResponseValidationError, stream_event_error
from ._models import CompletedImageEvent, ImagesResponse, ImageStreamEvent, UnknownStreamEvent
from ._response_info import ResponseInfo as ResponseInfo
from ._response_info import parse_images_body as parse_images_body
from ._response_info import validation_error
from ._saving import path_inside
from ._sse import SSEBlock, SSEParser, sse_blocks
from ._stream_saving import (
    FetchURL,
    SavedImages,
    checked_directory,
    save_body_images,
    save_event_images,
)


class ResponseBody(Protocol):
    """The body of a response not read yet, as the transport hands it over."""

    def chunks(self, limit: int | None = None) -> AsyncGenerator[bytes, None]:
        """The decoded body, raising :class:`APIResponseValidationError` past ``limit``."""
        ...

    def release(self) -> None:
        """Give the connection back (the body was read to its end)."""

    def close(self) -> None:
        """Drop the connection."""


class IncompleteStreamError(APIResponseValidationError):
    """A ``stream=True`` call whose answer ended without its final image.

    Either the event stream stopped before any ``*.completed`` event, or the server answered
    with plain JSON whose images cannot be replayed as events; ``response`` then holds it.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: bytes,
        request_id: str | None = None,
        response: ImagesResponse | None = None,
        retries_taken: int = 0,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            body=body,
            request_id=request_id,
            retries_taken=retries_taken,
        )
        #: The parsed JSON answer, when the server sent one instead of events.
        self.response = response


class RawResponse(ResponseInfo):
    """A response whose body has been read in full."""

    def __init__(
        self,
        *,
        status_code: int,
        headers: CIMultiDictProxy[str],
        url: str | URL,
        content: bytes,
        retries_taken: int = 0,
        elapsed: datetime.timedelta = datetime.timedelta(0),
    ) -> None:
        super().__init__(
            status_code=status_code,
            headers=headers,
            url=url,
            retries_taken=retries_taken,
            elapsed=elapsed,
        )
        self._chunks = [content]

    @classmethod
    def _from_chunks(cls, info: ResponseInfo, chunks: list[bytes]) -> RawResponse:
        """Internal: ``info``'s response, its body the ``chunks`` read (joined if asked for)."""
        self = cls.__new__(cls)
        vars(self).update(vars(info), _chunks=chunks)
        return self

    @property
    def content(self) -> bytes:
        """The body as received, its content coding (gzip, deflate) undone."""
        if len(self._chunks) != 1:
            self._chunks = [b"".join(self._chunks)]
        return self._chunks[0]

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (any JSON value)."""
        return json.loads(self.content)

    def parse(self) -> ImagesResponse:
        """The body as an :class:`ImagesResponse`."""
        return parse_images_body(self, list(self._chunks))  # parsing empties the copied list

    def events(self) -> list[ImageStreamEvent]:
        """The events of a streamed call (``stream=True``) whose body was read in full.

        Raises where iterating them would: see :meth:`StreamedResponse.iter_events`.
        """
        if self.content_type == "application/json":
            return list(_replayed_events(self, self.content))
        checker = _EventChecker(self)
        events = [checker.parse(block) for block in sse_blocks(self.content.splitlines())]
        checker.finish()
        return events

    def __repr__(self) -> str:
        return (
            f"<RawResponse status_code={self.status_code} request_id={self.request_id!r} "
            f"bytes={sum(map(len, self._chunks))}>"
        )


class _EventChecker:
    """Parses a stream's events and holds it to its promise: an image, or an error.

    An ``error`` event raises :class:`APIStreamError`; :meth:`finish` raises
    :class:`IncompleteStreamError` when no ``*.completed`` event came.
    """

    def __init__(self, info: ResponseInfo) -> None:
        self._info = info
        self._completed = False

    def parse(self, block: SSEBlock) -> ImageStreamEvent:
        try:
            event = parse_stream_event(block.data)
        except ResponseShapeError as exc:
            self._raise_if_error(block.name, _json_object(block.data))
            message = f"unexpected stream event: {exc}"
            raise validation_error(self._info, message, block.data) from None
        if isinstance(event, UnknownStreamEvent):
            self._raise_if_error(block.name, event.data)
        self._completed = self._completed or isinstance(event, CompletedImageEvent)
        return event

    def finish(self) -> None:
        if not self._completed:
            raise _incomplete(self._info, "the event stream ended without a completed image")

    def _raise_if_error(self, name: str, document: Mapping[str, Any] | None) -> None:
        if document is None:
            return
        kind = str(document.get("type") or name)
        if kind == "error" or kind.endswith(".error") or isinstance(document.get("error"), dict):
            raise stream_event_error(
                document,
                request_id=self._info.request_id,
                retries_taken=self._info.retries_taken,
            )


def _json_object(data: bytes) -> Mapping[str, Any] | None:
    try:
        document = json.loads(data)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _incomplete(
    info: ResponseInfo, message: str, response: ImagesResponse | None = None
) -> IncompleteStreamError:
    return IncompleteStreamError(
        message,
        status_code=info.status_code,
        body=b"",
        request_id=info.request_id,
        response=response,
        retries_taken=info.retries_taken,
    )


def _replayed_events(info: ResponseInfo, content: bytes) -> list[CompletedImageEvent]:
    """A plain JSON answer to ``stream=True`` as the completed events a stream ends with.

    A proxy that drops ``stream`` makes the server answer so; the images are paid for, so
    they are handed on rather than lost. Images without inline data (or none at all) cannot
    be events: :class:`IncompleteStreamError` then carries the parsed answer.
    """
    response = parse_images_body(info, [content])
    if not response.data or any(image.b64_payload is None for image in response.data):
        message = "a stream=True call got plain JSON without inline images (see .response)"
        raise _incomplete(info, message, response)
    kind = "image_edit" if info._url.path.endswith("/edits") else "image_generation"
    return [
        CompletedImageEvent(
            type=f"{kind}.completed",
            created_at=response.created,
            size=response.size,
            quality=response.quality,
            background=response.background,
            output_format=response.output_format,
            usage=response.usage,
            b64_payload=image.b64_payload,
        )
        for image in response.data
    ]


async def _regrouped(chunks: AsyncGenerator[bytes, None], size: int) -> AsyncGenerator[bytes, None]:
    """``chunks`` re-cut into pieces of exactly ``size`` bytes, but for the last."""
    # A bytearray grows in amortised O(1), and one cut per chunk keeps it small.
    pending = bytearray()
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            pending += chunk
            whole = len(pending) - len(pending) % size
            for start in range(0, whole, size):
                yield bytes(pending[start : start + size])
            del pending[:whole]
    if pending:
        yield bytes(pending)


class StreamedResponse(ResponseInfo):
    """A response whose body is read as you iterate; the connection is freed at the end.

    The client makes these; one holds a live connection.
    """

    _response: ResponseBody
    _max_bytes: int
    _consumed: bool
    _fetch_url: FetchURL | None

    @classmethod
    def _open(
        cls,
        body: ResponseBody,
        info: ResponseInfo,
        max_bytes: int,
        fetch_url: FetchURL | None = None,
    ) -> StreamedResponse:
        """Internal: the response ``info`` describes, its unread ``body`` capped at
        ``max_bytes`` decoded bytes; ``fetch_url`` downloads the images given as URLs."""
        self = cls.__new__(cls)
        vars(self).update(vars(info), _response=body, _max_bytes=max_bytes, _consumed=False)
        vars(self).update(_fetch_url=fetch_url)
        return self

    async def iter_bytes(self, chunk_size: int | None = None) -> AsyncGenerator[bytes, None]:
        """The body in chunks as they arrive, or in chunks of ``chunk_size`` bytes.

        With ``chunk_size`` every chunk but the last holds exactly that many bytes. The body
        comes decoded (gzip, deflate); past ``max_response_bytes`` decoded bytes, iterating
        raises :class:`APIResponseValidationError`.
        """
        self._start_consuming()
        chunks = self._capped_chunks()
        if chunk_size:
            chunks = _regrouped(chunks, chunk_size)
        try:
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    yield chunk
            self._response.release()
        finally:
            self._response.close()

    async def _capped_chunks(self) -> AsyncGenerator[bytes, None]:
        async with contextlib.aclosing(self._response.chunks(self._max_bytes)) as chunks:
            try:
                async for chunk in chunks:
                    yield chunk
            except APIResponseValidationError as error:
                error.retries_taken = self.retries_taken
                raise

    async def iter_text(self, chunk_size: int | None = None) -> AsyncGenerator[str, None]:
        """The body as text (UTF-8), decoded incrementally."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        async with contextlib.aclosing(self.iter_bytes(chunk_size)) as chunks:
            async for chunk in chunks:
                if text := decoder.decode(chunk):
                    yield text
        if tail := decoder.decode(b"", final=True):
            yield tail

    async def iter_lines(self) -> AsyncGenerator[str, None]:
        """The body line by line, without line endings."""
        async with contextlib.aclosing(self._iter_raw_lines()) as lines:
            async for line in lines:
                yield line.decode("utf-8", "replace")

    async def _iter_raw_lines(self) -> AsyncGenerator[bytes, None]:
        # A bytearray grows in amortised O(1): a multi-megabyte event line arriving in small
        # chunks is not re-copied on every chunk.
        pending = bytearray()
        # aclosing: leaving early (break, an error) closes the connection now, not at GC.
        async with contextlib.aclosing(self.iter_bytes()) as chunks:
            async for chunk in chunks:
                searched = len(pending)
                pending += chunk
                if b"\n" not in chunk:
                    continue  # a line can only grow as long as the capped body
                start = 0
                while (end := pending.find(b"\n", max(start, searched))) >= 0:
                    yield bytes(pending[start:end]).removesuffix(b"\r")
                    start = end + 1
                del pending[:start]
        if pending:
            yield bytes(pending).removesuffix(b"\r")

    async def iter_events(self) -> AsyncGenerator[ImageStreamEvent, None]:
        """The server-sent events of a ``stream=True`` call, parsed.

        Never ends quietly without the image. An ``error`` event raises
        :class:`APIStreamError` (with the event's message, code, param and type); a stream
        that ends before any ``*.completed`` event raises :class:`IncompleteStreamError`
        once its other events were yielded. A plain JSON images body instead of events (a
        proxy that dropped ``stream``) is yielded as one :class:`CompletedImageEvent` per
        image; without inline images it raises :class:`IncompleteStreamError` holding it.
        """
        if self.content_type == "application/json":
            for event in _replayed_events(self, await self.read()):
                yield event
            return
        parser, checker = SSEParser(), _EventChecker(self)
        async with contextlib.aclosing(self._iter_raw_lines()) as lines:
            async for line in lines:
                if (block := parser.feed(line)) is not None:
                    yield checker.parse(block)
        if (block := parser.feed(b"")) is not None:
            yield checker.parse(block)
        checker.finish()

    async def read(self) -> bytes:
        """The rest of the body, decoded, at most ``max_response_bytes``."""
        async with contextlib.aclosing(self.iter_bytes()) as body:
            return b"".join([chunk async for chunk in body])

    async def parse(self) -> ImagesResponse:
        """Read the body and parse it as an :class:`ImagesResponse`."""
        return parse_images_body(self, [await self.read()])

    async def save_images(
        self, directory: str | os.PathLike[str], *, stem: str = "image"
    ) -> SavedImages:
        """Save the images to new files in the existing ``directory`` as the body arrives.

        Each ``b64_json`` payload is decoded in pieces into a hidden temporary file; once the
        body has parsed (and images given as URLs are downloaded) the files are named
        ``stem-1.png``, ``stem-2.png``, ... in ``response.data`` order (the extension is the
        ``output_format``, else the format the bytes show), never replacing a file: a taken
        name becomes ``stem-1-2.png``. All or nothing: a body that is not a valid images
        response (a truncated one) raises :class:`APIResponseValidationError`, a payload
        that is not valid base64 :class:`ImageDecodeError`, as :meth:`parse` and
        ``Image.decode()`` would, and no file is left, as after a cancellation.
        """
        folder = checked_directory(directory)
        path_inside(folder, stem)  # a stem that would leave the directory fails now
        async with contextlib.aclosing(self.iter_bytes()) as chunks:
            return await save_body_images(
                chunks,
                folder,
                stem,
                fetch_url=self._fetch_url,
                invalid_body=functools.partial(validation_error, self),
            )

    def _start_consuming(self) -> None:
        if self._consumed:
            raise RuntimeError("the body of a streamed response can only be read once")
        self._consumed = True

    async def close(self) -> None:
        """Drop the connection without reading the rest of the body."""
        self._response.close()

    def __repr__(self) -> str:
        return f"<StreamedResponse status_code={self.status_code} request_id={self.request_id!r}>"


class ImageEventStream:
    """The events of ``generate(..., stream=True)`` / ``edit(..., stream=True)``.

    Iterate it with ``async for``; use it as an async context manager (or call
    ``aclose()``) to free the connection when you stop early. It never ends quietly without
    the image: an ``error`` event raises :class:`APIStreamError`, a stream that ends before
    its ``*.completed`` event raises :class:`IncompleteStreamError`, and a plain JSON answer
    (a proxy dropped ``stream``) is yielded as completed events. See
    :meth:`StreamedResponse.iter_events`.
    """

    def __init__(self, response: StreamedResponse) -> None:
        #: The underlying response (status, headers, request id).
        self.response = response
        self._events = response.iter_events()

    def __aiter__(self) -> AsyncIterator[ImageStreamEvent]:
        return self

    async def __anext__(self) -> ImageStreamEvent:
        return await self._events.__anext__()

    async def save_images(
        self, directory: str | os.PathLike[str], *, stem: str = "image"
    ) -> list[Path]:
        """Read the rest of the stream, writing each completed image to a new file in the
        existing ``directory`` as its event arrives; returns their paths.

        Named as :meth:`StreamedResponse.save_images` names them; partial images are not
        saved. Raises as iterating would; the images saved before that stay.
        """
        folder = checked_directory(directory)
        path_inside(folder, stem)  # a stem that would leave the directory fails now
        try:
            return await save_event_images(self._events, folder, stem)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the connection (also done by ``async with``)."""
        await self._events.aclose()
        await self.response.close()

    async def __aenter__(self) -> ImageEventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class RawResponseContext:
    """``await`` it for a :class:`RawResponse`, or use it with ``async with``."""

    def __init__(self, call: Callable[[], Awaitable[RawResponse]]) -> None:
        self._call = call

    def __await__(self) -> Generator[Any, None, RawResponse]:
        return self._call().__await__()

    async def __aenter__(self) -> RawResponse:
        return await self._call()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None  # the body was read in full: the connection is already free


class StreamingResponseContext:
    """``async with`` it for a :class:`StreamedResponse`; the connection is freed on exit."""

    def __init__(self, call: Callable[[], Awaitable[StreamedResponse]]) -> None:
        self._call = call
        self._response: StreamedResponse | None = None

    async def __aenter__(self) -> StreamedResponse:
        self._response = await self._call()
        return self._response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._response is not None:
            await self._response.close()
