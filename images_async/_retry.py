"""Retrying: the policy, the schedule, and the loop that runs attempts under them.

:func:`delay_before_retry` is a pure function of an attempt's outcome, so the schedule can be
tested without a server; :func:`with_retries` runs one attempt after another (sending one is
the transport's business), reports rate limits to an injected :class:`Pacer` and tells an
optional observer how each attempt ended and the one :class:`RetryDecision` taken after it
(the wait, or why there is no retry), so nothing else has to guess it again.
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


@attrs.frozen(kw_only=True)
class RetryDecision:
    """What the retry loop decided after one attempt: wait and retry, or end the call."""

    wait: float | None = None
    """Seconds to wait before the next attempt; None when there is none."""
    why_not: str | None = None
    """Why a failed attempt is not retried, in a few words; None when it is retried or
    succeeded."""
    worth_retrying: bool = True
    """False for a failure no retry can mend (a 400, bad input): nothing was given up."""


#: The decision after an attempt that succeeded: the call is done.
SUCCEEDED = RetryDecision()
#: The decision after a failure no retry can mend.
NOT_WORTH_RETRYING = RetryDecision(why_not="not worth retrying", worth_retrying=False)


def decide_retry(
    policy: RetryPolicy,
    retries_taken: int,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    error_code: str | None = None,
) -> RetryDecision:
    """Whether, and after how long, to retry a failed attempt (the one place that decides).

    ``status`` is None for failures without a response (connection errors, timeouts).
    A server that asks for a longer wait than ``policy.max_retry_wait`` is not retried:
    the caller learns at once, with the wait the server asked for on the error.
    """
    headers = headers or {}
    if status is not None and not should_retry_status(status, headers, error_code):
        return NOT_WORTH_RETRYING
    if retries_taken >= policy.max_retries:
        return RetryDecision(why_not=f"retries exhausted ({retries_taken} of {policy.max_retries})")
    requested = None if status is None else server_requested_wait(headers)
    if requested is None:
        return RetryDecision(wait=policy.backoff(retries_taken))
    if requested > policy.max_retry_wait:
        return RetryDecision(
            why_not=f"the server asked to wait {requested:g}s, longer than "
            f"max_retry_wait={policy.max_retry_wait:g}s"
        )
    return RetryDecision(wait=requested)


def delay_before_retry(
    policy: RetryPolicy,
    retries_taken: int,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    error_code: str | None = None,
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up now: the wait of
    :func:`decide_retry`'s decision."""
    return decide_retry(
        policy, retries_taken, status=status, headers=headers, error_code=error_code
    ).wait


AttemptObserver: TypeAlias = "Callable[[Exception | None, RetryDecision], Awaitable[None] | None]"
"""Told after every attempt how it ended (None: it succeeded) and the decision taken after
it. It may return an awaitable, which is awaited before the loop goes on."""


async def with_retries(
    attempt: Callable[[], Awaitable[_T]],
    policy: RetryPolicy,
    *,
    pacer: Pacer | None = None,
    observer: AttemptObserver | None = None,
) -> tuple[_T, int]:
    """The first successful result of ``attempt()``, and how many retries it took.

    A failure is retried when :func:`decide_retry` says so, after that wait; otherwise
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
            decision = _decision_after(error, policy, retries_taken, pacer)
            if observer is not None and (told := observer(error, decision)) is not None:
                await told
            if decision.wait is None:
                raise
            wait = decision.wait
        else:
            if observer is not None and (told := observer(None, SUCCEEDED)) is not None:
                await told
            return result, retries_taken
        await asyncio.sleep(wait)
        retries_taken += 1


def _decision_after(
    error: Exception, policy: RetryPolicy, retries_taken: int, pacer: Pacer | None
) -> RetryDecision:
    """The decision after ``error``, with ``retries_taken`` set on it and a rate limit
    reported to ``pacer``."""
    if isinstance(error, APIError):
        error.retries_taken = retries_taken
    if isinstance(error, APIStatusError):
        if pacer is not None:
            _report_rate_limit(pacer, error, policy)
        return decide_retry(
            policy,
            retries_taken,
            status=error.status_code,
            headers=error.headers,
            error_code=error.code,
        )
    if isinstance(error, APIConnectionError):
        return decide_retry(policy, retries_taken)
    return NOT_WORTH_RETRYING  # a body of the wrong shape, a token provider's failure, bad input


def _report_rate_limit(pacer: Pacer, error: APIStatusError, policy: RetryPolicy) -> None:
    """Share a 429's wait with the other calls of a fan-out, capped as this call's wait is.

    A longer wait than ``policy.max_retry_wait`` makes this call fail at once; it must not
    hold every other call back for that long either. An exhausted quota is no rate limit.
    """
    if error.status_code != 429 or error.code == "insufficient_quota":
        return
    wait = error.retry_after
    pacer.record_rate_limit(None if wait is None else min(wait, policy.max_retry_wait))
