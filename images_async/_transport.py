"""The HTTP boundary: one aiohttp session per client, attempts, retries, error mapping.

Everything aiohttp raises is turned into the package's own exceptions here (see
:func:`_aiohttp_errors_mapped`), so no aiohttp exception reaches users. The session is
created lazily inside the running loop and shared by every call of the client, so all calls
draw from one connection pool.

Bodies leave this module as :class:`ReceivedResponse`: decoded here, piece by piece. aiohttp's
own decompression inflates a whole network chunk at once, so a small gzip body can become
hundreds of megabytes before any size check sees it; this module asks only for the codings
it undoes itself (gzip, deflate) and never inflates more than one small piece at a time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import platform
import time
import uuid
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import TypeAlias, TypeVar

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict
from yarl import URL

from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    ImagesError,
    status_error,
)
from ._files import UploadFile, build_form
from ._pacing import Pacer
from ._retry import RetryPolicy, delay_before_retry
from ._version import __version__

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Error bodies are small; a larger one is cut here rather than held in memory.
MAX_ERROR_BODY_BYTES = 64 * 1024
#: The content codings :class:`ReceivedResponse` undoes, and so the only ones asked for.
ACCEPT_ENCODING = "gzip, deflate"
#: The most decoded bytes one decoding step yields, however well the body compresses.
DECODED_PIECE_BYTES = 64 * 1024
_CODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
_T = TypeVar("_T")
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


def _client_timeout(timeout: TimeoutTypes) -> aiohttp.ClientTimeout:
    # Callers pass values the client's option rules (``_options.checked_timeout``) accepted.
    return _converted_timeout(timeout)


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
class CallLabel:
    """What an error message may say about a request: never its headers or query string."""

    method: str
    path: str
    """The URL's path only: a query string can hold secrets (signed download URLs)."""
    timeout: aiohttp.ClientTimeout

    @classmethod
    def of(cls, method: str, url: URL, timeout: aiohttp.ClientTimeout) -> CallLabel:
        return cls(method=method, path=url.path, timeout=timeout)


def _timeout_message(call: CallLabel, exc: BaseException) -> str:
    """Which configured limit ran out, after how long, on which call."""
    timeout = call.timeout
    what = "no answer in time"
    # aiohttp >= 3.10 raises ConnectionTimeoutError / SocketTimeoutError; 3.9 raises a bare
    # ServerTimeoutError for both, told apart by its text. A total timeout is a bare
    # TimeoutError, often with no text at all, so the text is never the message.
    from_socket = isinstance(exc, aiohttp.ServerTimeoutError)
    if from_socket and timeout.connect is not None and str(exc).startswith("Connection timeout"):
        what = f"no connection within {timeout.connect:g}s (connect timeout)"
    elif from_socket and timeout.sock_read is not None:
        what = f"no data for {timeout.sock_read:g}s (read timeout)"
    elif timeout.total is not None:
        what = f"not done within {timeout.total:g}s (total timeout)"
    return f"{call.method} {call.path} timed out: {what}"


@asynccontextmanager
async def _aiohttp_errors_mapped(call: CallLabel) -> AsyncIterator[None]:
    """Translate aiohttp and socket failures into :class:`APIConnectionError` subclasses."""
    try:
        yield
    except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
        raise APITimeoutError(_timeout_message(call, exc)) from exc
    except aiohttp.ClientError as exc:
        raise APIConnectionError(f"connection error: {exc or type(exc).__name__}") from exc
    except OSError as exc:
        raise APIConnectionError(f"connection error: {exc}") from exc


