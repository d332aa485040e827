"""What the emulator answers, before it is sent: planned responses and the API's error shape.

This module owns :class:`PlannedResponse` (status, body, headers, or the events of a
stream) and :class:`APIError`, the exception every check raises to answer
``{"error": {...}}`` like the real service (or like Azure OpenAI's gateway), plus the fixed
responses of injected status faults and rate limits, and the paging of list endpoints
(``limit`` and ``after``). Sending is :mod:`._sending`'s business; nothing here touches
aiohttp.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

import attrs

from .._errors import InvalidFileError, InvalidRequestError
from .faults import Fault

__all__ = [
    "APIError",
    "PlannedResponse",
    "bad_request",
    "encode_json",
    "fault_response",
    "from_invalid_request",
    "json_answer",
    "list_page",
    "rate_limited",
]

#: A whole number as a query parameter: digits only, few enough that ``int`` takes them.
_QUERY_NUMBER = re.compile(r"[0-9]{1,7}", re.ASCII)

_BAD_GATEWAY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>cloudflare</center></body></html>\n"
)


@attrs.frozen(kw_only=True)
class PlannedResponse:
    """One response, decided but not sent yet."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = attrs.field(factory=dict)
    events: tuple[bytes, ...] | None = None
    """The encoded events of a ``text/event-stream`` response (then ``body`` is unused)."""


class APIError(Exception):
    """An error response in the API's ``{"error": {...}}`` shape, raised to be answered."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        error = {
            "message": _valid_unicode(message),
            "type": kind,
            "param": None if param is None else _valid_unicode(param),
            "code": code,
        }
        self.response: PlannedResponse = PlannedResponse(
            status=status, body=encode_json({"error": error}), headers=headers or {}
        )

    @classmethod
    def in_azure_shape(cls, status: int, code: str, message: str) -> APIError:
        """An error as Azure's gateway answers it: ``{"error": {"code", "message"}}`` only."""
        error = cls(status, message)
        body = encode_json({"error": {"code": code, "message": message}})
        error.response = PlannedResponse(status=status, body=body)
        return error


def _valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (echoed from hostile input) spelled out as ``\\udXXX``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def encode_json(document: object) -> bytes:
    """Compact JSON; non-ASCII text is escaped, so any string encodes."""
    return json.dumps(document, separators=(",", ":")).encode()


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    """A 400 ``invalid_request_error``."""
    return APIError(400, message, param=param, code=code)


def from_invalid_request(error: InvalidRequestError, note: str = "") -> APIError:
    """The 400 for a failed check of the client's own rule table (``note`` is appended)."""
    code = "invalid_image" if isinstance(error, InvalidFileError) else "invalid_value"
    return bad_request(error.message + note, error.param, code)


def fault_response(fault: Fault, retry_after: float) -> PlannedResponse | None:
    """The whole response of a status fault; None for faults that shape a normal response."""
    if fault.kind == "insufficient_quota":
        message = "You exceeded your current quota, please check your plan and billing details."
        return APIError(429, message, kind="insufficient_quota", code="insufficient_quota").response
    if fault.kind != "status":
        return None
    if fault.status == 429:
        return rate_limited(retry_after).response
    if fault.status == 502:
        return PlannedResponse(status=502, body=_BAD_GATEWAY_PAGE, content_type="text/html")
    message = {
        500: "The server had an error while processing your request. Sorry about that!",
        503: "The server is overloaded or not ready yet.",
    }[fault.status or 500]
    return APIError(fault.status or 500, message, kind="server_error").response


def rate_limited(retry_after: float) -> APIError:
    """A 429 ``rate_limit_exceeded`` asking the client to wait ``retry_after`` seconds."""
    return APIError(
        429,
        f"Rate limit reached for images per min. Please try again in {retry_after:g}s.",
        kind="requests",
        code="rate_limit_exceeded",
        headers={
            "Retry-After": str(math.ceil(retry_after)),
            "retry-after-ms": str(round(retry_after * 1000)),
        },
    )


def json_answer(document: object) -> PlannedResponse:
    """A 200 whose body is ``document`` as JSON."""
    return PlannedResponse(status=200, body=encode_json(document))


class _Listed(Protocol):
    @property
    def id(self) -> str: ...


_Item = TypeVar("_Item", bound=_Listed)


def list_page(
    items: Sequence[_Item],
    query: Mapping[str, str],
    *,
    noun: str,
    default_limit: int,
    max_limit: int,
) -> tuple[list[_Item], bool]:
    """The page of ``items`` (in the list's order) that the query's ``limit`` and ``after``
    ask for, and whether more follow it; a 400 like the API's for a ``limit`` out of range
    or an ``after`` naming no ``noun`` of the list."""
    text = query.get("limit")
    limit = default_limit if text is None else 0
    if text is not None and _QUERY_NUMBER.fullmatch(text):
        limit = int(text)
    if not 1 <= limit <= max_limit:
        raise bad_request(
            f"Invalid value for 'limit': {text!r}; expected an integer from 1 to {max_limit}.",
            "limit",
            "invalid_value",
        )
    after = query.get("after")
    if after is not None:
        position = next((i for i, item in enumerate(items) if item.id == after), None)
        if position is None:
            raise bad_request(
                f"Invalid value for 'after': no {noun} {after!r} in this list.",
                "after",
                "invalid_value",
            )
        items = items[position + 1 :]
    return list(items[:limit]), len(items) > limit
