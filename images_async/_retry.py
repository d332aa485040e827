"""When to retry a failed attempt, and how long to wait before the next one.

Pure functions of the attempt's outcome, so the schedule can be tested without a server.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping

import attrs

#: Statuses worth another attempt: timeouts, lock conflicts, rate limits, server trouble.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How many times to retry and how long to wait in between."""

    max_retries: int = 2
    """Retries after the first attempt (0 disables retrying)."""
    initial_delay: float = 0.5
    """Backoff before the first retry, in seconds; doubles on each further retry."""
    max_delay: float = 8.0
    """Upper bound of the computed backoff, in seconds."""
    max_server_wait: float = 60.0
    """The longest ``Retry-After`` the client will wait for, in seconds."""

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
    verdict = headers.get("x-should-retry", "").strip().lower()
    if verdict == "true":
        return True
    if verdict == "false":
        return False
    return status in RETRYABLE_STATUSES


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
    A server that asks for a longer wait than ``policy.max_server_wait`` is not retried:
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
    return requested if requested <= policy.max_server_wait else None


def server_requested_wait(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` / ``Retry-After``), if any."""
    milliseconds = _seconds(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000.0
    retry_after = headers.get("retry-after")
    if retry_after is None:
        return None
    seconds = _seconds(retry_after)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC with no local offset given (RFC 5322)
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(when.timestamp() - now(), 0.0)


def _seconds(text: str | None) -> float | None:
    """A non-negative number of seconds, or None for a missing or unusable value ("nan")."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else max(value, 0.0)
