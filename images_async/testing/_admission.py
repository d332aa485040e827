"""Who may call the emulator and how often: API keys and the request rate window.

This module owns the checks made before a request is read for its content: the
``Authorization`` header (:func:`check_api_key`) and the sliding one-minute window of
recent calls (:class:`RateWindow`), which enforces a configured limit with 429 and fills
the ``x-ratelimit-*`` headers of every response. Refusals are
:class:`~._responses.APIError`\\s in the API's shape.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping

from ._config import BEARER, mask_key
from ._responses import APIError, rate_limited

__all__ = ["RateWindow", "check_api_key"]

_RATE_WINDOW = 60.0
_NOMINAL_REQUESTS_PER_MINUTE = 10_000


def check_api_key(headers: Mapping[str, str], api_keys: frozenset[str] | None) -> None:
    """Raise a 401 unless ``headers`` carry a well-formed key (one of ``api_keys``, if set)."""
    authorization = headers.get("Authorization")
    if authorization is None:
        raise APIError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    match = BEARER.fullmatch(authorization)
    if match is None:
        raise APIError(
            401,
            "Malformed Authorization header: expected 'Bearer YOUR_KEY'.",
            code="invalid_api_key",
        )
    if api_keys is not None and match[1] not in api_keys:
        raise APIError(
            401, f"Incorrect API key provided: {mask_key(match[1])}.", code="invalid_api_key"
        )


class RateWindow:
    """The API calls of the last minute, counted against a limit."""

    def __init__(self) -> None:
        self._recent: deque[float] = deque()

    def admit(self, limit: int | None) -> None:
        """Count a call now; raise a 429 instead when ``limit`` calls already came this minute."""
        now = time.monotonic()
        self._forget_old_calls(now)
        if limit is not None and len(self._recent) >= limit:
            raise rate_limited(_RATE_WINDOW - (now - self._recent[0]))
        self._recent.append(now)

    def headers(self, limit: int | None) -> dict[str, str]:
        """The ``x-ratelimit-*-requests`` headers (a nominal limit when ``limit`` is None)."""
        limit = limit or _NOMINAL_REQUESTS_PER_MINUTE
        now = time.monotonic()
        self._forget_old_calls(now)
        reset = _RATE_WINDOW - (now - self._recent[0]) if self._recent else 0.0
        return {
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(max(limit - len(self._recent), 0)),
            "x-ratelimit-reset-requests": _duration(reset),
        }

    def _forget_old_calls(self, now: float) -> None:
        # Each pass drops one entry, so the loop ends when the deque does.
        while self._recent and now - self._recent[0] >= _RATE_WINDOW:
            self._recent.popleft()


def _duration(seconds: float) -> str:
    """A reset time in the API's style: ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 0)}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s"
