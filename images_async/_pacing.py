"""Pacing of a fan-out: how many calls may be in flight, and when the next may start.

One :class:`Pacer` is shared by every worker of a fan-out and by the transport's retry loop:

* a 429 that says how long to wait pauses *new* attempts of every worker (shared cooldown);
* concurrency adapts: halved on a 429, grown by one after a window of successes (AIMD);
* optional client-side budgets of requests and images per minute (token buckets).

Time comes from an injectable clock and sleep, so the schedule can be tested without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import attrs

from ._errors import InvalidRequestError

#: Cooldown after a 429 that did not say how long to wait.
DEFAULT_COOLDOWN_SECONDS = 1.0


@attrs.define
class _TokenBucket:
    """``rate_per_minute`` tokens a minute, with at most one minute's worth saved up."""

    rate_per_minute: float
    clock: Callable[[], float]
    tokens: float = attrs.field(init=False)
    updated: float = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.tokens = self.rate_per_minute
        self.updated = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(
            self.rate_per_minute,
            self.tokens + (now - self.updated) * self.rate_per_minute / 60.0,
        )
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` tokens are available (0 if they are now)."""
        self._refill()
        amount = min(amount, self.rate_per_minute)  # a request larger than the budget waits 1 min
        missing = amount - self.tokens
        return 0.0 if missing <= 0 else missing * 60.0 / self.rate_per_minute

    def take(self, amount: float) -> None:
        self._refill()
        self.tokens -= min(amount, self.rate_per_minute)


@attrs.frozen(kw_only=True)
class PacerState:
    """A snapshot for progress reports."""

    limit: int
    """How many calls may be in flight now."""
    in_flight: int
    """How many are."""
    cooling_down_for: float
    """Seconds left in the shared cooldown (0 if none)."""


class Pacer:
    """Shared admission control for the workers of one fan-out."""

    def __init__(
        self,
        *,
        concurrency: int,
        requests_per_minute: float | None = None,
        images_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidRequestError(
                f"concurrency: must be a whole number >= 1, not {concurrency!r}",
                param="concurrency",
            )
        for name, rate in (
            ("requests_per_minute", requests_per_minute),
            ("images_per_minute", images_per_minute),
        ):
            if rate is not None and not (isinstance(rate, (int, float)) and rate > 0):
                raise InvalidRequestError(f"{name}: must be positive, not {rate!r}", param=name)
        self.max_concurrency = concurrency
        self.limit = concurrency
        self.in_flight = 0
        self._clock = clock
        self._sleep = sleep
        self._cooldown_until = 0.0
        self._successes_in_window = 0
        self._slot_freed = asyncio.Event()
        self._requests = _TokenBucket(requests_per_minute, clock) if requests_per_minute else None
        self._images = _TokenBucket(images_per_minute, clock) if images_per_minute else None

    def state(self) -> PacerState:
        return PacerState(
            limit=self.limit,
            in_flight=self.in_flight,
            cooling_down_for=max(self._cooldown_until - self._clock(), 0.0),
        )

    async def wait_for_cooldown(self) -> None:
        """Return once no shared cooldown is in force (re-checked: it may be extended)."""
        while (remaining := self._cooldown_until - self._clock()) > 0:
            await self._sleep(remaining)

    def _budget_wait(self, images: int) -> float:
        waits = [0.0]
        if self._requests:
            waits.append(self._requests.wait_for(1))
        if self._images:
            waits.append(self._images.wait_for(images))
        return max(waits)

    async def acquire(self, images: int = 1) -> None:
        """Wait for a slot under the current limit, the cooldown and the budgets."""
        while True:
            await self.wait_for_cooldown()
            if self.in_flight >= self.limit:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            wait = self._budget_wait(images)
            if wait > 0:
                await self._sleep(wait)
                continue
            if self._requests:
                self._requests.take(1)
            if self._images:
                self._images.take(images)
            self.in_flight += 1
            return

    def release(self) -> None:
        """Give back the slot taken by :meth:`acquire`."""
        self.in_flight -= 1
        self._slot_freed.set()

    def record_success(self) -> None:
        """Grow the limit by one after ``limit`` successes in a row (additive increase)."""
        self._successes_in_window += 1
        if self._successes_in_window >= self.limit:
            self._successes_in_window = 0
            if self.limit < self.max_concurrency:
                self.limit += 1
                self._slot_freed.set()

    def record_rate_limit(self, wait: float | None) -> None:
        """A 429: pause new attempts of every worker and halve the limit."""
        pause = DEFAULT_COOLDOWN_SECONDS if wait is None else wait
        self._cooldown_until = max(self._cooldown_until, self._clock() + pause)
        self.limit = max(1, self.limit // 2)
        self._successes_in_window = 0
