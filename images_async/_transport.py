"""The HTTP boundary: one aiohttp session per client, attempts, retries, error mapping.

Everything aiohttp raises is turned into the package's own exceptions here (see
:func:`_aiohttp_errors_mapped`), so no aiohttp exception reaches users. The session is
created lazily inside the running loop and shared by every call of the client, so all calls
draw from one connection pool.
"""

from __future__ import annotations

import asyncio
import functools
import json
import platform
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TypeAlias

import aiohttp
import attrs
from multidict import CIMultiDict, MultiDict
from yarl import URL

from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    ImagesError,
    InvalidRequestError,
    status_error,
)
from ._files import UploadFile, build_form
from ._pacing import Pacer
from ._retry import RetryPolicy, delay_before_retry
from ._version import __version__

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Error bodies are small; a larger one is cut here rather than held in memory.
MAX_ERROR_BODY_BYTES = 64 * 1024
USER_AGENT = (
    f"images-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"{platform.python_implementation()}/{platform.python_version()}"
)


@attrs.frozen(kw_only=True)
class Timeout:
    """Time limits of one attempt, in seconds; None means no limit."""

    total: float | None = 600.0
    """Limit for the whole attempt (connecting, sending, waiting, reading the body)."""
    connect: float | None = None
    """Limit for getting a connection (waiting for a free one in the pool, or opening one)."""
    read: float | None = None
    """The longest silence between two reads of the response."""


TimeoutTypes: TypeAlias = "float | Timeout | None"
"""A timeout: seconds for the whole attempt, a :class:`Timeout`, or None for no limit."""


def checked_timeout(timeout: TimeoutTypes) -> TimeoutTypes:
    """``timeout`` if it is one of the accepted forms, else :class:`InvalidRequestError`."""
    if timeout is None or isinstance(timeout, Timeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidRequestError(
            f"timeout: must be a positive number of seconds or a Timeout, not {timeout!r}",
            param="timeout",
        )
    return float(timeout)


def _client_timeout(timeout: TimeoutTypes) -> aiohttp.ClientTimeout:
    return _converted_timeout(checked_timeout(timeout))


@functools.lru_cache(maxsize=64)
def _converted_timeout(timeout: float | Timeout | None) -> aiohttp.ClientTimeout:
    # Cached: every call of a client uses the same few timeouts.
    if timeout is None:
        return aiohttp.ClientTimeout(total=None)
    if isinstance(timeout, Timeout):
        return aiohttp.ClientTimeout(
            total=timeout.total, connect=timeout.connect, sock_read=timeout.read
        )
    return aiohttp.ClientTimeout(total=timeout)


@attrs.frozen(kw_only=True)
class PreparedRequest:
    """Everything needed to send (and resend) one API call."""

    path: str
    json_body: Mapping[str, object] | None = None
    form_fields: Sequence[tuple[str, str]] = ()
    files: Sequence[tuple[str, UploadFile]] = ()
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, str] | None = None
    stream: bool = False
    """The response is a stream of server-sent events."""

    def encode_body(self) -> aiohttp.FormData | bytes:
        if self.files:
            return build_form(self.form_fields, self.files)
        return json.dumps(self.json_body or {}, separators=(",", ":")).encode()


@attrs.frozen(kw_only=True)
class OpenResponse:
    """A successful response, with its body when the caller asked for it to be read."""

    response: aiohttp.ClientResponse
    retries_taken: int
    started: float
    """``time.monotonic()`` when the call began."""
    content: bytes | None = None
    """The whole body, read within the attempt (so a failure while reading is retried)."""


@asynccontextmanager
async def _aiohttp_errors_mapped() -> AsyncIterator[None]:
    """Translate aiohttp and socket failures into :class:`APIConnectionError` subclasses."""
    try:
        yield
    except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
        raise APITimeoutError(f"request timed out ({exc or 'no response in time'})") from exc
    except aiohttp.ClientError as exc:
        raise APIConnectionError(f"connection error: {exc or type(exc).__name__}") from exc
    except OSError as exc:
        raise APIConnectionError(f"connection error: {exc}") from exc


