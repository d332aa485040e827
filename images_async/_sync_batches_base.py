""":class:`BatchesBase`, the hand-written base of the generated sync Batch client.

``Batches`` (generated into :mod:`._sync_batches`) is the ``batches`` of an ``Images``: it
holds no loop of its own, but runs each call on the private loop of the facade it came
from, and gives a job's outcomes as a sync iterator driven on that loop.
"""

from __future__ import annotations

from ._batches import AsyncBatches
from ._sync_runtime import SyncPart


class BatchesBase(SyncPart):
    """The runtime of the generated ``Batches``: the loop of the ``Images`` it belongs to."""

    def __init__(self, images: object, /) -> None:
        """Internal: a client makes its own (``images.batches``)."""
        super().__init__(images)
        self._async: AsyncBatches = self._facade._async.batches
