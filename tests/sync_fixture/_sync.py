"""Stand-in for ``images_async/_sync.py``: the runtime the generated fixture facade needs.

Each facade owns an event loop of its own and runs coroutines on it with
``run_until_complete``; results of type :class:`Stream` become :class:`SyncStream`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._models import Stream

if TYPE_CHECKING:
    from typing_extensions import Self

    from .fixture_async import AsyncWidgets
    from .fixture_sync import Widgets

_T = TypeVar("_T")


def _iterate(loop: asyncio.AbstractEventLoop, iterator: AsyncIterator[_T]) -> Iterator[_T]:
    while True:
        try:
            yield loop.run_until_complete(iterator.__anext__())
        except StopAsyncIteration:
            return


class SyncStream:
    """A :class:`Stream` for sync code: a plain iterator."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stream: Stream) -> None:
        self._parts = _iterate(loop, stream)

    def __iter__(self) -> Iterator[int]:
        return self._parts


class SyncFacade:
    """Base of the generated ``Widgets``."""

    _async: AsyncWidgets
    _loop: asyncio.AbstractEventLoop

    def _attach(self, async_client: AsyncWidgets) -> None:
        self._async = async_client
        self._loop = asyncio.new_event_loop()

    def _call(self, awaitable: Awaitable[Any]) -> Any:
        result = self._loop.run_until_complete(awaitable)
        return SyncStream(self._loop, result) if isinstance(result, Stream) else result

    def _iterate(self, iterator: AsyncIterator[_T]) -> Iterator[_T]:
        return _iterate(self._loop, iterator)

    def _derive(self, async_client: AsyncWidgets) -> Self:
        derived = object.__new__(type(self))
        derived._async = async_client
        derived._loop = self._loop
        return derived

    def close(self) -> None:
        """Close the async client and the loop."""
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._async.aclose())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._async.name!r})"


class WidgetsWithRawResponse:
    """``widgets.with_raw_response`` for sync code."""

    def __init__(self, widgets: Widgets) -> None:
        self._widgets = widgets

    def get(self, widget_id: int) -> dict[str, int]:
        """The widget as a dict."""
        raw: dict[str, int] = self._widgets._call(
            self._widgets._async.with_raw_response.get(widget_id)
        )
        return raw
