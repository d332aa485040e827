"""``with_raw_response`` and ``with_streaming_response``: the endpoints in other modes.

A view's methods take exactly the parameters of the client's methods (they are typed from
the preparers in :mod:`._prepare`, and carry the client method's name, signature and
docstring); they send through the client's :class:`CallSender` in their own mode.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol

from ._prepare import PreparedRequest, prepare_edit, prepare_generate, prepare_variation
from ._response import (
    RawResponse,
    RawResponseContext,
    StreamedResponse,
    StreamingResponseContext,
)
from ._sending import CallSender

_P = ParamSpec("_P")
_Preparer = Callable[Concatenate[bool, _P], Awaitable[PreparedRequest]]


class _ViewedClient(Protocol):
    """What a view needs of :class:`AsyncImages` (named structurally: no import upwards)."""

    @property
    def _sender(self) -> CallSender: ...

    def generate(self, *args: Any, **kwargs: Any) -> object: ...

    def edit(self, *args: Any, **kwargs: Any) -> object: ...

    def create_variation(self, *args: Any, **kwargs: Any) -> object: ...


def _raw_method(
    sender: CallSender, prepare: _Preparer[_P], documented_by: object
) -> Callable[_P, RawResponseContext]:
    validate = sender.options.validate_requests

    def call(*args: _P.args, **kwargs: _P.kwargs) -> RawResponseContext:
        async def send() -> RawResponse:
            return await sender.raw(await prepare(validate, *args, **kwargs))

        return RawResponseContext(send)

    return functools.update_wrapper(call, documented_by)  # type: ignore[arg-type]


def _streaming_method(
    sender: CallSender, prepare: _Preparer[_P], documented_by: object
) -> Callable[_P, StreamingResponseContext]:
    validate = sender.options.validate_requests

    def call(*args: _P.args, **kwargs: _P.kwargs) -> StreamingResponseContext:
        async def send() -> StreamedResponse:
            return await sender.streamed(await prepare(validate, *args, **kwargs))

        return StreamingResponseContext(send)

    return functools.update_wrapper(call, documented_by)  # type: ignore[arg-type]


class AsyncImagesWithRawResponse:
    """``images.with_raw_response``: each method gives a :class:`RawResponse`.

    ``raw = await images.with_raw_response.generate(...)`` or
    ``async with images.with_raw_response.generate(...) as raw: ...``; then
    ``raw.status_code``, ``raw.headers``, ``raw.request_id`` and ``raw.parse()``.
    """

    def __init__(self, images: _ViewedClient) -> None:
        """The view of ``images`` (an :class:`AsyncImages`)."""
        sender = images._sender
        self.generate = _raw_method(sender, prepare_generate, images.generate)
        self.edit = _raw_method(sender, prepare_edit, images.edit)
        self.create_variation = _raw_method(sender, prepare_variation, images.create_variation)


class AsyncImagesWithStreamingResponse:
    """``images.with_streaming_response``: each method gives an unread :class:`StreamedResponse`.

    ``async with images.with_streaming_response.generate(...) as response:`` then iterate
    ``response.iter_bytes()`` (or lines, text, events); the connection is released on exit.
    """

    def __init__(self, images: _ViewedClient) -> None:
        """The view of ``images`` (an :class:`AsyncImages`)."""
        sender = images._sender
        self.generate = _streaming_method(sender, prepare_generate, images.generate)
        self.edit = _streaming_method(sender, prepare_edit, images.edit)
        self.create_variation = _streaming_method(
            sender, prepare_variation, images.create_variation
        )