class _Inflater:
    """Undoes gzip or deflate in pieces of at most :data:`DECODED_PIECE_BYTES`.

    ``feed`` it a network chunk, then take ``next_piece()`` until it returns None. Corrupt
    data raises :class:`zlib.error`.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._zlib: zlib._Decompress | None = None
        self._pending = b""
        self._more_output = False

    def feed(self, data: bytes) -> None:
        self._pending = data

    def next_piece(self) -> bytes | None:
        """The next decoded piece of what was fed, or None once all of it is decoded."""
        while self._pending or self._more_output:
            inflater = self._current()
            piece = inflater.decompress(self._pending, DECODED_PIECE_BYTES)
            self._pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            # A full piece can leave output inside zlib even when no input is left.
            self._more_output = len(piece) == DECODED_PIECE_BYTES and not inflater.eof
            if piece:
                return piece
        return None

    def finish(self) -> None:
        if self._zlib is not None and not self._zlib.eof:
            raise zlib.error("the compressed data ends early")

    def _current(self) -> zlib._Decompress:
        if self._zlib is not None and not self._zlib.eof:
            return self._zlib
        if self._zlib is not None and self.coding != "gzip":
            raise zlib.error("data after the end of the compressed data")
        # A gzip body may hold several members, each one decoded in turn.
        if self.coding == "gzip":
            wbits = 16 + zlib.MAX_WBITS
        else:
            # HTTP's deflate is zlib-wrapped, whose first byte names method 8 in its low
            # nibble; some servers send raw deflate instead (aiohttp accepts both too).
            wbits = zlib.MAX_WBITS if self._pending[0] & 0x0F == 8 else -zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(wbits)
        return self._zlib


class ReceivedResponse:
    """A response as the rest of the package sees it: status, headers and decoded body.

    The body is read piece by piece with its content coding undone, aiohttp's errors met on
    the way mapped; nothing of aiohttp shows through.
    """

    def __init__(self, response: aiohttp.ClientResponse, call: CallLabel) -> None:
        self._response = response
        self._call = call
        self.status: int = response.status
        self.reason: str = response.reason or ""
        self.headers: CIMultiDictProxy[str] = response.headers
        self.url: URL = response.url

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")

    def invalid(self, message: str) -> APIResponseValidationError:
        return APIResponseValidationError(
            message, status_code=self.status, body=b"", request_id=self.request_id
        )

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The decoded body as it arrives; :class:`APIResponseValidationError` if it will not
        decode (an unknown ``Content-Encoding``, corrupt or truncated compressed data)."""
        inflater = self._inflater()
        async with _aiohttp_errors_mapped(self._call):
            async for chunk in self._response.content.iter_any():
                if inflater is None:
                    yield chunk
                    continue
                inflater.feed(chunk)
                while (piece := self._decoding(inflater, inflater.next_piece)) is not None:
                    yield piece
        if inflater is not None:
            self._decoding(inflater, inflater.finish)

    def _inflater(self) -> _Inflater | None:
        header = self.headers.get("Content-Encoding", "")
        codings = [c.strip().lower() for c in header.split(",")]
        codings = [coding for coding in codings if coding not in ("", "identity")]
        if not codings:
            return None
        if len(codings) == 1 and codings[0] in _CODINGS:
            return _Inflater(_CODINGS[codings[0]])
        raise self.invalid(
            f"cannot decode Content-Encoding {header!r}: only gzip and deflate are supported"
        )

    def _decoding(self, inflater: _Inflater, step: Callable[[], _T]) -> _T:
        """``step()``, with corrupt compressed data reported as the server's fault."""
        try:
            return step()
        except zlib.error as exc:
            raise self.invalid(f"the body is not valid {inflater.coding} data: {exc}") from None

    async def read(self, limit: int, *, what: str = "the response") -> bytes:
        """The whole decoded body; :class:`APIResponseValidationError` past ``limit`` bytes.

        Reading stops at the first byte past the limit. Always frees the connection.
        """
        try:
            content = await self._read(limit, what)
        except BaseException:
            self.close()  # a half-read connection cannot be reused
            raise
        self.release()
        return content

    async def _read(self, limit: int, what: str) -> bytes:
        length = self._response.content_length
        if "Content-Encoding" not in self.headers and length is not None and length <= limit:
            async with _aiohttp_errors_mapped(self._call):
                return await self._response.read()  # the common case: one buffer, no joins
        chunks: list[bytes] = []
        size = 0
        async with aclosing(self.chunks()) as body:
            async for chunk in body:
                size += len(chunk)
                if size > limit:
                    raise self.invalid(f"{what} is larger than max_response_bytes={limit}")
                chunks.append(chunk)
        return b"".join(chunks)

    async def read_prefix(self, limit: int) -> bytes:
        """The first ``limit`` decoded bytes, or fewer if the body will not decode further.

        For error bodies: their status is the news, so a body that will not decode still
        lets the status error through. Closes the connection.
        """
        prefix = bytearray()
        try:
            async with aclosing(self.chunks()) as body:
                async for chunk in body:
                    prefix += chunk
                    if len(prefix) >= limit:
                        break
        except APIResponseValidationError:
            pass
        finally:
            self.close()
        return bytes(prefix[:limit])

    def release(self) -> None:
        """Give the connection back to the pool (the body was read to its end)."""
        self._response.release()

    def close(self) -> None:
        """Drop the connection, whatever is left of the body."""
        self._response.close()


