"""Hand-written runtime of the sync facade: the base of the generated ``Images`` class,
its raw and streaming views, and sync twins of the async response objects.

The generated module holds no logic: each of its methods hands a coroutine of
:class:`AsyncImages` to :meth:`SyncFacade._call`, which runs it on the client's private
event loop (:mod:`images_async._runner`) and turns async results into sync ones here.
"""

from __future__ import annotations

import datetime
import functools
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from multidict import CIMultiDictProxy

from ._errors import ConfigurationError
from ._models import ImagesResponse, ImageStreamEvent
from ._response import (
    ImageEventStream,
    RawResponse,
    StreamedResponse,
    StreamingResponseContext,
)
from ._runner import LoopThread

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._async_images import AsyncImages

_P = ParamSpec("_P")
_T = TypeVar("_T")
_R_co = TypeVar("_R_co", covariant=True)


class _ClosedOnExit:
    """``with`` support for the sync objects that hold a connection or a loop."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class SyncImageEventStream(_ClosedOnExit):
    """The events of ``generate(..., stream=True)`` for sync code: a plain iterator.

    Use it in a ``with`` block, or call :meth:`close`, to free the connection when you stop
    early; running it to the end frees it too.
    """

    def __init__(self, runner: LoopThread, stream: ImageEventStream) -> None:
        self._runner = runner
        self._stream = stream
        self._events = runner.iterate(stream)

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
        if not self._runner.closed:
            self._runner.run(self._stream.aclose())


class SyncStreamedResponse(_ClosedOnExit):
    """A response whose body is read as you iterate, for sync code.

    The request is sent when first needed: on ``with``, on reading ``status_code`` or
    ``headers``, or when iteration starts. Iterating to the end, leaving the ``with`` block
    or calling :meth:`close` releases the connection, so a ``with`` block is optional.
    """

    def __init__(
        self, runner: LoopThread, open_context: Callable[[], StreamingResponseContext]
    ) -> None:
        self._runner = runner
        self._open_context = open_context
        self._context: StreamingResponseContext | None = None
        self._response: StreamedResponse | None = None

    def _opened(self) -> StreamedResponse:
        if self._response is None:
            context = self._open_context()
            self._response = self._runner.run(context.__aenter__())
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
            yield from self._runner.iterate(body(self._opened()))
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
            return self._runner.run(self._opened().read())
        finally:
            self.close()

    def parse(self) -> ImagesResponse:
        """Read the body and parse it as an :class:`ImagesResponse`."""
        try:
            return self._runner.run(self._opened().parse())
        finally:
            self.close()

    def close(self) -> None:
        """Release the connection (idempotent)."""
        context, self._context = self._context, None
        if context is not None and not self._runner.closed:
            self._runner.run(context.__aexit__(None, None, None))

    def __enter__(self) -> Self:
        self._opened()  # a with block sends the request at once, as the async one does
        return self


def _to_sync(runner: LoopThread, value: object) -> Any:
    if isinstance(value, ImageEventStream):
        return SyncImageEventStream(runner, value)
    return value


def _shut_down(runner: LoopThread, client: AsyncImages) -> None:
    """Close the client's connections and stop its loop; also the finalizer, so it must not
    refer to the facade. A client that never made a call has no loop to start now."""
    if runner.started:
        runner.close(client.aclose)
    else:
        runner.close()
        client._transport.close_idle()


class SyncFacade(_ClosedOnExit):
    """Base of the generated :class:`images_async.Images`: owns the private event loop."""

    _async: AsyncImages
    _runner: LoopThread
    #: The facade a ``with_options`` client was derived from: holding it keeps its
    #: finalizer (which closes the shared loop and connections) from running too early.
    _parent: SyncFacade | None = None

    def _attach(self, async_client: AsyncImages, runner: LoopThread | None = None) -> None:
        if not async_client._transport.owns_session:
            raise ConfigurationError(
                "http_session: Images runs on a private event loop, so it cannot use a session "
                "created for another loop; use AsyncImages with your own session instead",
                option="http_session",
            )
        self._async = async_client
        self._runner = runner or LoopThread()
        # Closes the loop and the connections if the user never calls close(): at garbage
        # collection or at interpreter exit (while the daemon loop thread still runs).
        self._finalizer = weakref.finalize(self, _shut_down, self._runner, async_client)

    def _call(self, awaitable: Awaitable[Any]) -> Any:
        return _to_sync(self._runner, self._runner.run(awaitable))

    def _iterate(self, iterator: AsyncIterator[_T]) -> Iterator[_T]:
        return self._runner.iterate(iterator)

    def _derive(self, async_client: AsyncImages) -> Self:
        derived = object.__new__(type(self))
        derived._async = async_client
        derived._runner = self._runner
        derived._parent = self
        return derived

    def close(self) -> None:
        """Cancel in-flight calls, close the connections and stop the private loop.

        A client made by ``with_options`` shares its parent's loop and connections and
        leaves them open: closing it does nothing.
        """
        if self._parent is None:
            _shut_down(self._runner, self._async)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={str(self._async.base_url)!r})"


class _Mirror(Protocol[_R_co]):
    """Makes a sync view method with the parameters of the async method it is given.

    (A one-argument generic call is what lets mypy carry every overload through.)
    """

    def __call__(self, typed_like: Callable[_P, object], /) -> Callable[_P, _R_co]: ...


def _raw_mirror(images: SyncFacade, name: str) -> _Mirror[RawResponse]:
    """The sync raw-mode method ``name``, named and documented as the facade's method."""
    async_method = getattr(images._async.with_raw_response, name)

    def mirror(typed_like: Callable[_P, object]) -> Callable[_P, RawResponse]:
        def call(*args: _P.args, **kwargs: _P.kwargs) -> RawResponse:
            raw: RawResponse = images._runner.run(async_method(*args, **kwargs))
            return raw

        return functools.update_wrapper(call, getattr(images, name))

    return mirror


def _streaming_mirror(images: SyncFacade, name: str) -> _Mirror[SyncStreamedResponse]:
    """The sync streaming-mode method ``name``: the request is sent on first use."""
    async_method = getattr(images._async.with_streaming_response, name)

    def mirror(typed_like: Callable[_P, object]) -> Callable[_P, SyncStreamedResponse]:
        def call(*args: _P.args, **kwargs: _P.kwargs) -> SyncStreamedResponse:
            return SyncStreamedResponse(images._runner, lambda: async_method(*args, **kwargs))

        return functools.update_wrapper(call, getattr(images, name))

    return mirror


class ImagesWithRawResponse:
    """``images.with_raw_response``: each method returns a :class:`RawResponse`.

    ``raw = images.with_raw_response.generate(...)``; then ``raw.status_code``,
    ``raw.headers``, ``raw.request_id`` and ``raw.parse()``.
    """

    def __init__(self, images: SyncFacade) -> None:
        source = images._async
        self.generate = _raw_mirror(images, "generate")(source.generate)
        self.edit = _raw_mirror(images, "edit")(source.edit)
        self.create_variation = _raw_mirror(images, "create_variation")(source.create_variation)


class ImagesWithStreamingResponse:
    """``images.with_streaming_response``: each method returns a :class:`SyncStreamedResponse`.

    Use it in a ``with`` block, or iterate ``iter_bytes()`` directly: the request is sent
    on first use and the connection released when iteration ends.
    """

    def __init__(self, images: SyncFacade) -> None:
        source = images._async
        self.generate = _streaming_mirror(images, "generate")(source.generate)
        self.edit = _streaming_mirror(images, "edit")(source.edit)
        self.create_variation = _streaming_mirror(images, "create_variation")(
            source.create_variation
        )
