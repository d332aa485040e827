"""What a client tells about its attempts: the event value, the hooks, the log records.

Every attempt of an API call that ends (with a response or a failure; a cancelled attempt
does not end) makes one :class:`AttemptEvent`, given to the client's ``on_attempt`` hooks
(sync or async callables) and logged on the ``images_async`` logger: a DEBUG record per
attempt, a WARNING when the call is retried or gives up after a failure worth retrying.
A :class:`CallObserver` watches the attempts of one call; when nobody listens (no hooks,
DEBUG off) a successful attempt builds no event at all. It only reads what the transport
measured and what the retry loop decided: it never calls back into either, so telling of
an attempt cannot fail the way the attempt did.

``IMAGES_ASYNC_LOG=debug|info`` makes the package log to stderr without any logging
configuration (:func:`log_to_stderr_if_asked`, called by every client's constructor).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeAlias

import attrs

from ._errors import APIStatusError
from ._retry import RetryDecision, RetryPolicy

#: The package's logger. A NullHandler keeps a library WARNING from being printed by
#: Python's last-resort handler in an application that configured no logging.
logger = logging.getLogger("images_async")
logger.addHandler(logging.NullHandler())

#: The environment variable :func:`log_to_stderr_if_asked` reads.
LOG_ENV_VAR = "IMAGES_ASYNC_LOG"
_ENV_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_STDERR_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@attrs.frozen(kw_only=True)
class AttemptEvent:
    """One attempt of an API call, as it ended: for metrics, tracing and logs.

    Never holds the API key, a token, a query string or image bytes.
    """

    method: str
    """The HTTP method: ``"POST"`` for image calls and uploads, ``"GET"`` or ``"DELETE"``
    for the Files API's others."""
    endpoint: str
    """The endpoint's path, as in the API reference: ``"images/generations"``,
    ``"images/edits"``, ``"images/variations"``, or the Files API's ``"files"`` and
    ``"files/{file_id}"`` (with the id: strip it before using it as a metrics label)."""
    attempt: int
    """1 for the first attempt of a call, 2 for its first retry, and so on."""
    idempotency_key: str
    """The key every attempt of one call shares, and no other call: it groups the attempts
    of a call (it is also sent, as the ``Idempotency-Key`` header)."""
    status: int | None
    """The response's HTTP status, or None when none came (a connection error, a timeout).
    A response whose body broke off keeps its status, next to the ``error``."""
    request_id: str | None
    """The server's ``x-request-id``, for support requests (None when none came)."""
    elapsed: float
    """Seconds from the start of the attempt to its end: the body read, or the headers in
    for a response whose body the caller streams. Waits between attempts are not in it."""
    bytes_sent: int | None
    """The size of the request body, or None if it was never built."""
    bytes_received: int | None
    """The size of the (decoded) response body, or None when the caller streams it or no
    response came."""
    error: Exception | None
    """The exception the attempt failed with (an :class:`ImagesError`), or None when it
    succeeded."""
    will_retry: bool
    """True when the client retries the call after this attempt; False on the call's last
    attempt, whether it succeeded or failed."""
    retry_wait: float | None
    """The seconds the client waits before that retry (None when it does not retry)."""


AttemptHook: TypeAlias = "Callable[[AttemptEvent], object]"
"""An ``on_attempt`` hook: called with each :class:`AttemptEvent` on the client's event loop;
if it returns an awaitable, the client awaits it before going on. An exception it raises is
logged (ERROR, ``images_async`` logger) and otherwise ignored."""


class AttemptCounts(Protocol):
    """What the transport measured of one attempt (its ``AttemptTrace``)."""

    url_path: str | None
    bytes_sent: int | None
    bytes_received: int | None
    status: int | None
    request_id: str | None