async def read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, or its first ``limit`` bytes; raises :class:`APIConnectionError` on failure."""
    chunks: list[bytes] = []
    size = 0
    async with _aiohttp_errors_mapped():
        async for chunk in response.content.iter_any():
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    body = b"".join(chunks)
    return body if size <= limit else body[:limit]


async def _read_whole_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body of a successful response, releasing the connection afterwards."""
    try:
        if response.content_length is not None and response.content_length <= limit:
            async with _aiohttp_errors_mapped():
                content = await response.read()  # the common case: one buffer, no re-joining
        else:
            content = await read_limited(response, limit + 1)
    except BaseException:
        response.close()  # a half-read connection cannot be reused
        raise
    if len(content) > limit:
        response.close()
        raise APIResponseValidationError(
            f"the response is larger than max_response_bytes={limit}",
            status_code=response.status,
            body=b"",
            request_id=response.headers.get("x-request-id"),
        )
    response.release()
    return content


def _decode_error_body(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _report_rate_limit(pacer: Pacer, error: APIStatusError, policy: RetryPolicy) -> None:
    """Share a 429's wait with the other calls of a fan-out, capped as this call's wait is.

    A longer wait than ``policy.max_server_wait`` makes this call fail at once; it must not
    hold every other call back for that long either. An exhausted quota is no rate limit.
    """
    if error.status_code != 429 or error.code == "insufficient_quota":
        return
    wait = error.retry_after
    pacer.record_rate_limit(None if wait is None else min(wait, policy.max_server_wait))


class Transport:
    """Sends prepared requests for one client; owns its aiohttp session."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | URL,
        organization: str | None,
        project: str | None,
        default_headers: Mapping[str, str] | None,
        default_query: Mapping[str, str] | None,
        max_connections: int,
        http_session: aiohttp.ClientSession | None,
    ) -> None:
        self.base_url = URL(str(base_url).rstrip("/"))
        if not self.base_url.is_absolute():
            raise ValueError(f"base_url must be an absolute URL, not {str(base_url)!r}")
        self.max_connections = max_connections
        self._headers = CIMultiDict(
            {"User-Agent": USER_AGENT, "Authorization": f"Bearer {api_key}"}
        )
        if organization:
            self._headers["OpenAI-Organization"] = organization
        if project:
            self._headers["OpenAI-Project"] = project
        self._headers.update(default_headers or {})
        self._query: MultiDict[str] = MultiDict(default_query or {})
        self._endpoint_urls: dict[str, URL] = {}
        self._session = http_session
        self._owns_session = http_session is None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        #: How retries wait; replaceable so tests can run the schedule on a fake clock.
        self.sleep: Callable[[float], Awaitable[object]] = asyncio.sleep

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def owns_session(self) -> bool:
        """False when the caller supplied the aiohttp session (and closes it)."""
        return self._owns_session

    def close_idle(self) -> None:
        """Mark closed a transport that never opened a session (no event loop needed)."""
        if self._session is not None:
            raise RuntimeError("the transport has a session: close it with aclose()")
        self._closed = True

    def _session_for_this_loop(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("this client is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None)
            )
            self._session_loop = loop
        elif self._session_loop is None:
            self._session_loop = loop  # a session the caller gave us: bound to its first loop
        elif self._session_loop is not loop:
            raise ImagesError(
                "this client's connections belong to another event loop; "
                "create one client per event loop"
            )
        return self._session

    def _headers_for(self, request: PreparedRequest, idempotency_key: str) -> CIMultiDict[str]:
        headers = CIMultiDict(self._headers)
        headers["Accept"] = "text/event-stream" if request.stream else "application/json"
        headers["Idempotency-Key"] = idempotency_key
        if not request.files:
            headers["Content-Type"] = "application/json"
        headers.update(request.extra_headers or {})
        return headers

    def url_for(self, request: PreparedRequest) -> URL:
        url = self._endpoint_urls.get(request.path)
        if url is None:  # built once per endpoint: yarl joins are not free on a hot path
            url = self._endpoint_urls[request.path] = self.base_url / request.path
        if not self._query and not request.extra_query:
            return url
        query = self._query.copy()
        query.update(request.extra_query or {})
        return url.update_query(query)

    async def send(
        self,
        request: PreparedRequest,
        *,
        timeout: TimeoutTypes,
        policy: RetryPolicy,
        pacer: Pacer | None = None,
        read_limit: int | None = None,
    ) -> OpenResponse:
        """Send with retries; return the first 2xx response or raise the last error.

        Every attempt carries the same ``Idempotency-Key``, so the server can tell a retry
        from a new call. With a ``pacer`` (fan-outs), attempts wait out the shared cooldown
        and report rate limits to it. With a ``read_limit`` the body is read as part of each
        attempt (at most that many bytes); without, it is left for the caller to stream.
        """
        session = self._session_for_this_loop()
        client_timeout = _client_timeout(timeout)
        url = self.url_for(request)
        headers = self._headers_for(request, f"images-async-{uuid.uuid4()}")
        started = time.monotonic()
        retries_taken = 0
        while True:
            if pacer is not None:
                await pacer.wait_for_cooldown()
            try:
                response, content = await self._attempt(
                    session, url, headers, request, client_timeout, read_limit
                )
                return OpenResponse(
                    response=response, retries_taken=retries_taken, started=started, content=content
                )
            except APIResponseValidationError as error:
                error.retries_taken = retries_taken
                raise
            except APIStatusError as error:
                error.retries_taken = retries_taken
                if pacer is not None:
                    _report_rate_limit(pacer, error, policy)
                wait = delay_before_retry(
                    policy,
                    retries_taken,
                    status=error.status_code,
                    headers=error.headers,
                    error_code=error.code,
                )
                if wait is None:
                    raise
            except APIConnectionError as error:
                error.retries_taken = retries_taken
                wait = delay_before_retry(policy, retries_taken)
                if wait is None:
                    raise
            await self.sleep(wait)
            retries_taken += 1

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        url: URL,
        headers: CIMultiDict[str],
        request: PreparedRequest,
        timeout: aiohttp.ClientTimeout,
        read_limit: int | None,
    ) -> tuple[aiohttp.ClientResponse, bytes | None]:
        async with _aiohttp_errors_mapped():
            response = await session.post(
                url,
                data=request.encode_body(),
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            )
        if 200 <= response.status < 300:
            if read_limit is None:
                return response, None
            return response, await _read_whole_body(response, read_limit)
        try:
            body = await read_limited(response, MAX_ERROR_BODY_BYTES)
        finally:
            response.close()
        raise status_error(
            response.status,
            headers=response.headers,
            body=_decode_error_body(body),
            reason=response.reason or "",
        )

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def download(self, url: str, *, timeout: TimeoutTypes, max_bytes: int) -> bytes:
        """GET an image URL. No credentials are sent: such URLs point at other hosts."""
        session = self._session_for_this_loop()
        async with _aiohttp_errors_mapped():
            response = await session.get(
                url, headers={"User-Agent": USER_AGENT}, timeout=_client_timeout(timeout)
            )
        try:
            if not 200 <= response.status < 300:
                body = await read_limited(response, MAX_ERROR_BODY_BYTES)
                raise status_error(
                    response.status,
                    headers=response.headers,
                    body=_decode_error_body(body),
                    reason=f"downloading {url} failed: {response.reason or ''}",
                )
            content = await read_limited(response, max_bytes + 1)
            if len(content) > max_bytes:
                raise APIResponseValidationError(
                    f"the image at {url} is larger than max_response_bytes={max_bytes}",
                    status_code=response.status,
                    body=b"",
                    request_id=response.headers.get("x-request-id"),
                )
            return content
        finally:
            response.close()

    def __repr__(self) -> str:
        return f"Transport(base_url={str(self.base_url)!r})"
