"""The hand-written part of the fixture facade, on the package's own sync runtime.

``WidgetsBase`` is to the generated ``Widgets`` what ``ImagesBase`` is to ``Images``: it
converts a :class:`Stream` result into a :class:`SyncStream` and provides the raw view.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from images_async._sync_runtime import SyncFacade

from ._models import Stream
from .fixture_async import AsyncWidgets

_T = TypeVar("_T")


class SyncStream:
    """A :class:`Stream` for sync code: a plain iterator."""

    def __init__(self, stream: Stream, client: SyncFacade[Any]) -> None:
        self._parts = client._iterate(stream)

    def __iter__(self) -> Iterator[int]:
        return self._parts


class WidgetsBase(SyncFacade[AsyncWidgets]):
    """Base of the generated ``Widgets``."""

    def _sync_stream(self, result: _T | Stream) -> _T | SyncStream:
        return SyncStream(result, self) if isinstance(result, Stream) else result


class WidgetsWithRawResponse:
    """``widgets.with_raw_response`` for sync code."""

    def __init__(self, widgets: WidgetsBase) -> None:
        self._widgets = widgets

    def get(self, widget_id: int) -> dict[str, int]:
        """The widget as a dict."""
        return self._widgets._call(self._widgets._async.with_raw_response.get(widget_id))
