""":class:`BatchesBase`, the hand-written base of the generated sync Batch client.

``Batches`` (generated into :mod:`._sync_batches`) is the ``batches`` of an ``Images``: it
holds no loop of its own, but runs each call on the private loop of the facade it came
from, and gives a job's outcomes as a sync iterator driven on that loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Generator
from typing import Any, TypeVar

from ._batches import AsyncBatches
from ._sync_runtime import SyncFacade

_T = TypeVar("_T")


class BatchesBase:
    """The runtime of the generated ``Batches``: the loop of the ``Images`` it belongs to."""

    def __init__(self, images: object, /) -> None:
        """Internal: a client makes its own (``images.batches``)."""
        if not isinstance(images, SyncFacade):
            raise TypeError(f"{type(self).__name__} is made by Images, not directly")
        self._facade: SyncFacade[Any] = images
        self._async: AsyncBatches = images._async.batches

    def _call(self, awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` on the client's private loop and return its result."""
        return self._facade._call(awaitable)

    def _iterate(self, iterator: AsyncIterator[_T]) -> Generator[_T, None, None]:
        """A sync iterator over ``iterator``, run on the client's private loop."""
        return self._facade._iterate(iterator)
