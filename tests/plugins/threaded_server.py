"""The recording Images API served from a thread of its own, for tests of the sync facade.

A sync test blocks its thread on every call, so the server cannot run on that thread's event
loop (the ``fake_api`` fixture's): here it gets its own loop on a background thread, and a
sync ``Images`` client pointed at it is one fixture away.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from aiohttp import web

from images_async import Images
from images_async.testing import Emulator, run_emulator_in_thread
from plugins.api_server import API_KEY, FakeImagesAPI

_T = TypeVar("_T")

#: Upper bound of every wait on the server thread (start, stop, join).
SERVER_WAIT_SECONDS = 10.0

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ThreadedImagesAPI(FakeImagesAPI):
    """:class:`FakeImagesAPI` that also remembers the client port of every request."""

    def __init__(self) -> None:
        super().__init__()
        #: The client-side port of each request, in arrival order: one per connection used.
        self.client_ports: list[int] = []

    def app(self) -> web.Application:
        app = super().app()

        @web.middleware
        async def record_port(request: web.Request, handler: _Handler) -> web.StreamResponse:
            peer = request.transport.get_extra_info("peername") if request.transport else None
            if peer is not None:
                self.client_ports.append(int(peer[1]))
            return await handler(request)

        app.middlewares.append(record_port)
        return app


class ServerThread:
    """An event loop on a daemon thread that serves one app on 127.0.0.1."""

    def __init__(self, app: web.Application) -> None:
        # handler_cancellation: a request the client gave up on (Ctrl-C, early close) stops
        # sleeping on the server too, so stopping never waits out a scripted delay.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=2.0)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="threaded-images-api", daemon=True
        )
        self.port = 0

    def _call(self, awaitable: Awaitable[_T]) -> _T:
        async def wrapped() -> _T:
            return await awaitable

        future = asyncio.run_coroutine_threadsafe(wrapped(), self._loop)
        return future.result(SERVER_WAIT_SECONDS)

    async def _start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port: int = self._runner.addresses[0][1]
        return port

    def start(self) -> None:
        self._thread.start()
        self.port = self._call(self._start())

    def stop(self) -> None:
        try:
            self._call(self._runner.cleanup())
            self._call(self._loop.shutdown_asyncgens())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(SERVER_WAIT_SECONDS)
            if self._thread.is_alive():
                raise RuntimeError("the threaded test server did not stop in time")
            self._loop.close()


@contextlib.contextmanager
def serving_in_thread(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 from its own thread; yields its ``http://host:port`` root."""
    server = ServerThread(app)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.fixture
def threaded_api() -> Iterator[ThreadedImagesAPI]:
    """A recording Images API on 127.0.0.1, served from its own thread and event loop."""
    api = ThreadedImagesAPI()
    with serving_in_thread(api.app()) as api.base_url:
        yield api


@pytest.fixture
def sync_images(threaded_api: ThreadedImagesAPI) -> Iterator[Images]:
    """A sync ``Images`` client pointed at ``threaded_api`` (no retries), closed afterwards."""
    images = Images(api_key=API_KEY, base_url=f"{threaded_api.base_url}/v1", max_retries=0)
    try:
        yield images
    finally:
        images.close()


@pytest.fixture(name="emulator")
def threaded_emulator() -> Iterator[Emulator]:
    """An emulator served from its own thread, for code that runs its own loop (CLI, sync).

    Tests may change ``emulator.config`` as needed; a module wanting another kind of
    emulator defines its own ``emulator`` fixture, which takes precedence.
    """
    emulator = Emulator()
    with run_emulator_in_thread(emulator):
        yield emulator
