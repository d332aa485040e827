"""What a client tells about its attempts: the event value, the hooks, the log records.

Every attempt of an API call ends in one :class:`AttemptEvent`, given to the client's
``on_attempt`` hooks (sync or async callables) and logged on the ``images_async`` logger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import attrs

from ._errors import ImagesError


@attrs.frozen(kw_only=True)
class AttemptEvent:
    """One attempt of an API call, as it ended: for metrics, tracing and logs.

    Never holds the API key, a token or image bytes.
    """

    method: str
    """The HTTP method (``"POST"``)."""
    endpoint: str
    """The endpoint's path, as in the API reference: ``"images/generations"``,
    ``"images/edits"`` or ``"images/variations"``."""
    attempt: int
    """1 for the first attempt of a call, 2 for its first retry, and so on."""
    idempotency_key: str
    """The key every attempt of one call shares: it tells the attempts of a call apart from
    those of another."""
    status: int | None
    """The response's HTTP status, or None when none came (a connection error, a timeout)."""
    request_id: str | None
    """The server's ``x-request-id``, for support requests."""
    elapsed: float
    """Seconds from the start of the attempt to its end (the body read, or the headers in
    for a streamed body)."""
    bytes_sent: int | None
    """The size of the request body, or None if it was never built."""
    bytes_received: int | None
    """The size of the (decoded) response body, or None when the caller streams it."""
    error: ImagesError | None
    """The typed error the attempt failed with, or None when it succeeded."""
    will_retry: bool
    """True when the client retries the call after this attempt."""
    retry_wait: float | None
    """The seconds the client waits before that retry (None when it does not retry)."""


AttemptHook: TypeAlias = "Callable[[AttemptEvent], object]"
"""An ``on_attempt`` hook: called with each :class:`AttemptEvent`; if it returns an
awaitable, the client awaits it before going on."""


def log_to_stderr_if_asked() -> None:
    """Honour ``IMAGES_ASYNC_LOG`` (``debug`` or ``info``): log to stderr with no logging
    configuration of the caller's. Not implemented yet."""
