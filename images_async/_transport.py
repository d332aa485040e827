"""The HTTP boundary: the only module that uses aiohttp's client.

One aiohttp session per client, made lazily in the running loop and shared by every call (and
derived client): one pool. :meth:`Transport.send_once` sends ONE attempt; :mod:`._retry` retries.

Everything aiohttp raises becomes the package's own exceptions in :class:`_AiohttpErrorsMapped`.
Responses leave as :class:`ResponseStream` (status, headers, a decoded and size-capped body):
nothing of aiohttp shows through. :class:`PoolStats` snapshots the connection pool's counts.
"""

from __future__ import annotations

import asyncio
import json
import platform
import re
import ssl as ssl_module
import zlib
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict
from yarl import URL

from ._config import TimeoutTypes
from ._decoding import ACCEPT_ENCODING, Inflater, UnsupportedEncodingError, inflater_for
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    ClientClosedError,
    ImagesError,
    status_error,
)
from ._proxy import ProxyRules
from ._version import __version__
from ._wire_body import BODILESS_METHODS, client_timeout, encoded_body

if TYPE_CHECKING:
    from ._prepare import PreparedRequest

#: Error bodies are small; a larger one is cut here rather than held in memory.
MAX_ERROR_BODY_BYTES = 64 * 1024
#: The statuses that send a GET elsewhere, each keeping it a GET without a body.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_T = TypeVar("_T")
HTTPSession: TypeAlias = aiohttp.ClientSession
"""A caller's own aiohttp session, which a client may use instead of making one."""
#: aiohttp < 3.12.4 closes TLS connections without waiting for their shutdown, and advises
#: a short wait: a loop stopped at once (the sync client's) would leak their sockets.
_AIOHTTP_RELEASE = tuple(int(number) for number in re.findall(r"\d+", aiohttp.__version__)[:3])
_TLS_CLOSE_WAIT = 0.25 if _AIOHTTP_RELEASE < (3, 12, 4) else 0.0
USER_AGENT = (
    f"images-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"{platform.python_implementation()}/{platform.python_version()}"
)


class Route(Protocol):
    """Where calls go and how they authenticate (:mod:`._routing` has the two kinds)."""

    base_url: URL
    headers: Mapping[str, str]
    refreshes_credentials: bool

    def url_for(self, path: str, model: str | None) -> URL: ...

    async def fresh_headers(self) -> Mapping[str, str]: ...


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


#: aiohttp errors whose text is a whole URL (a redirect's target, too), query string and all:
#: a signed download URL's signature would show, also in a traceback of the chained error.
#: aiohttp 3.9 lacks the last two.
_QUOTING_A_URL: tuple[type[Exception], ...] = (
    aiohttp.InvalidURL,
    aiohttp.ClientResponseError,
    *(
        getattr(aiohttp, name)
        for name in ("NonHttpUrlClientError", "RedirectClientError")
        if hasattr(aiohttp, name)
    ),
)


def _url_error_message(call: CallLabel, exc: BaseException) -> str:
    """A failure whose text may quote a URL: named by its type and the call's path only."""
    return f"connection error: {type(exc).__name__} ({call.method} {call.path})"


class _AiohttpErrorsMapped:
    """A ``with`` block turning aiohttp and socket failures into :class:`APIConnectionError`
    subclasses. A plain class: a generator-based context manager costs more on every call."""

    __slots__ = ("_call",)

    def __init__(self, call: CallLabel) -> None:
        self._call = call

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, traceback: object) -> None:
        if exc is None:
            return
        call = self._call
        if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
            raise APITimeoutError(_timeout_message(call, exc)) from exc
        if isinstance(exc, aiohttp.ClientHttpProxyError):  # a CONNECT refused (407...)
            problem = f"the proxy answered {exc.status} {exc.message} to CONNECT"
            raise APIConnectionError(f"connection error: {problem} ({call.path})") from None
        if isinstance(exc, _QUOTING_A_URL):
            raise APIConnectionError(_url_error_message(call, exc)) from None
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            reason = getattr(exc.certificate_error, "verify_message", exc.certificate_error)
            problem = f"the certificate of {exc.host} is not trusted ({reason})"
            raise APIConnectionError(f"connection error: {problem}; see the ssl option") from exc
        if isinstance(exc, aiohttp.ClientError):
            raise APIConnectionError(f"connection error: {exc or type(exc).__name__}") from exc
        if isinstance(exc, OSError):
            raise APIConnectionError(f"connection error: {exc}") from exc