@attrs.frozen(kw_only=True)
class OpenResponse:
    """A successful response, with its body when the caller asked for it to be read."""

    response: ReceivedResponse
    retries_taken: int
    started: float
    """``time.monotonic()`` when the call began."""
    content: bytes | None = None
    """The whole body, read within the attempt (so a failure while reading is retried)."""


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
            {
                "User-Agent": USER_AGENT,
                "Authorization": f"Bearer {api_key}",
                "Accept-Encoding": ACCEPT_ENCODING,
            }
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
        call = CallLabel.of("POST", url, client_timeout)
        headers = self._headers_for(request, f"images-async-{uuid.uuid4()}")
        started = time.monotonic()
        retries_taken = 0
        while True:
            if pacer is not None:
                await pacer.wait_for_cooldown()
            try:
                response, content = await self._attempt(
                    session, url, headers, request, call, read_limit
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
        call: CallLabel,
        read_limit: int | None,
    ) -> tuple[ReceivedResponse, bytes | None]:
        async with _aiohttp_errors_mapped(call):
            response = ReceivedResponse(
                await session.post(
                    url,
                    data=request.encode_body(),
                    headers=headers,
                    timeout=call.timeout,
                    allow_redirects=False,
                    # Bodies are decoded by ReceivedResponse, bounded; also in a session
                    # the caller gave us.
                    auto_decompress=False,
                ),
                call,
            )
        if 200 <= response.status < 300:
            if read_limit is None:
                return response, None
            return response, await response.read(read_limit)
        body = await response.read_prefix(MAX_ERROR_BODY_BYTES)
        raise status_error(
            response.status,
            headers=response.headers,
            body=_decode_error_body(body),
            reason=response.reason,
        )

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def download(self, url: str, *, timeout: TimeoutTypes, max_bytes: int) -> bytes:
        """GET an image URL. No credentials are sent: such URLs point at other hosts."""
        session = self._session_for_this_loop()
        target = URL(url)
        call = CallLabel.of("GET", target, _client_timeout(timeout))
        # Signed URLs carry their signature in the query: messages name the rest only.
        shown = target.with_user(None).with_query(None).with_fragment(None)
        async with _aiohttp_errors_mapped(call):
            response = ReceivedResponse(
                await session.get(
                    target,
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
                    timeout=call.timeout,
                    auto_decompress=False,
                ),
                call,
            )
        if not 200 <= response.status < 300:
            body = await response.read_prefix(MAX_ERROR_BODY_BYTES)
            raise status_error(
                response.status,
                headers=response.headers,
                body=_decode_error_body(body),
                reason=f"downloading {shown} failed: {response.reason}",
            )
        return await response.read(max_bytes, what=f"the image at {shown}")

    def __repr__(self) -> str:
        return f"Transport(base_url={str(self.base_url)!r})"
