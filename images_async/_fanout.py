"""Fan-out: a bounded concurrent map of a ``send`` callable over many requests, exactly one
:class:`Outcome` per request.

The fan-out knows nothing of the client: it is given ``send`` (one request to one response)
and the :class:`Pacer` that admits each call, and its requests are any values (``weight``
says how many images one asks for, for the images-per-minute budget).

Workers pull requests from the caller's (possibly lazy or endless) iterable one at a time,
so a batch of a million lines is never held in memory. Each request ends in one outcome,
a response or the exception it raised. When the iterable itself raises, no new request is
pulled, the calls already sent finish and yield their outcomes, and then the iterable's
exception propagates. The caller leaving the iteration early (``break``, an exception,
cancellation) cancels the calls in flight and waits for them to release their connections
before the iteration returns.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from typing import Generic, TypeVar

import attrs

from ._models import ImagesResponse
from ._pacing import Pacer, PacerState

_R = TypeVar("_R")
RequestT_co = TypeVar("RequestT_co", covariant=True)
"""The request type an :class:`Outcome` holds."""


@attrs.frozen(kw_only=True)
class Outcome(Generic[RequestT_co]):
    """How one request of a fan-out ended: exactly one of ``response`` and ``error`` is set."""

    index: int
    """The request's position in the input (0-based)."""
    request: RequestT_co
    """The request itself."""
    response: ImagesResponse | None = None
    """The response, when the call succeeded."""
    error: Exception | None = None
    """The exception the call raised, when it failed."""

    @property
    def ok(self) -> bool:
        """True when the call succeeded (``response`` is set)."""
        return self.error is None

    def unwrap(self) -> ImagesResponse:
        """The response, or raise the call's exception."""
        if self.error is not None:
            raise self.error
        assert self.response is not None
        return self.response


@attrs.frozen(kw_only=True)
class FanOutProgress:
    """Counts passed to ``on_progress`` after every finished request."""

    done: int
    """Requests finished so far, either way."""
    succeeded: int
    """Requests that got a response."""
    failed: int
    """Requests that ended in an error."""
    pacing: PacerState
    """The concurrency limit, calls in flight and cooldown at that moment."""


@attrs.frozen
class _SourceFailed:
    """The caller's iterable raised: the fan-out stops and re-raises it."""

    error: BaseException


_FINISHED = object()


async def _pull(requests: Iterable[_R] | AsyncIterable[_R]) -> AsyncGenerator[_R, None]:
    if isinstance(requests, AsyncIterable):
        async for request in requests:
            yield request
    else:
        for request in requests:
            yield request


class FanOut(Generic[_R]):
    """One run of ``send`` over ``requests``, admitted by ``pacer``; see :meth:`outcomes`."""

    def __init__(
        self,
        requests: Iterable[_R] | AsyncIterable[_R],
        *,
        send: Callable[[_R], Awaitable[ImagesResponse]],
        weight: Callable[[_R], int],
        pacer: Pacer,
        on_progress: Callable[[FanOutProgress], object] | None,
    ) -> None:
        self._send = send
        self._weight = weight
        self._source = _pull(requests)
        self._source_lock = asyncio.Lock()
        self._indexes = itertools.count()
        self._pacer = pacer
        self._results: asyncio.Queue[Outcome[_R] | _SourceFailed | object] = asyncio.Queue()
        self._on_progress = on_progress
        self._succeeded = 0
        self._failed = 0

    async def _next_request(self) -> tuple[int, _R] | None:
        async with self._source_lock:
            try:
                request = await self._source.__anext__()
            except StopAsyncIteration:
                return None
            return next(self._indexes), request

    async def _call(self, index: int, request: _R) -> Outcome[_R]:
        await self._pacer.acquire(self._weight(request))
        try:
            response = await self._send(request)
        except Exception as error:
            return Outcome(index=index, request=request, error=error)
        finally:
            self._pacer.release()
        self._pacer.record_success()
        return Outcome(index=index, request=request, response=response)

    async def worker(self) -> None:
        while True:
            try:
                pulled = await self._next_request()
            except Exception as error:
                # The other workers finish the calls they have sent, then find the source
                # exhausted (a generator that raised is closed): every sent call gets its
                # outcome before the error is re-raised.
                self._results.put_nowait(_SourceFailed(error))
                return
            if pulled is None:
                return
            self._results.put_nowait(await self._call(*pulled))

    def report(self, outcome: Outcome[_R]) -> None:
        if outcome.ok:
            self._succeeded += 1
        else:
            self._failed += 1
        if self._on_progress is not None:
            self._on_progress(
                FanOutProgress(
                    done=self._succeeded + self._failed,
                    succeeded=self._succeeded,
                    failed=self._failed,
                    pacing=self._pacer.state(),
                )
            )

    async def outcomes(self, concurrency: int, ordered: bool) -> AsyncGenerator[Outcome[_R], None]:
        """One outcome per request, as they finish or (``ordered``) in input order."""
        workers = [asyncio.ensure_future(self.worker()) for _ in range(concurrency)]
        finished = asyncio.ensure_future(self._signal_when_done(workers))
        held: dict[int, Outcome[_R]] = {}
        next_index = 0
        failed: _SourceFailed | None = None
        try:
            while (item := await self._results.get()) is not _FINISHED:
                if isinstance(item, _SourceFailed):
                    # Raised once the calls in flight have all given their outcomes.
                    failed = item if failed is None else failed
                    continue
                assert isinstance(item, Outcome)
                self.report(item)
                if not ordered:
                    yield item
                    continue
                held[item.index] = item
                while next_index in held:
                    yield held.pop(next_index)
                    next_index += 1
            if failed is not None:
                raise failed.error
        finally:
            for task in (*workers, finished):
                task.cancel()
            await asyncio.gather(*workers, finished, return_exceptions=True)
            await self._source.aclose()

    async def _signal_when_done(self, workers: Sequence[asyncio.Future[None]]) -> None:
        for result in await asyncio.gather(*workers, return_exceptions=True):
            if isinstance(result, Exception):  # a bug in a worker must not hang the consumer
                self._results.put_nowait(_SourceFailed(result))
        self._results.put_nowait(_FINISHED)
