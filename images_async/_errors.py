"""The exception tree of images-async.

Two families share one root, :class:`ImagesError`:

* :class:`APIError` and its subclasses describe what happened on the wire (or failed to).
  They are raised by the transport; aiohttp's own exceptions never reach users.
* :class:`InvalidRequestError` describes bad input caught before any byte is sent. It is
  also a :class:`ValueError`, so ordinary ``except ValueError`` clauses work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from ._headers import server_requested_wait


class ImagesError(Exception):
    """Root of every exception this package raises on purpose."""


class MissingAPIKeyError(ImagesError):
    """No API key was passed and ``OPENAI_API_KEY`` is not set."""


class TokenProviderError(ImagesError):
    """An Azure ``azure_ad_token_provider`` raised, or returned no usable token; the attempt
    it was called for was not sent. The provider's exception is the ``__cause__``."""


class ClientClosedError(ImagesError, RuntimeError):
    """The client was closed; create a new one to make more requests."""


class InvalidRequestError(ImagesError, ValueError):
    """A request parameter was rejected before anything was sent.

    ``param`` names the offending parameter (``"prompt"``, ``"image[2]"``, ...).
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidFileError(InvalidRequestError):
    """A file input is not usable: unreadable, of the wrong type, size or dimensions."""


class UnsupportedFileInputError(InvalidRequestError, TypeError):
    """A file input is of a Python type the client cannot turn into an upload."""


class APIError(ImagesError):
    """Base of every error that comes from talking to the API."""

    def __init__(self, message: str, *, retries_taken: int = 0) -> None:
        super().__init__(message)
        self.message = message
        #: How many retries were made before this error was raised.
        self.retries_taken = retries_taken


class APIConnectionError(APIError):
    """The request never got a complete HTTP response (DNS, refused, reset, TLS, ...)."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """The request timed out; also a builtin :class:`TimeoutError`."""


class APIResponseValidationError(APIError):
    """A successful response whose body does not have the documented shape."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: bytes,
        request_id: str | None = None,
        retries_taken: int = 0,
    ) -> None:
        super().__init__(message, retries_taken=retries_taken)
        self.status_code = status_code
        #: The start of the offending body.
        self.body = body
        #: The ``x-request-id`` of the response, to quote when reporting the problem.
        self.request_id = request_id


class APIStreamError(APIError):
    """An ``error`` event in an image stream: the call failed after its ``200`` status.

    ``code``, ``param`` and ``type`` are the event's, None when it gave none; ``body`` is
    the event's error object.
    """

    def __init__(
        self,
        message: str,
        *,
        body: Mapping[str, Any],
        request_id: str | None = None,
        retries_taken: int = 0,
    ) -> None:
        super().__init__(message, retries_taken=retries_taken)
        self.body = body
        self.request_id = request_id
        self.code: str | None = _optional_str(body.get("code"))
        self.param: str | None = _optional_str(body.get("param"))
        self.type: str | None = _optional_str(body.get("type"))

    def __str__(self) -> str:
        # One line, as APIStatusError's.
        details = {"code": self.code, "param": self.param, "request_id": self.request_id}
        parts = [" ".join(self.message.split())]
        parts += [f"{name}={value}" for name, value in details.items() if value]
        return " ".join(parts)


def stream_event_error(
    event: Mapping[str, Any], *, request_id: str | None, retries_taken: int = 0
) -> APIStreamError:
    """The :class:`APIStreamError` of an error event, nested (``{"error": {...}}``) or flat."""
    details = _error_details(event)
    message = _optional_str(details.get("message")) or "the server reported an error mid-stream"
    return APIStreamError(message, body=details, request_id=request_id, retries_taken=retries_taken)


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: CIMultiDictProxy[str],
        body: object,
        retries_taken: int = 0,
    ) -> None:
        super().__init__(message, retries_taken=retries_taken)
        self.status_code = status_code
        self.headers = headers
        #: The parsed JSON error body, or the raw text when it was not JSON.
        self.body = body
        self.request_id: str | None = headers.get("x-request-id")
        #: Seconds the server asked to wait before retrying (``retry-after-ms`` /
        #: ``Retry-After``), when it said so.
        self.retry_after: float | None = server_requested_wait(headers)
        details = _error_details(body)
        self.code: str | None = _optional_str(details.get("code"))
        self.param: str | None = _optional_str(details.get("param"))
        self.type: str | None = _optional_str(details.get("type"))

    def __str__(self) -> str:
        # One line even when the API's message spans several.
        parts = [f"{self.status_code} {' '.join(self.message.split())}"]
        if self.code:
            parts.append(f"code={self.code}")
        if self.param:
            parts.append(f"param={self.param}")
        if self.retry_after is not None:
            parts.append(f"retry_after={self.retry_after:g}s")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429."""


class InternalServerError(APIStatusError):
    """HTTP 500 and above."""


_STATUS_CLASSES: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(
    status_code: int,
    *,
    headers: CIMultiDictProxy[str] | CIMultiDict[str],
    body: object,
    reason: str = "",
    retries_taken: int = 0,
) -> APIStatusError:
    """Build the most specific :class:`APIStatusError` for a status and its error body."""
    error_class = _STATUS_CLASSES.get(status_code)
    if error_class is None:
        error_class = InternalServerError if status_code >= 500 else APIStatusError
    message = _optional_str(_error_details(body).get("message")) or reason or "error"
    if not isinstance(headers, CIMultiDictProxy):
        headers = CIMultiDictProxy(headers)
    return error_class(
        message, status_code=status_code, headers=headers, body=body, retries_taken=retries_taken
    )


def _error_details(body: object) -> Mapping[str, Any]:
    """The ``error`` object of an API error body, or an empty mapping."""
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping):
            return error
    return {}


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


class ConfigurationError(ImagesError, ValueError):
    """A client option was rejected when the client was made or derived (``with_options``).

    ``option`` names it (``"base_url"``, ``"max_connections"``, ...). The message never quotes
    a credential: not the API key, nor a user or password written into ``base_url``.
    """

    def __init__(self, message: str, *, option: str) -> None:
        super().__init__(message)
        self.message = message
        self.option = option


class InsecureConnectionWarning(UserWarning):
    """A client was made with ``ssl=False``: server certificates are not checked."""


class ImageDecodeError(ImagesError, ValueError):
    """An image's inline payload is missing or is not valid base64."""
