"""A tiny async client with a member of every shape ``scripts/generate_sync.py`` supports.

``fixture_sync.py`` next to it is generated from this module.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from types import TracebackType
from typing import Literal, overload

from ._models import Stream, Widget

DEFAULT_SCALE = 2


class AsyncWidgets:
    """Async widget client: ``async with AsyncWidgets() as widgets: ...`` or :meth:`aclose`.

    Then ``await widgets.get(1)`` and ``async for widget in widgets.iter_widgets(): ...``.
    """

    _instances = 0  # private class attributes are not generated

    def __init__(
        self,
        name: str = "widgets",
        *,
        scale: int = DEFAULT_SCALE,
        labels: Mapping[str, str] | None = None,
        loop_hint: object = None,
    ) -> None:
        self._name = name
        self._loop_hint = loop_hint  # the sync facade cannot take this one (a drop rule)
        self._scale = scale
        self._labels = dict(labels or {})
        self._closed = False

    @property
    def name(self) -> str:
        """The name given to the client."""
        return self._name

    @property
    def is_closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Close the client."""
        self._closed = True

    async def __aenter__(self) -> AsyncWidgets:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r})"

    def with_options(self, *, scale: int | None = None) -> AsyncWidgets:
        """A client like this one with another ``scale``."""
        scale = self._scale if scale is None else scale
        return AsyncWidgets(self._name, scale=scale, labels=self._labels)

    @functools.cached_property
    def with_raw_response(self) -> AsyncWidgetsWithRawResponse:
        """The same methods, returning plain dicts."""
        return AsyncWidgetsWithRawResponse(self)

    async def get(
        self, widget_id: int, verbose: bool = False, *, label: str | None = None
    ) -> Widget:
        """The widget ``widget_id``, its size scaled by the client's scale."""
        label = label if label is not None else self._labels.get(str(widget_id), "")
        return Widget(id=widget_id, size=widget_id * self._scale, label=label, verbose=verbose)

    async def join(self, prefix: str, *parts: str, sep: str = "-", **extra: str) -> str:
        """``prefix`` and ``parts`` joined by ``sep``, then ``key=value`` for each extra."""
        return sep.join([prefix, *parts, *(f"{key}={value}" for key, value in extra.items())])

    async def rescale(self, factor: int, /) -> None:
        """Multiply the scale by ``factor``."""
        self._scale *= factor

    @overload
    async def fetch(self, widget_id: int, *, stream: Literal[False] = False) -> Widget: ...

    @overload
    async def fetch(self, widget_id: int, *, stream: Literal[True]) -> Stream: ...

    @overload
    async def fetch(self, widget_id: int, *, stream: bool = False) -> Widget | Stream: ...

    async def fetch(self, widget_id: int, *, stream: bool = False) -> Widget | Stream:
        """One widget, or with ``stream=True`` a :class:`Stream` of its parts.

        ``async for part in await widgets.fetch(1, stream=True): ...``
        """
        widget = await self.get(widget_id)
        return Stream([widget.size] * 3) if stream else widget

    async def iter_widgets(self, *, limit: int = 3) -> AsyncIterator[Widget]:
        """The first ``limit`` widgets, one at a time."""
        for widget_id in range(1, limit + 1):
            yield await self.get(widget_id)

    async def countdown(self, start: int) -> AsyncGenerator[int, None]:
        """``start`` down to 1."""
        for value in range(start, 0, -1):
            yield value

    def watch(self, path: str | os.PathLike[str]) -> AsyncIterator[str]:
        """The parts of ``path``: a plain method returning an async iterator."""
        return self._watch(os.fspath(path))

    async def _watch(self, path: str) -> AsyncIterator[str]:
        for part in path.split("/"):
            yield part


class AsyncWidgetsWithRawResponse:
    """``widgets.with_raw_response``: the widget as a dict."""

    def __init__(self, widgets: AsyncWidgets) -> None:
        self._widgets = widgets

    async def get(self, widget_id: int) -> dict[str, int]:
        widget = await self._widgets.get(widget_id)
        return {"id": widget.id, "size": widget.size}