class ResponseStream:
    """A response as the rest of the package sees it: status, headers and decoded body.

    The body is read piece by piece with its content coding undone and its size capped in
    one place (:meth:`chunks`), aiohttp's errors met on the way mapped.
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

    async def chunks(
        self, limit: int | None = None, *, what: str = "the response"
    ) -> AsyncGenerator[bytes, None]:
        """The decoded body as it arrives, at most ``limit`` bytes of it (None: no cap).

        :class:`APIResponseValidationError` past the limit, stopping at the first byte
        beyond it, or when the body will not decode (an unknown ``Content-Encoding``,
        corrupt or truncated compressed data).
        """
        size = 0
        async with aclosing(self._decoded()) as body:
            async for chunk in body:
                size += len(chunk)
                if limit is not None and size > limit:
                    raise self.invalid(f"{what} is larger than max_response_bytes={limit}")
                yield chunk

    async def _decoded(self) -> AsyncGenerator[bytes, None]:
        inflater = self._inflater()
        with _AiohttpErrorsMapped(self._call):
            async for chunk in self._response.content.iter_any():
                if inflater is None:
                    yield chunk
                    continue
                inflater.feed(chunk)
                while (piece := self._decoding(inflater, inflater.next_piece)) is not None:
                    yield piece
        if inflater is not None:
            self._decoding(inflater, inflater.finish)

    def _inflater(self) -> Inflater | None:
        try:
            return inflater_for(self.headers.get("Content-Encoding", ""))
        except UnsupportedEncodingError as exc:
            raise self.invalid(str(exc)) from None

    def _decoding(self, inflater: Inflater, step: Callable[[], _T]) -> _T:
        """``step()``, with corrupt compressed data reported as the server's fault."""
        try:
            return step()
        except zlib.error as exc:
            raise self.invalid(f"the body is not valid {inflater.coding} data: {exc}") from None

    async def read_chunks(self, limit: int, *, what: str = "the response") -> list[bytes]:
        """The whole decoded body as the chunks it arrived in (never joined: parsing takes
        what it needs from them), capped as :meth:`chunks`. Always frees the connection."""
        try:
            if "Content-Encoding" in self.headers:
                async with aclosing(self.chunks(limit, what=what)) as body:
                    chunks = [chunk async for chunk in body]
            else:  # the common case, without chunks()'s generators: one loop, one mapping
                chunks = await self._plain_chunks(limit, what)
        except BaseException:
            self.close()  # a half-read connection cannot be reused
            raise
        self.release()
        return chunks

    async def _plain_chunks(self, limit: int, what: str) -> list[bytes]:
        chunks, size, content = [], 0, self._response.content
        with _AiohttpErrorsMapped(self._call):
            while chunk := await content.readany():
                size += len(chunk)
                if size > limit:
                    raise self.invalid(f"{what} is larger than max_response_bytes={limit}")
                chunks.append(chunk)
        return chunks

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


class AttemptTrace:
    """What one attempt sent and got, filled in by :meth:`Transport.send_once` as it goes."""

    __slots__ = ("bytes_received", "bytes_sent", "request_id", "status", "url_path")

    def __init__(self) -> None:
        self.url_path: str | None = None  # the path only: a query string may hold secrets
        self.bytes_sent: int | None = None
        self.bytes_received: int | None = None
        self.status: int | None = None
        self.request_id: str | None = None


@attrs.frozen(kw_only=True)
class PoolStats:
    """A snapshot of a client's connection pool (``AsyncImages.pool_stats``)."""

    acquired: int
    """Connections lent out: carrying a request, or a response not yet read or released."""
    idle: int
    """Open connections waiting in the pool to be reused."""


