"""Retrying: the policy, the schedule, and the loop that runs attempts under them.

:func:`delay_before_retry` is a pure function of an attempt's outcome, so the schedule can be
tested without a server; :func:`with_retries` runs one attempt after another (sending one is
the transport's business), reports rate limits to an injected :class:`Pacer` and tells an
optional observer how each attempt ended and what was decided.
:class:`RetryPolicy` is public: users tune retries with ``AsyncImages(retry_policy=...)``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import attrs

from ._errors import APIConnectionError, APIError, APIStatusError
from ._headers import server_requested_wait, server_retry_verdict

if TYPE_CHECKING:
    from ._pacing import Pacer

_T = TypeVar("_T")

#: Statuses worth another attempt below 500: timeouts, lock conflicts, rate limits.
#: Every status from 500 up (server trouble) is retried too.
RETRYABLE_STATUSES_BELOW_500 = frozenset({408, 409, 429})


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How many times a client retries a failed attempt, and how long it waits in between.

    Pass one as ``AsyncImages(retry_policy=...)`` (or to ``with_options``). Attempts that
    failed with 408, 409, 429 or a 5xx status, a connection error or a timeout are retried;
    before retry ``n`` (from 0) the client waits ``min(initial_delay * 2**n, max_delay)``
    less up to 25 % random jitter, or the wait the server asks for (``Retry-After``,
    ``retry-after-ms``) when there is one. For example, ``RetryPolicy(max_retries=5,
    initial_delay=0.1, max_delay=2.0)``. The client checks the values when it gets the
    policy and raises ``ConfigurationError`` naming a bad one.
    """

    max_retries: int = 2
    """Retries after the first attempt (0 disables retrying)."""
    initial_delay: float = 0.5
    """Backoff before the first retry, in seconds; doubles on each further retry."""
    max_delay: float = 8.0
    """Upper bound of the computed backoff, in seconds."""
    max_retry_wait: float = 60.0
    """The longest wait a server may ask for, in seconds; a call asked to wait longer fails
    at once, with the wait the server asked for as the error's ``retry_after``."""

    def backoff(self, retries_taken: int, jitter: Callable[[], float] = random.random) -> float:
        """Exponential backoff with up to 25 % jitter taken off, never above ``max_delay``."""
        try:
            delay = min(self.initial_delay * 2.0**retries_taken, self.max_delay)
        except OverflowError:  # 2.0**n overflows past n=1023: far beyond max_delay anyway
            delay = self.max_delay
        return delay * (1.0 - 0.25 * jitter())


def should_retry_status(status: int, headers: Mapping[str, str], error_code: str | None) -> bool:
    """Whether a response with this status is worth another attempt."""
    if status == 429 and error_code == "insufficient_quota":
        return False  # the account is out of credit: waiting does not help, whatever it says
    verdict = server_retry_verdict(headers)
    if verdict is not None:
        return verdict
    return status in RETRYABLE_STATUSES_BELOW_500 or status >= 500


def delay_before_retry(
    policy: RetryPolicy,
    retries_taken: int,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    error_code: str | None = None,
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up now.

    ``status`` is None for failures without a response (connection errors, timeouts).
    A server that asks for a longer wait than ``policy.max_retry_wait`` is not retried:
    the caller learns at once, with the wait the server asked for on the error.
    """
    if retries_taken >= policy.max_retries:
        return None
    if status is None:
        return policy.backoff(retries_taken)
    headers = headers or {}
    if not should_retry_status(status, headers, error_code):
        return None
    requested = server_requested_wait(headers)
    if requested is None:
        return policy.backoff(retries_taken)
    return requested if requested <= policy.max_retry_wait else None


AttemptObserver: TypeAlias = "Callable[[Exception | None, float | None], Awaitable[None] | None]"
"""Told after every attempt how it ended (None: it succeeded) and the decision taken: the
seconds waited before the next attempt, or None when there is none. It may return an
awaitable, which is awaited before the loop goes on."""


async def with_retries(
    attempt: Callable[[], Awaitable[_T]],
    policy: RetryPolicy,
    *,
    pacer: Pacer | None = None,
    observer: AttemptObserver | None = None,
) -> tuple[_T, int]:
    """The first successful result of ``attempt()``, and how many retries it took.

    A failure is retried when :func:`delay_before_retry` says so, after that wait; otherwise
    it is raised with ``retries_taken`` set. With a ``pacer`` (fan-outs), attempts wait out
    the shared cooldown and report rate limits to it. An ``observer`` hears of every attempt
    that ends, before the wait (a cancelled attempt does not end: it is not reported).
    """
    retries_taken = 0
    while True:
        if pacer is not None:
            await pacer.wait_for_cooldown()
        try:
            result = await attempt()
        except Exception as error:
            wait = _wait_after(error, policy, retries_taken, pacer)
            if observer is not None and (told := observer(error, wait)) is not None:
                await told
            if wait is None:
                raise
        else:
            if observer is not None and (told := observer(None, None)) is not None:
                await told
            return result, retries_taken
        await asyncio.sleep(wait)
        retries_taken += 1


def _wait_after(
    error: Exception, policy: RetryPolicy, retries_taken: int, pacer: Pacer | None
) -> float | None:
    """The wait before retrying after ``error`` (None: raise it), with ``retries_taken`` set
    on it and a rate limit reported to ``pacer``."""
    if isinstance(error, APIError):
        error.retries_taken = retries_taken
    if isinstance(error, APIStatusError):
        if pacer is not None:
            _report_rate_limit(pacer, error, policy)
        return delay_before_retry(
            policy,
            retries_taken,
            status=error.status_code,
            headers=error.headers,
            error_code=error.code,
        )
    if isinstance(error, APIConnectionError):
        return delay_before_retry(policy, retries_taken)
    return None  # a body of the wrong shape, a token provider's failure, bad input: final


def why_not_retried(policy: RetryPolicy, retries_taken: int, error: Exception) -> str | None:
    """Why a failure worth retrying was not retried (retries used up, or the server asked
    for a longer wait than ``policy.max_retry_wait``); None for a failure never worth it.

    Only meaningful for an error :func:`with_retries` gave up on.
    """
    if isinstance(error, APIStatusError):
        if not should_retry_status(error.status_code, error.headers, error.code):
            return None
    elif not isinstance(error, APIConnectionError):
        return None
    if retries_taken >= policy.max_retries:
        return f"retries exhausted ({retries_taken} of {policy.max_retries})"
    asked = error.retry_after if isinstance(error, APIStatusError) else None
    if asked is not None and asked > policy.max_retry_wait:
        return (
            f"the server asked to wait {asked:g}s, longer than "
            f"max_retry_wait={policy.max_retry_wait:g}s"
        )
    return None


def _report_rate_limit(pacer: Pacer, error: APIStatusError, policy: RetryPolicy) -> None:
    """Share a 429's wait with the other calls of a fan-out, capped as this call's wait is.

    A longer wait than ``policy.max_retry_wait`` makes this call fail at once; it must not
    hold every other call back for that long either. An exhausted quota is no rate limit.
    """
    if error.status_code != 429 or error.code == "insufficient_quota":
        return
    wait = error.retry_after
    pacer.record_rate_limit(None if wait is None else min(wait, policy.max_retry_wait))
