""":class:`ImagesBase`, the hand-written base class of the generated ``Images``.

It converts an async result to its sync twin. The twins live in :mod:`._sync_streams` and
the generated sync views in :mod:`._sync_views`; they are re-exported here, where the
package's ``__init__`` imports them from.
"""

from __future__ import annotations

from typing import TypeVar

from ._async_images import AsyncImages
from ._response import ImageEventStream
from ._sync_runtime import SyncFacade
from ._sync_streams import SyncImageEventStream as SyncImageEventStream
from ._sync_streams import SyncStreamedResponse as SyncStreamedResponse
from ._sync_views import ImagesWithRawResponse as ImagesWithRawResponse
from ._sync_views import ImagesWithStreamingResponse as ImagesWithStreamingResponse

_T = TypeVar("_T")


class ImagesBase(SyncFacade[AsyncImages]):
    """The hand-written part of the generated :class:`images_async.Images`."""

    def _sync_stream(self, result: _T | ImageEventStream) -> _T | SyncImageEventStream:
        """``result``, with an event stream (``stream=True``) turned into its sync twin."""
        if isinstance(result, ImageEventStream):
            return SyncImageEventStream(result, self)
        return result
