"""A small forward HTTP proxy on 127.0.0.1 for tests, and a way to serve from a thread.

:class:`ForwardProxy` speaks the two ways clients use a proxy: absolute-form requests for
``http://`` URLs (``POST http://api.images.invalid/v1/images/generations HTTP/1.1``) and
``CONNECT host:port`` tunnels for ``https://`` ones. It records every request it gets and
may insist on Basic proxy credentials (407 otherwise). Whatever host a client asks for, it
connects only to its one upstream on 127.0.0.1, so a base URL whose host does not resolve
works through it and nowhere else.

Each plain request gets a connection of its own (``Connection: close`` both ways), so every
request passes through the parsing and recording here; a tunnel is piped as is.

:func:`in_background` serves any such server from its own event loop on a thread, for sync
clients, which block the thread that calls them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from collections.abc import Awaitable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

import attrs
from yarl import URL

_T = TypeVar("_T")
_R = TypeVar("_R")

#: The most a request head may take; a larger one is answered with 431.
MAX_HEAD_BYTES = 64 * 1024
#: The size of each read while piping bytes between the client and the upstream.
PIPE_CHUNK_BYTES = 64 * 1024
#: Upper bound of every wait on a background loop (start, stop, join).
BACKGROUND_WAIT_SECONDS = 10.0
#: Headers meant for the proxy itself, never passed on.
_HOP_BY_HOP = frozenset({"proxy-authorization", "proxy-connection", "connection", "keep-alive"})


@attrs.frozen
class ProxiedRequest:
    """A request as the proxy received it."""

    request_line: str
    """The first line, as sent (``CONNECT api.images.invalid:443 HTTP/1.1``)."""
    method: str
    target: str
    """What the client asked to reach: an absolute URL, or ``host:port`` for CONNECT."""
    proxy_authorization: str | None
    """The ``Proxy-Authorization`` header, if any."""
    headers: tuple[tuple[str, str], ...]
    """Every header of the request head, in order."""

    @property
    def host(self) -> str:
        """The host the client asked for (without the port)."""
        if self.method == "CONNECT":
            return self.target.rpartition(":")[0].strip("[]")
        return URL(self.target).host or ""

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (any case), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def basic_credentials(user: str, password: str) -> str:
    """The ``Proxy-Authorization`` value for these Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class ForwardProxy:
    """A forward proxy on 127.0.0.1 sending everything to ``127.0.0.1:upstream_port``.

    ``async with ForwardProxy(port) as proxy:`` serves on an ephemeral port; ``proxy.url``
    is what a client takes as ``proxy=``. ``credentials`` (user, password) makes it answer
    407 to any request without exactly those.
    """

    def __init__(self, upstream_port: int, *, credentials: tuple[str, str] | None = None) -> None:
        self.upstream_port = upstream_port
        self.expected_authorization = (
            None if credentials is None else basic_credentials(*credentials)
        )
        #: Every request received, in order (also those refused).
        self.requests: list[ProxiedRequest] = []
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the proxy's own URL."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_HEAD_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing left to answer
        except asyncio.CancelledError:
            # The proxy is closing. Ending the task normally, not cancelled: asyncio's stream
            # server logs an error for a cancelled connection task (Python 3.11).
            pass
        finally:
            self._connections.discard(task)
            await _closed(writer)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            await _answer(writer, 431, "Request Header Fields Too Large")
            return
        request = _parsed_head(head)
        if request is None:
            await _answer(writer, 400, "Bad Request")
            return
        self.requests.append(request)
        expected = self.expected_authorization
        if expected is not None and request.proxy_authorization != expected:
            await _answer(writer, 407, "Proxy Authentication Required", challenge=True)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port, limit=MAX_HEAD_BYTES
            )
        except OSError:
            await _answer(writer, 502, "Bad Gateway")
            return
        try:
            if request.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                upstream_writer.write(_origin_form_head(request))
                await upstream_writer.drain()
            await _piped(reader, writer, upstream_reader, upstream_writer)
        finally:
            await _closed(upstream_writer)


def _parsed_head(head: bytes) -> ProxiedRequest | None:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line:
            name, colon, value = line.partition(":")
            if not colon:
                return None
            headers.append((name.strip(), value.strip()))
    authorization = next((v for k, v in headers if k.lower() == "proxy-authorization"), None)
    return ProxiedRequest(
        request_line=lines[0],
        method=parts[0],
        target=parts[1],
        proxy_authorization=authorization,
        headers=tuple(headers),
    )


def _origin_form_head(request: ProxiedRequest) -> bytes:
    """The request head the upstream gets: origin-form target, no proxy headers, and
    ``Connection: close`` so that the next request comes through :meth:`_handle` again."""
    target = URL(request.target)
    path = target.raw_path_qs if target.is_absolute() else request.target
    lines = [f"{request.method} {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in request.headers if k.lower() not in _HOP_BY_HOP]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def _piped(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes, then stop the other direction."""
    directions = {
        asyncio.ensure_future(_copy(reader, upstream_writer)),
        asyncio.ensure_future(_copy(upstream_reader, writer)),
    }
    try:
        await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for direction in directions:
            direction.cancel()
        await asyncio.gather(*directions, return_exceptions=True)


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await source.read(PIPE_CHUNK_BYTES):
            sink.write(chunk)
            await sink.drain()


async def _answer(
    writer: asyncio.StreamWriter, status: int, reason: str, *, challenge: bool = False
) -> None:
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Length: 0", "Connection: close"]
    if challenge:
        lines.append('Proxy-Authenticate: Basic realm="test proxy"')
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()


async def _closed(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()


@contextlib.contextmanager
def in_background(server: AbstractAsyncContextManager[_T]) -> Iterator[_T]:
    """Enter ``server`` (an async context manager that serves) on an event loop of its own,
    on a daemon thread; yields what it gives. For tests of the sync client."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-server-loop", daemon=True)
    thread.start()

    def run(awaitable: Awaitable[_R]) -> _R:
        async def awaited() -> _R:
            return await awaitable

        future = asyncio.run_coroutine_threadsafe(awaited(), loop)
        return future.result(BACKGROUND_WAIT_SECONDS)

    try:
        entered = run(server.__aenter__())
        try:
            yield entered
        finally:
            run(server.__aexit__(None, None, None))
            run(loop.shutdown_asyncgens())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(BACKGROUND_WAIT_SECONDS)
        if thread.is_alive():
            raise RuntimeError("the background test server did not stop in time")
        loop.close()
