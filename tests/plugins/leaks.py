"""Checks that nothing is left behind: asyncio errors, lent connections, unfinished waits.

It owns the autouse ``no_asyncio_errors`` fixture, which fails any test of the suite after
which asyncio logged an error (a task exception nobody retrieved, an unclosed transport...);
``acquired_connections``, which counts the connections a client's pool (async or sync) has
lent out; and ``until`` with ``POLLS``, which poll for something that should happen almost at
once instead of sleeping for a guessed time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Iterator

import pytest

from images_async import AsyncImages, Images

#: Polls of 10 ms while waiting for something the server or the pool should soon show.
POLLS = 500


class _Collector(logging.Handler):
    """Keeps the error records it is given."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Spare every test's ``gc.collect()`` the objects that outlive it anyway.

    Modules and collected tests are most of the heap; a full collection walking them after
    each of ~950 tests more than doubled the suite's time. Frozen objects are never scanned
    (nor freed), and tasks a test leaks are created after this, so none of them is hidden.
    """
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def no_asyncio_errors() -> Iterator[None]:
    """Fail on errors asyncio only logs ("Task exception was never retrieved", ...)."""
    handler = _Collector()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
        gc.collect()  # unretrieved task exceptions are reported when the task is collected
    finally:
        logger.removeHandler(handler)
    assert [record.getMessage() for record in handler.records] == []


def acquired_connections(images: AsyncImages | Images) -> int:
    """Connections the client's pool has handed out and not got back (or closed) yet.

    Read from the public ``pool_stats``: 0 before the first call and after closing, so
    "nothing is held" can be checked anytime.
    """
    return images.pool_stats.acquired


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition()`` every 10 ms; fail (instead of hanging) if it never holds."""
    for _ in range(POLLS):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")
