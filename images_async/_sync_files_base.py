""":class:`StoredFilesBase`, the hand-written base of the generated sync Files client.

``StoredFiles`` (generated into :mod:`._sync_stored_files`) is the ``files`` of an ``Images``:
it holds no loop of its own, but runs each call on the private loop of the facade it came
from, and gives a file's content as a :class:`SyncStreamedResponse` over that loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ._response import StreamingResponseContext
from ._stored_files import AsyncStoredFiles
from ._sync_runtime import SyncFacade
from ._sync_streams import SyncStreamedResponse

_T = TypeVar("_T")


class StoredFilesBase:
    """The runtime of the generated ``StoredFiles``: the loop of the ``Images`` it belongs to."""

    def __init__(self, images: object, /) -> None:
        """Internal: a client makes its own (``images.files``)."""
        if not isinstance(images, SyncFacade):
            raise TypeError(f"{type(self).__name__} is made by Images, not directly")
        self._facade: SyncFacade[Any] = images
        self._async: AsyncStoredFiles = images._async.files

    def _call(self, awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` on the client's private loop and return its result."""
        return self._facade._call(awaitable)

    def _sync_streamed(
        self, open_context: Callable[[], StreamingResponseContext]
    ) -> SyncStreamedResponse:
        """The sync twin of an async streaming context, opened on first use."""
        return SyncStreamedResponse(open_context, self._facade)
