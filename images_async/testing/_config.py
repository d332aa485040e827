"""What the emulator is told and what it records: its configuration and its call records.

This module owns :class:`EmulatorConfig` (keys and Azure tokens, API versions and
deployments, latency, faults, URL lifetime, validation, rate limit, file size limits, the
pace and window of batches, the live page), :class:`RecordedCall` and :class:`RecordedFile`
(every request as the emulator saw it, for assertions), and the masking of credentials in
recorded headers. Plain data: nothing here touches aiohttp, so importing it stays cheap.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Set

import attrs

from .faults import FaultPlan

__all__ = [
    "BEARER",
    "CREDENTIAL_HEADERS",
    "EmulatorConfig",
    "RecordedCall",
    "RecordedFile",
    "mask_key",
    "masked_headers",
]

#: A well-formed ``Authorization`` header; group 1 is the API key.
BEARER = re.compile(r"Bearer ([\x21-\x7e]+)")
_MB = 1024 * 1024


@attrs.define(kw_only=True)
class EmulatorConfig:
    """How the emulator behaves; change it between calls to change the next answers."""

    api_keys: frozenset[str] | None = None
    """Accepted API keys (``Authorization: Bearer`` on the OpenAI routes, the ``api-key``
    header on the Azure routes); None accepts any well-formed key."""
    azure_ad_tokens: frozenset[str] | None = None
    """Accepted Microsoft Entra ID tokens (``Authorization: Bearer`` on the Azure routes);
    None accepts any well-formed token."""
    azure_api_versions: frozenset[str] | None = None
    """The ``api-version`` values the Azure routes accept (others answer 404, like Azure);
    None accepts any dated version (``2024-10-21``, ``2025-04-01-preview``)."""
    azure_deployments: Mapping[str, str] | None = None
    """The Azure deployments served, each with the model it runs (others answer 404
    ``DeploymentNotFound``); None serves any deployment, running the request's ``model``,
    or the model the deployment's name reads as when the request has none."""
    latency: float = 0.0
    """Seconds to wait before answering each API call."""
    faults: FaultPlan | None = None
    """Which API calls fail, and how."""
    url_ttl: float = 3600.0
    """Seconds an image URL stays downloadable (dall-e models, ``response_format=url``)."""
    validate: bool = True
    """Reject invalid requests with 400 like the API; False answers whatever it can."""
    requests_per_minute: int | None = None
    """Enforced request rate limit (429 past it); None reports a nominal limit only."""
    max_file_bytes: int = 512 * _MB
    """The largest upload to the Files endpoints (the API's limit, 512 MB)."""
    max_batch_file_bytes: int = 200 * _MB
    """The largest upload with purpose ``batch`` (the Batch API's limit, 200 MB)."""
    max_stored_file_bytes: int = 1024 * _MB
    """How many bytes of uploaded files the emulator keeps in memory at once."""
    batch_lines_per_second: float | None = None
    """How many lines a batch runs per second (None runs them one after another, without
    pause)."""
    batch_step_delay: float = 0.0
    """Seconds a batch spends validating its input, and again finalizing its results."""
    batch_window: float = 24 * 3600.0
    """Seconds a batch has to finish before it expires (its ``24h`` completion window);
    shorten it to test expiry."""
    dashboard: bool = False
    """Serve the live page of recent calls and batches at ``GET /`` (``images-async serve``
    turns it on). Off, ``/`` is an unknown path (404) and no pictures are kept for it."""
    max_recorded_calls: int | None = None
    """How many calls :attr:`~images_async.testing.Emulator.requests` keeps, the oldest
    dropped first; None keeps them all (a test's few). ``images-async serve``, which may run
    for days, keeps 10,000."""


@attrs.frozen(kw_only=True)
class RecordedFile:
    """One file part of a recorded multipart request."""

    field: str
    """The form field (``image``, ``image[]``, ``mask``, ``file``...)."""
    filename: str | None
    """The file name the part carried, if any."""
    content_type: str | None
    """The part's ``Content-Type``, if it had one."""
    size: int
    """The part's length in bytes."""


@attrs.define(kw_only=True)
class RecordedCall:
    """One request as the emulator saw it, and how it was answered."""

    request_id: str
    """The ``x-request-id`` the answer carried (``req_`` and 32 hex digits)."""
    method: str
    """The HTTP method."""
    path: str
    """The URL path, without the query."""
    headers: dict[str, str]
    """Request headers; the credentials (``Authorization``, ``api-key``) are masked."""
    deployment: str | None = None
    """The Azure deployment named in the path (None on the OpenAI routes)."""
    api_version: str | None = None
    """The ``api-version`` query parameter, as sent (None when absent)."""
    params: dict[str, object] = attrs.field(factory=dict)
    """The JSON body, or the text parts of a multipart body as sent (strings)."""
    files: list[RecordedFile] = attrs.field(factory=list)
    """The file parts of a multipart body, in the order sent (their sizes, not bytes)."""
    fault: str | None = None
    """The injected fault, in the plan's spelling (``"429"``, ``"reset"``...)."""
    status: int | None = None
    """The status answered (for ``reset``/``disconnect``, the one that was cut off)."""
    started_at: float = attrs.field(factory=time.time)
    """The wall-clock time the request arrived, in seconds since the epoch."""
    endpoint: str | None = None
    """What was called (``generate``, ``edit``, ``variation``, ``files``, ``batches``, or
    ``download`` of an image URL); None for a path the emulator does not serve."""
    model: str | None = None
    """The model an image call named (on Azure, the deployment's), or the one it was
    answered as when it named none; None for other calls."""
    size: str | None = None
    """The size of the images answered (``WIDTHxHEIGHT``), or the ``size`` requested when
    none were; None for calls that are not about images."""
    images_answered: int = 0
    """How many images the answer held (0 for errors, faults and other calls)."""


#: Headers that carry a credential, in lower case.
CREDENTIAL_HEADERS: Set[str] = frozenset({"authorization", "api-key"})


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` as a dict, with the credentials in ``Authorization`` and ``api-key``
    masked (whatever the case their names were sent in)."""
    masked = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            match = BEARER.fullmatch(value)
            value = f"Bearer {mask_key(match[1])}" if match else "***"
        elif name.lower() in CREDENTIAL_HEADERS:
            value = mask_key(value)
        masked[name] = value
    return masked


def mask_key(key: str) -> str:
    """An API key as error messages and records show it: ``sk-***abcd``."""
    return f"{key[:3]}***{key[-4:]}" if len(key) > 12 else "***"