class CallObserver:
    """Watches the attempts of one call: :meth:`began` when one starts, :meth:`ended` (the
    retry loop's observer) when it ends, with the loop's :class:`RetryDecision`.

    Whether DEBUG records are wanted is checked once, when the call starts. With no hooks
    and DEBUG off, a successful attempt costs a clock reading and nothing else; a failed one
    still builds its event, for the WARNING records.
    """

    __slots__ = (
        "_attempt",
        "_counts",
        "_debug",
        "_endpoint",
        "_fallback_path",
        "_hooks",
        "_key",
        "_method",
        "_policy",
        "_started",
    )

    def __init__(
        self,
        hooks: tuple[AttemptHook, ...],
        *,
        endpoint: str,
        idempotency_key: str,
        policy: RetryPolicy,
        method: str = "POST",
    ) -> None:
        self._hooks = hooks
        self._method = method
        self._debug = logger.isEnabledFor(logging.DEBUG)
        self._endpoint = endpoint
        self._key = idempotency_key
        self._policy = policy
        # Logged for an attempt that failed before its URL was built (no deployment for it).
        self._fallback_path = endpoint
        self._attempt = 0
        self._started = 0.0
        self._counts: AttemptCounts | None = None

    def began(self, counts: AttemptCounts) -> None:
        """An attempt starts; the transport fills ``counts`` in as it goes."""
        self._attempt += 1
        self._counts = counts
        self._started = time.monotonic()

    def ended(self, error: Exception | None, decision: RetryDecision) -> Awaitable[None] | None:
        """The attempt ended (``error`` None: it succeeded) and the retry loop decided
        ``decision``. Returns an awaitable when a hook returned one; never raises."""
        elapsed = time.monotonic() - self._started
        if error is None and not self._hooks and not self._debug:
            return None
        event = self._event(error, decision.wait, elapsed)
        # A handler or filter that raises is the logging setup's fault: it must not replace
        # the attempt's own outcome, nor keep the hooks from hearing of it.
        with contextlib.suppress(Exception):
            self._log(event, decision)
        return _run_hooks(self._hooks, event) if self._hooks else None

    def _log(self, event: AttemptEvent, decision: RetryDecision) -> None:
        path = self._url_path()
        if self._debug:
            self._log_debug(event, decision, path)
        if event.error is not None and decision.worth_retrying:
            # A failure never worth a retry is raised to the caller: no news to warn of.
            self._warn_retrying_or_giving_up(event, decision, path)

    def _url_path(self) -> str:
        counts = self._counts
        if counts is None or counts.url_path is None:
            return self._fallback_path
        return counts.url_path

    def _event(self, error: Exception | None, wait: float | None, elapsed: float) -> AttemptEvent:
        counts = self._counts
        status = request_id = None
        bytes_sent = bytes_received = None
        if counts is not None:
            status, request_id = counts.status, counts.request_id
            bytes_sent, bytes_received = counts.bytes_sent, counts.bytes_received
        if isinstance(error, APIStatusError):
            status = error.status_code  # also when the trace missed it
            request_id = request_id or error.request_id
        return AttemptEvent(
            method=self._method,
            endpoint=self._endpoint,
            attempt=self._attempt,
            idempotency_key=self._key,
            status=status,
            request_id=request_id,
            elapsed=elapsed,
            bytes_sent=bytes_sent,
            bytes_received=bytes_received,
            error=error,
            will_retry=wait is not None,
            retry_wait=wait,
        )

    def _log_debug(self, event: AttemptEvent, decision: RetryDecision, path: str) -> None:
        if decision.wait is not None:
            verdict = f"retrying in {decision.wait:.3f}s"
        elif event.error is None:
            verdict = "done"
        elif decision.worth_retrying:
            verdict = f"giving up: {decision.why_not}"
        else:
            verdict = str(decision.why_not)
        logger.debug(
            "%s %s attempt %d: %s, request id %s, %.3fs, sent %s B, received %s B; %s",
            event.method,
            path,
            event.attempt,
            _outcome(event),
            event.request_id or "-",
            event.elapsed,
            _size(event.bytes_sent),
            _size(event.bytes_received),
            verdict,
            extra={"attempt_event": event},
        )

    def _warn_retrying_or_giving_up(
        self, event: AttemptEvent, decision: RetryDecision, path: str
    ) -> None:
        if decision.wait is not None:
            verdict = (
                f"retrying in {decision.wait:.3f}s "
                f"(retry {event.attempt} of {self._policy.max_retries})"
            )
        else:
            verdict = f"giving up: {decision.why_not}"
        logger.warning(
            "%s %s attempt %d failed (%s); %s",
            event.method,
            path,
            event.attempt,
            _outcome(event),
            verdict,
            extra={"attempt_event": event},
        )


def _outcome(event: AttemptEvent) -> str:
    """An attempt's result in a few words: its status, or its failure's kind and message
    (connection errors name no credentials: the transport words them)."""
    error = event.error
    if isinstance(error, APIStatusError):
        code = f" {error.code}" if error.code else ""
        return f"status {error.status_code} {type(error).__name__}{code}"
    if error is not None:
        return f"{type(error).__name__}: {error}"
    return f"status {event.status}"


def _size(count: int | None) -> str:
    return "-" if count is None else str(count)


def _run_hooks(hooks: tuple[AttemptHook, ...], event: AttemptEvent) -> Awaitable[None] | None:
    """Call every hook with ``event``; an awaitable to await when one of them returned one.

    A hook's failure is logged, never raised: it must not turn a call that succeeded (and
    was paid for) into an error, nor keep the other hooks from hearing of it.
    """
    pending: list[tuple[AttemptHook, Awaitable[object]]] = []
    for hook in hooks:
        try:
            result = hook(event)
        except Exception:
            _log_hook_failure(hook)
            continue
        if inspect.isawaitable(result):
            pending.append((hook, result))
    return _await_hooks(pending) if pending else None


async def _await_hooks(pending: list[tuple[AttemptHook, Awaitable[object]]]) -> None:
    for hook, awaitable in pending:
        try:
            await awaitable
        except Exception:
            _log_hook_failure(hook)


def _log_hook_failure(hook: AttemptHook) -> None:
    name = getattr(hook, "__qualname__", None) or type(hook).__qualname__
    logger.error("on_attempt hook %s raised; the call goes on", name, exc_info=True)


_stderr_lock = threading.Lock()
_stderr_handler: logging.Handler | None = None


def log_to_stderr_if_asked() -> None:
    """Honour ``IMAGES_ASYNC_LOG``: with ``debug`` or ``info`` (any case), the
    ``images_async`` logger gets one stderr handler at that level, however many clients are
    made on however many threads. Any other value, or none, changes nothing.
    """
    global _stderr_handler
    asked = os.environ.get(LOG_ENV_VAR)
    if not asked or _stderr_handler is not None:  # the common cases: one lookup, no lock
        return
    level = _ENV_LEVELS.get(asked.strip().lower())
    if level is None:
        return
    with _stderr_lock:
        if _stderr_handler is not None:
            return
        handler = logging.StreamHandler()  # the stderr of now
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter(_STDERR_FORMAT))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
        _stderr_handler = handler
