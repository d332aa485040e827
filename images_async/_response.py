"""Response objects of the raw and streaming modes, and the server-sent event stream.

* :class:`RawResponse` — the body read in full, with status, headers and ``parse()``.
* :class:`StreamedResponse` — the body not read yet; iterate it in chunks, lines or events.
* :class:`ImageEventStream` — what ``generate(stream=True)`` returns: parsed events.

Each of them releases its connection when the body is finished, and on ``close``.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from types import TracebackType
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from ._converter import ResponseShapeError, parse_images_response, parse_stream_event
from ._errors import APIResponseValidationError
from ._models import ImagesResponse, ImageStreamEvent
from ._transport import OpenResponse, _aiohttp_errors_mapped


def _validation_error(info: _ResponseInfo, message: str, body: bytes) -> APIResponseValidationError:
    return APIResponseValidationError(
        message,
        status_code=info.status_code,
        body=body[:1000],
        request_id=info.request_id,
        retries_taken=info.retries_taken,
    )


def _parse_images_body(info: _ResponseInfo, content: bytes) -> ImagesResponse:
    try:
        return parse_images_response(content)
    except ResponseShapeError as exc:
        raise _validation_error(info, f"unexpected response body: {exc}", content) from None


class _ResponseInfo:
    """Status line and headers shared by raw and streamed responses."""

    def __init__(self, opened: OpenResponse) -> None:
        response = opened.response
        self.status_code: int = response.status
        self.headers: CIMultiDictProxy[str] = response.headers
        self._url = response.url
        self.retries_taken: int = opened.retries_taken
        self.elapsed = datetime.timedelta(seconds=time.monotonic() - opened.started)

    @property
    def url(self) -> str:
        """The URL the request went to."""
        return str(self._url)

    @property
    def request_id(self) -> str | None:
        """The ``x-request-id`` header: quote it when reporting a problem."""
        return self.headers.get("x-request-id")

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


class RawResponse(_ResponseInfo):
    """A response whose body has been read in full."""

    def __init__(self, opened: OpenResponse, content: bytes) -> None:
        super().__init__(opened)
        #: The body as received.
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def parse(self) -> ImagesResponse:
        """The body as an :class:`ImagesResponse`."""
        return _parse_images_body(self, self.content)

    def events(self) -> list[ImageStreamEvent]:
        """The events of a streamed call (``stream=True``) whose body was read in full."""
        events = []
        for data in _sse_data_blocks(self.content.splitlines()):
            try:
                events.append(parse_stream_event(data))
            except ResponseShapeError as exc:
                raise _validation_error(self, f"unexpected stream event: {exc}", data) from None
        return events

    def __repr__(self) -> str:
        return (
            f"<RawResponse status_code={self.status_code} request_id={self.request_id!r} "
            f"bytes={len(self.content)}>"
        )


def _sse_data_blocks(lines: list[bytes]) -> list[bytes]:
    parser = _SSEParser()
    blocks = [block for line in lines if (block := parser.feed(line)) is not None]
    if (last := parser.feed(b"")) is not None:
        blocks.append(last)
    return blocks


class _SSEParser:
    """Joins ``data:`` lines into one payload per event (the rest of SSE is not used)."""

    def __init__(self) -> None:
        self._data: list[bytes] = []

    def feed(self, line: bytes) -> bytes | None:
        """Feed one line without its ending; returns an event's data when one completes."""
        if not line:
            data, self._data = self._data, []
            return b"\n".join(data) if data else None
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)
        return None


class StreamedResponse(_ResponseInfo):
    """A response whose body is read as you iterate; the connection is freed at the end."""

    def __init__(self, opened: OpenResponse, max_bytes: int) -> None:
        super().__init__(opened)
        self._response: aiohttp.ClientResponse = opened.response
        self._max_bytes = max_bytes
        self._consumed = False

    async def iter_bytes(self, chunk_size: int | None = None) -> AsyncGenerator[bytes, None]:
        """The body in chunks as they arrive, or in chunks of ``chunk_size`` bytes.

        With ``chunk_size`` every chunk but the last holds exactly that many bytes.
        """
        self._start_consuming()
        try:
            async with _aiohttp_errors_mapped():
                content = self._response.content
                if not chunk_size:
                    async for chunk in content.iter_any():
                        yield chunk
                else:
                    # aiohttp's chunks are at most chunk_size long, often shorter: regroup
                    # them. ``pending`` stays below 2 * chunk_size, so one cut per step does.
                    pending = b""
                    async for chunk in content.iter_chunked(chunk_size):
                        pending += chunk
                        if len(pending) >= chunk_size:
                            yield pending[:chunk_size]
                            pending = pending[chunk_size:]
                    if pending:
                        yield pending
            self._response.release()
        finally:
            self._response.close()

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
                    if len(pending) > self._max_bytes:
                        message = f"a line is longer than max_response_bytes={self._max_bytes}"
                        raise _validation_error(self, message, b"")
                    continue
                start = 0
                while (end := pending.find(b"\n", max(start, searched))) >= 0:
                    yield bytes(pending[start:end]).removesuffix(b"\r")
                    start = end + 1
                del pending[:start]
        if pending:
            yield bytes(pending).removesuffix(b"\r")

    async def iter_events(self) -> AsyncGenerator[ImageStreamEvent, None]:
        """The server-sent events of a ``stream=True`` call, parsed."""
        parser = _SSEParser()
        async with contextlib.aclosing(self._iter_raw_lines()) as lines:
            async for line in lines:
                if (data := parser.feed(line)) is not None:
                    yield self._parse_event(data)
        if (data := parser.feed(b"")) is not None:
            yield self._parse_event(data)

    def _parse_event(self, data: bytes) -> ImageStreamEvent:
        try:
            return parse_stream_event(data)
        except ResponseShapeError as exc:
            raise _validation_error(self, f"unexpected stream event: {exc}", data) from None

    async def read(self) -> bytes:
        """The rest of the body, at most ``max_response_bytes``."""
        chunks: list[bytes] = []
        size = 0
        async with contextlib.aclosing(self.iter_bytes()) as body:
            async for chunk in body:
                size += len(chunk)
                if size > self._max_bytes:
                    message = f"the response is larger than max_response_bytes={self._max_bytes}"
                    raise _validation_error(self, message, b"")
                chunks.append(chunk)
        return b"".join(chunks)

    async def parse(self) -> ImagesResponse:
        """Read the body and parse it as an :class:`ImagesResponse`."""
        return _parse_images_body(self, await self.read())

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
    ``aclose()``) to free the connection when you stop early.
    """

    def __init__(self, response: StreamedResponse) -> None:
        #: The underlying response (status, headers, request id).
        self.response = response
        self._events = response.iter_events()

    def __aiter__(self) -> AsyncIterator[ImageStreamEvent]:
        return self

    async def __anext__(self) -> ImageStreamEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
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
