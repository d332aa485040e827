"""The sync twins of AsyncImages' results, and the base classes of the generated sync views.

Every object here runs its async counterpart's coroutines through the facade it came from
(:class:`~images_async._sync_runtime.SyncFacade`), so it shares that client's private loop.
The view classes themselves (``ImagesWithRawResponse``, ``ImagesWithStreamingResponse``) are
generated into :mod:`._sync_views` by ``scripts/generate_sync.py``: each method has the
client method's signature and hands the async view's method to :meth:`SyncRawView._send` or
:meth:`SyncStreamingView._send`.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from multidict import CIMultiDictProxy

from ._models import ImagesResponse, ImageStreamEvent
from ._response import (
    ImageEventStream,
    RawResponse,
    RawResponseContext,
    StreamedResponse,
    StreamingResponseContext,
)
from ._stream_saving import SavedImages
from ._sync_runtime import SyncFacade
from ._views import AsyncImagesWithRawResponse, AsyncImagesWithStreamingResponse

if TYPE_CHECKING:
    from typing_extensions import Self

_P = ParamSpec("_P")
_T = TypeVar("_T")


class SyncImageEventStream:
    """The events of ``generate(..., stream=True)`` for sync code: a plain iterator.

    Use it in a ``with`` block, or call :meth:`close`, to free the connection when you stop
    early; running it to the end frees it too.
    """

    def __init__(self, stream: ImageEventStream, client: SyncFacade[Any]) -> None:
        """Wrap ``stream``, which ``client`` (an ``Images``) returned from a call."""
        self._client = client
        self._stream = stream
        self._events = client._iterate(stream)

    @property
    def status_code(self) -> int:
        """The HTTP status of the response."""
        return self._stream.response.status_code

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The response's headers."""
        return self._stream.response.headers

    @property
    def request_id(self) -> str | None:
        """The ``x-request-id`` header: quote it when reporting a problem."""
        return self._stream.response.request_id

    def __iter__(self) -> Iterator[ImageStreamEvent]:
        return self

    def __next__(self) -> ImageStreamEvent:
        return next(self._events)

    def save_images(self, directory: str | os.PathLike[str], *, stem: str = "image") -> list[Path]:
        """Read the rest of the stream, writing each completed image to a new file in the
        existing ``directory`` as its event arrives; returns their paths.

        Named as :meth:`SyncStreamedResponse.save_images` names them; partial images are
        not saved. Raises as iterating would; the images saved before that stay.
        """
        try:
            return self._client._call(self._stream.save_images(directory, stem=stem))
        finally:
            self.close()

    def close(self) -> None:
        """Stop reading and free the connection."""
        self._events.close()
        self._client._release(self._stream.aclose)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class SyncStreamedResponse:
    """A response whose body is read as you iterate, for sync code.

    The request is sent when first needed: on ``with``, on reading ``status_code`` or
    ``headers``, or when iteration starts. Iterating to the end, leaving the ``with`` block
    or calling :meth:`close` releases the connection, so a ``with`` block is optional.
    """

    def __init__(
        self, open_context: Callable[[], StreamingResponseContext], client: SyncFacade[Any]
    ) -> None:
        """``open_context()`` gives the async response to run on ``client`` (an ``Images``)."""
        self._client = client
        self._open_context = open_context
        self._context: StreamingResponseContext | None = None
        self._response: StreamedResponse | None = None

    def _opened(self) -> StreamedResponse:
        if self._response is None:
            context = self._open_context()
            self._response = self._client._call(context.__aenter__())
            self._context = context
        return self._response

    @property
    def status_code(self) -> int:
        """The HTTP status of the response."""
        return self._opened().status_code

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The response's headers."""
        return self._opened().headers

    @property
    def request_id(self) -> str | None:
        """The ``x-request-id`` header: quote it when reporting a problem."""
        return self._opened().request_id

    @property
    def url(self) -> str:
        """The URL the request went to."""
        return self._opened().url

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from the start of the call until the response's headers arrived."""
        return self._opened().elapsed

    @property
    def retries_taken(self) -> int:
        """How many retries were made before this response came."""
        return self._opened().retries_taken

    def _drain(self, body: Callable[[StreamedResponse], AsyncIterator[_T]]) -> Iterator[_T]:
        # Opened inside the generator: the request goes out when iteration starts, and an
        # iterator that is never started holds no connection.
        try:
            yield from self._client._iterate(body(self._opened()))
        finally:
            self.close()

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body in chunks as they arrive, or in chunks of ``chunk_size`` bytes."""
        return self._drain(lambda response: response.iter_bytes(chunk_size))

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        """The body as text (UTF-8), decoded incrementally."""
        return self._drain(lambda response: response.iter_text(chunk_size))

    def iter_lines(self) -> Iterator[str]:
        """The body line by line, without line endings."""
        return self._drain(StreamedResponse.iter_lines)

    def iter_events(self) -> Iterator[ImageStreamEvent]:
        """The server-sent events of a ``stream=True`` call, parsed."""
        return self._drain(StreamedResponse.iter_events)

    def read(self) -> bytes:
        """The rest of the body."""
        try:
            return self._client._call(self._opened().read())
        finally:
            self.close()

    def parse(self) -> ImagesResponse:
        """Read the body and parse it as an :class:`ImagesResponse`."""
        try:
            return self._client._call(self._opened().parse())
        finally:
            self.close()

    def save_images(self, directory: str | os.PathLike[str], *, stem: str = "image") -> SavedImages:
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
        try:
            return self._client._call(self._opened().save_images(directory, stem=stem))
        finally:
            self.close()

    def close(self) -> None:
        """Release the connection (idempotent)."""
        context, self._context = self._context, None
        if context is not None:
            self._client._release(lambda: context.__aexit__(None, None, None))

    def __enter__(self) -> Self:
        self._opened()  # a with block sends the request at once, as the async one does
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _facade_of(images: object, view: type) -> SyncFacade[Any]:
    if not isinstance(images, SyncFacade):
        raise TypeError(f"{view.__name__} is made by Images, not directly")
    return images


class SyncRawView:
    """Base of the generated ``ImagesWithRawResponse``: a call returns a :class:`RawResponse`."""

    def __init__(self, images: object, /) -> None:
        """Internal: a client makes its own views (``images.with_raw_response``)."""
        self._facade = _facade_of(images, type(self))
        self._async: AsyncImagesWithRawResponse = self._facade._async.with_raw_response

    def _send(
        self, method: Callable[_P, RawResponseContext], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> RawResponse:
        return self._facade._call(method(*args, **kwargs))


class SyncStreamingView:
    """Base of the generated ``ImagesWithStreamingResponse``: the request is sent on first use."""

    def __init__(self, images: object, /) -> None:
        """Internal: a client makes its own views (``images.with_streaming_response``)."""
        self._facade = _facade_of(images, type(self))
        self._async: AsyncImagesWithStreamingResponse = self._facade._async.with_streaming_response

    def _send(
        self,
        method: Callable[_P, StreamingResponseContext],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> SyncStreamedResponse:
        return SyncStreamedResponse(lambda: method(*args, **kwargs), self._facade)
