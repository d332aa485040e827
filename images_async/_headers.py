"""Pure parsing of the response headers that steer retries.

``retry-after-ms`` / ``Retry-After`` (how long the server asks us to wait) and
``x-should-retry`` (the server's own verdict on retrying). No I/O, no state: the retry loop
and the error classes both read them.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import time
from collections.abc import Callable, Mapping


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


def server_retry_verdict(headers: Mapping[str, str]) -> bool | None:
    """The ``x-should-retry`` header: True or False when the server says, else None."""
    verdict = headers.get("x-should-retry", "").strip().lower()
    if verdict == "true":
        return True
    if verdict == "false":
        return False
    return None


def _seconds(text: str | None) -> float | None:
    """A non-negative number of seconds, or None for a missing or unusable value ("nan")."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else max(value, 0.0)
