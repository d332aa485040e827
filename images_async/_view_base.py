"""The hand-written runtime of the generated async views in :mod:`._views`.

``scripts/generate_sync.py`` writes each view method with the client method's exact
signature and docstring; its body only hands the endpoint's preparer (from :mod:`._prepare`)
and the call's arguments to :meth:`AsyncRawView._send` or :meth:`AsyncStreamingView._send`,
which send the prepared request through the client's :class:`CallSender` in their mode.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, runtime_checkable

from ._prepare import PreparedRequest
from ._response import RawResponse, RawResponseContext, StreamedResponse, StreamingResponseContext
from ._sending import CallSender

_P = ParamSpec("_P")
#: An endpoint's preparer: ``validate_requests`` first, then the method's parameters.
_Preparer = Callable[Concatenate[bool, _P], Awaitable[PreparedRequest]]


@runtime_checkable
class _ViewedClient(Protocol):
    """What a view needs of :class:`AsyncImages` (named structurally: no import upwards)."""

    @property
    def _sender(self) -> CallSender: ...


class AsyncView:
    """Base of a generated async view: holds the sender of the client it views."""

    def __init__(self, images: object, /) -> None:
        """Internal: a client makes its own views (``images.with_raw_response``)."""
        if not isinstance(images, _ViewedClient):
            raise TypeError(f"{type(self).__name__} is made by AsyncImages, not directly")
        self._sender = images._sender


class AsyncRawView(AsyncView):
    """Base of ``AsyncImagesWithRawResponse``: a call gives a :class:`RawResponseContext`."""

    def _send(
        self, prepare: _Preparer[_P], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> RawResponseContext:
        sender = self._sender

        async def send() -> RawResponse:
            request = await prepare(sender.options.validate_requests, *args, **kwargs)
            return await sender.raw(request)

        return RawResponseContext(send)


class AsyncStreamingView(AsyncView):
    """Base of ``AsyncImagesWithStreamingResponse``: a call gives a streaming context."""

    def _send(
        self, prepare: _Preparer[_P], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> StreamingResponseContext:
        sender = self._sender

        async def send() -> StreamedResponse:
            request = await prepare(sender.options.validate_requests, *args, **kwargs)
            return await sender.streamed(request)

        return StreamingResponseContext(send)
