"""The sync twins of AsyncImages' results and views, and :class:`ImagesBase`, the base class
of the generated ``Images`` that converts an async result to its twin.

Every object here runs its async counterpart's coroutines through the facade it came from
(:class:`~images_async._sync_runtime.SyncFacade`), so it shares that client's private loop.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from multidict import CIMultiDictProxy

from ._async_images import AsyncImages
from ._models import ImagesResponse, ImageStreamEvent
from ._response import (
    ImageEventStream,
    RawResponse,
    StreamedResponse,
    StreamingResponseContext,
)
from ._sync_runtime import SyncFacade

if TYPE_CHECKING:
    from typing_extensions import Self

_P = ParamSpec("_P")
_T = TypeVar("_T")
_R_co = TypeVar("_R_co", covariant=True)


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
        return self._stream.response.status_code

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self._stream.response.headers

    @property
    def request_id(self) -> str | None:
        """The ``x-request-id`` header: quote it when reporting a problem."""
        return self._stream.response.request_id

    def __iter__(self) -> Iterator[ImageStreamEvent]:
        return self

    def __next__(self) -> ImageStreamEvent:
        return next(self._events)

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
        return self._opened().status_code

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self._opened().headers

    @property
    def request_id(self) -> str | None:
        return self._opened().request_id

    @property
    def url(self) -> str:
        return self._opened().url

    @property
    def elapsed(self) -> datetime.timedelta:
        return self._opened().elapsed

    @property
    def retries_taken(self) -> int:
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


class ImagesBase(SyncFacade[AsyncImages]):
    """The hand-written part of the generated :class:`images_async.Images`."""

    def _sync_stream(self, result: _T | ImageEventStream) -> _T | SyncImageEventStream:
        """``result``, with an event stream (``stream=True``) turned into its sync twin."""
        if isinstance(result, ImageEventStream):
            return SyncImageEventStream(result, self)
        return result


class _SignatureCopier(Protocol[_R_co]):
    """Makes a sync view method with the parameters of the async method it is given.

    (A one-argument generic call is what lets mypy carry every overload through.)
    """

    def __call__(self, signature_of: Callable[_P, object], /) -> Callable[_P, _R_co]: ...


def _raw_method(images: ImagesBase, name: str) -> _SignatureCopier[RawResponse]:
    """The sync raw-mode method ``name``, named and documented as the facade's method."""
    async_method = getattr(images._async.with_raw_response, name)

    def copier(signature_of: Callable[_P, object]) -> Callable[_P, RawResponse]:
        def call(*args: _P.args, **kwargs: _P.kwargs) -> RawResponse:
            raw: RawResponse = images._call(async_method(*args, **kwargs))
            return raw

        return functools.update_wrapper(call, getattr(images, name))

    return copier


def _streaming_method(images: ImagesBase, name: str) -> _SignatureCopier[SyncStreamedResponse]:
    """The sync streaming-mode method ``name``: the request is sent on first use."""
    async_method = getattr(images._async.with_streaming_response, name)

    def copier(signature_of: Callable[_P, object]) -> Callable[_P, SyncStreamedResponse]:
        def call(*args: _P.args, **kwargs: _P.kwargs) -> SyncStreamedResponse:
            return SyncStreamedResponse(lambda: async_method(*args, **kwargs), images)

        return functools.update_wrapper(call, getattr(images, name))

    return copier


class ImagesWithRawResponse:
    """``images.with_raw_response``: each method returns a :class:`RawResponse`.

    ``raw = images.with_raw_response.generate(...)``; then ``raw.status_code``,
    ``raw.headers``, ``raw.request_id`` and ``raw.parse()``.
    """

    def __init__(self, images: ImagesBase) -> None:
        source = images._async
        self.generate = _raw_method(images, "generate")(source.generate)
        self.edit = _raw_method(images, "edit")(source.edit)
        self.create_variation = _raw_method(images, "create_variation")(source.create_variation)


class ImagesWithStreamingResponse:
    """``images.with_streaming_response``: each method returns a :class:`SyncStreamedResponse`.

    Use it in a ``with`` block, or iterate ``iter_bytes()`` directly: the request is sent
    on first use and the connection released when iteration ends.
    """

    def __init__(self, images: ImagesBase) -> None:
        source = images._async
        self.generate = _streaming_method(images, "generate")(source.generate)
        self.edit = _streaming_method(images, "edit")(source.edit)
        self.create_variation = _streaming_method(images, "create_variation")(
            source.create_variation
        )
