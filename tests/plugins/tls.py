"""A certificate authority made for the test session, and the emulator served over TLS.

``test_ca`` is a throwaway CA (``trustme``); the emulator's certificate names ``localhost``,
``127.0.0.1`` and :data:`TLS_HOST`, a name that never resolves, which a client reaches
only through a proxy's CONNECT tunnel. ``trusting_context`` is the ``ssl.SSLContext`` a
client needs to trust it; ``tls_emulator`` serves the project's emulator with that
certificate on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator

import attrs
import pytest
import trustme
from aiohttp import web

from images_async.testing import Emulator
from plugins.forward_proxy import in_background

#: The emulator's name in URLs that only a proxy can reach (``.invalid`` never resolves).
TLS_HOST = "api.images.invalid"
#: Seconds the server waits for open connections when it stops.
_SHUTDOWN_SECONDS = 0.5


@attrs.frozen
class TLSEmulator:
    """An emulator answering over TLS on 127.0.0.1."""

    emulator: Emulator
    """The emulator itself: its ``requests`` and ``config``."""
    port: int

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT/v1``, the API root by address (the certificate names it)."""
        return f"https://127.0.0.1:{self.port}/v1"


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    """A certificate authority trusted by nothing but the contexts the tests make."""
    return trustme.CA()


@pytest.fixture
def trusting_context(test_ca: trustme.CA) -> ssl.SSLContext:
    """A client context that checks certificates as usual and trusts ``test_ca``."""
    context = ssl.create_default_context()
    test_ca.configure_trust(context)
    return context


def server_context(ca: trustme.CA, *, require_client_certificate: bool = False) -> ssl.SSLContext:
    """A server context with a certificate from ``ca`` for all the emulator's names; it may
    also require clients to show a certificate from ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", TLS_HOST).configure_cert(context)
    if require_client_certificate:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@contextlib.asynccontextmanager
async def serving_tls(
    ca: trustme.CA, *, require_client_certificate: bool = False
) -> AsyncIterator[TLSEmulator]:
    """Serve a new emulator over TLS on 127.0.0.1 at an ephemeral port."""
    emulator = Emulator()
    context = server_context(ca, require_client_certificate=require_client_certificate)
    runner = web.AppRunner(emulator.app(), shutdown_timeout=_SHUTDOWN_SECONDS, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        yield TLSEmulator(emulator=emulator, port=runner.addresses[0][1])
    finally:
        await runner.cleanup()
        await emulator.close()  # wakes anything still pausing in the emulator


@pytest.fixture
async def tls_emulator(test_ca: trustme.CA) -> AsyncIterator[TLSEmulator]:
    """The emulator over TLS, certified by ``test_ca``."""
    async with serving_tls(test_ca) as served:
        yield served


@pytest.fixture
def threaded_tls_emulator(test_ca: trustme.CA) -> Iterator[TLSEmulator]:
    """The emulator over TLS from its own thread and loop, for the sync client."""
    with in_background(serving_tls(test_ca)) as served:
        yield served