def _decode_error_body(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


class Transport:
    """Sends prepared requests for one client; owns its aiohttp session."""

    def __init__(
        self,
        *,
        route: Route,
        default_headers: Mapping[str, str] | None,
        default_query: Mapping[str, str] | None,
        max_connections: int,
        http_session: aiohttp.ClientSession | None,
        proxies: ProxyRules | None = None,
        ssl: ssl_module.SSLContext | bool = True,
    ) -> None:
        self.route = route
        self.base_url = route.base_url
        self.max_connections = max_connections
        self._headers = CIMultiDict(
            {"User-Agent": USER_AGENT, **route.headers, "Accept-Encoding": ACCEPT_ENCODING}
        )
        self._headers.update(default_headers or {})
        self._query: MultiDict[str] = MultiDict(default_query or {})
        self._proxies = proxies or ProxyRules()
        self._direct: dict[str, Any] = {} if ssl is True else {"ssl": ssl}  # True: the default
        self._used_tls = False
        self._session = http_session
        self._owns_session = http_session is None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def _connection_options(self, url: URL, headers: CIMultiDict[str]) -> dict[str, Any]:
        """The proxy (:meth:`ProxyRules.options_for`) and certificate checks for ``url``; a
        plain-http proxy's credentials are added to ``headers``."""
        if url.scheme == "https":
            self._used_tls = True
        if not self._proxies.any:  # the common case, without building a dict per request
            return self._direct
        options, own_headers = self._proxies.options_for(url)
        headers.update(own_headers)
        return {**self._direct, **options}

    @property
    def closed(self) -> bool:
        return self._closed

    def pool_stats(self) -> PoolStats:
        """The counts of the session's connector; zeros when there is no open session."""
        session = self._session
        connector = None if session is None or session.closed else session.connector
        if connector is None or connector.closed:
            return PoolStats(acquired=0, idle=0)
        # aiohttp keeps these counts to itself; this module is the one that knows its
        # internals. list() copies the values in one step: a sync facade reads this from
        # another thread than the loop's.
        idle = sum(len(connections) for connections in list(connector._conns.values()))
        return PoolStats(acquired=len(connector._acquired), idle=idle)

    def _session_for_this_loop(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("this client is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections)
            # trust_env stays False: it would also send ~/.netrc credentials (see _proxy).
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                trust_env=False,
                # An API client keeps no cookies: a download host's would follow later calls.
                cookie_jar=aiohttp.DummyCookieJar(),
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
        if not request.files and request.method not in BODILESS_METHODS:
            headers["Content-Type"] = "application/json"
        headers.update(request.extra_headers or {})
        return headers

    def url_for(self, request: PreparedRequest) -> URL:
        url = self.route.url_for(request.path, request.model)
        if not self._query and not request.extra_query:
            return url
        query = MultiDict(url.query)
        query.update(self._query)
        query.update(request.extra_query or {})
        return url.with_query(query)

    async def send_once(
        self,
        request: PreparedRequest,
        *,
        idempotency_key: str,
        timeout: TimeoutTypes,
        read_limit: int | None = None,
        trace: AttemptTrace | None = None,
    ) -> tuple[ResponseStream, list[bytes] | None]:
        """One attempt: a 2xx response, or the :class:`APIStatusError` of any other status.

        Every attempt of one call carries the same ``idempotency_key``, so the server can
        tell a retry from a new call. With a ``read_limit`` the body is read within the
        attempt (at most that many bytes, as the chunks it arrived in; a failure while
        reading is then retried); without, it is left for the caller to stream. A ``trace``
        gets the attempt's sizes and status as they become known.
        """
        session = self._session_for_this_loop()
        url = self.url_for(request)
        if trace is not None:
            trace.url_path = url.path
        call = CallLabel.of(request.method, url, client_timeout(timeout))
        headers = self._headers_for(request, idempotency_key)
        if self.route.refreshes_credentials:
            headers.update(await self.route.fresh_headers())
        body = encoded_body(request)
        if trace is not None:
            trace.bytes_sent = body.size if isinstance(body, aiohttp.Payload) else len(body or b"")
        connection = self._connection_options(url, headers)
        with _AiohttpErrorsMapped(call):
            response = ResponseStream(
                await session.request(
                    request.method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=call.timeout,
                    allow_redirects=False,
                    # Bodies are decoded by ResponseStream, bounded; also in a session the
                    # caller gave us.
                    auto_decompress=False,
                    **connection,
                ),
                call,
            )
        if trace is not None:
            trace.status, trace.request_id = response.status, response.request_id
        if 200 <= response.status < 300:
            if read_limit is None:
                return response, None
            chunks = await response.read_chunks(read_limit)
            if trace is not None:
                trace.bytes_received = sum(map(len, chunks))
            return response, chunks
        body = await response.read_prefix(MAX_ERROR_BODY_BYTES)
        if trace is not None:
            trace.bytes_received = len(body)
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
            if self._used_tls and _TLS_CLOSE_WAIT:
                await asyncio.sleep(_TLS_CLOSE_WAIT)

    async def get_once(
        self, url: URL, call: CallLabel, *, deadline: float | None, failure: str
    ) -> ResponseStream:
        """One GET of ``url`` that follows no redirect, for :mod:`._downloads`: a 2xx or
        redirect response, or the :class:`APIStatusError` of any other (its reason starts
        with ``failure``). No credentials are sent but a proxy's, to the proxy of this URL.
        ``deadline`` (the loop's clock) replaces the total timeout of ``call``."""
        session = self._session_for_this_loop()
        timeout = call.timeout
        if deadline is not None:  # never 0, which aiohttp reads as "no total timeout"
            left = max(deadline - asyncio.get_running_loop().time(), 0.001)
            timeout = aiohttp.ClientTimeout(
                total=left, connect=timeout.connect, sock_read=timeout.sock_read
            )
        headers = CIMultiDict({"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING})
        connection = self._connection_options(url, headers)
        with _AiohttpErrorsMapped(call):
            response = ResponseStream(
                await session.get(
                    url,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    auto_decompress=False,
                    **connection,
                ),
                call,
            )
        if 200 <= response.status < 300 or response.status in REDIRECT_STATUSES:
            return response
        body = await response.read_prefix(MAX_ERROR_BODY_BYTES)
        raise status_error(
            response.status,
            headers=response.headers,
            body=_decode_error_body(body),
            reason=f"{failure}: {response.reason}",
        )

    def __repr__(self) -> str:
        return f"Transport({self.route!r})"
