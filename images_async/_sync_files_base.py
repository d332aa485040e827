""":class:`StoredFilesBase`, the hand-written base of the generated sync Files client.

``StoredFiles`` (generated into :mod:`._sync_stored_files`) is the ``files`` of an ``Images``:
it holds no loop of its own, but runs each call on the private loop of the facade it came
from, and gives a file's content as a :class:`SyncStreamedResponse` over that loop.
"""

from __future__ import annotations

from collections.abc import Callable

from ._response import StreamingResponseContext
from ._stored_files import AsyncStoredFiles
from ._sync_runtime import SyncPart
from ._sync_streams import SyncStreamedResponse


class StoredFilesBase(SyncPart):
    """The runtime of the generated ``StoredFiles``: the loop of the ``Images`` it belongs to."""

    def __init__(self, images: object, /) -> None:
        """Internal: a client makes its own (``images.files``)."""
        super().__init__(images)
        self._async: AsyncStoredFiles = self._facade._async.files

    def _sync_streamed(
        self, open_context: Callable[[], StreamingResponseContext]
    ) -> SyncStreamedResponse:
        """The sync twin of an async streaming context, opened on first use."""
        return SyncStreamedResponse(open_context, self._facade)
