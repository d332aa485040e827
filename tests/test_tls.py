"""TLS: ``ssl=`` with a CA of the test's own, certificate failures, ``ssl=False``, and HTTPS
through a proxy's CONNECT tunnel, against the emulator served over TLS (``tls_emulator``).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from plugins.api_server import serving
from plugins.forward_proxy import ForwardProxy, basic_credentials, in_background
from plugins.tls import TLS_HOST, TLSEmulator, serving_tls

from images_async import (
    APIConnectionError,
    AsyncAzureImages,
    AsyncImages,
    ConfigurationError,
    Image,
    Images,
    InsecureConnectionWarning,
)

API_KEY = "sk-tls-test-0123456789abcdef"
TUNNELED_BASE_URL = f"https://{TLS_HOST}/v1"
PASSWORD = "tunnel-s3cret-pass"


pytestmark = pytest.mark.usefixtures("no_proxy_settings")


@pytest.fixture
async def tunnel(tls_emulator: TLSEmulator) -> AsyncIterator[ForwardProxy]:
    """A forward proxy whose every tunnel leads to the TLS emulator."""
    async with ForwardProxy(tls_emulator.port) as proxy:
        yield proxy


def _client(base_url: str, **options: object) -> AsyncImages:
    return AsyncImages(api_key=API_KEY, base_url=base_url, max_retries=0, **options)  # type: ignore[arg-type]


async def test_a_context_trusting_the_ca_reaches_the_tls_emulator(
    tls_emulator: TLSEmulator, trusting_context: ssl.SSLContext
) -> None:
    async with _client(tls_emulator.base_url, ssl=trusting_context) as images:
        result = await images.generate(prompt="a lighthouse")
    assert len(result.data) == 1
    assert [r.path for r in tls_emulator.emulator.requests] == ["/v1/images/generations"]


async def test_an_untrusted_certificate_is_a_typed_connection_error(
    tls_emulator: TLSEmulator,
) -> None:
    async with _client(tls_emulator.base_url) as images:
        with pytest.raises(APIConnectionError) as raised:
            await images.generate(prompt="a lighthouse")

    message = str(raised.value)
    assert "certificate" in message
    assert "not trusted" in message
    assert "the ssl option" in message
    assert API_KEY not in f"{message} {raised.value!r}"
    assert tls_emulator.emulator.requests == []


async def test_a_certificate_for_another_name_is_refused(
    tls_emulator: TLSEmulator, test_ca: trustme.CA
) -> None:
    # The certificate names localhost, 127.0.0.1 and TLS_HOST only: trusting its CA is not
    # enough for another name.
    context = ssl.create_default_context()
    test_ca.configure_trust(context)
    async with ForwardProxy(tls_emulator.port) as proxy:
        base_url = "https://other.images.invalid/v1"
        async with _client(base_url, ssl=context, proxy=proxy.url) as images:
            with pytest.raises(APIConnectionError, match="certificate"):
                await images.generate(prompt="a lighthouse")
    assert tls_emulator.emulator.requests == []


async def test_a_ca_file_works_as_the_docs_show(
    tls_emulator: TLSEmulator, test_ca: trustme.CA, tmp_path: Path
) -> None:
    cafile = tmp_path / "ca.pem"
    test_ca.cert_pem.write_to_path(str(cafile))
    context = ssl.create_default_context(cafile=str(cafile))
    async with _client(tls_emulator.base_url, ssl=context) as images:
        await images.generate(prompt="a lighthouse")
    assert len(tls_emulator.emulator.requests) == 1


async def test_ssl_false_skips_the_check_and_warns(tls_emulator: TLSEmulator) -> None:
    with pytest.warns(InsecureConnectionWarning, match="ssl=False") as warned:
        images = _client(tls_emulator.base_url, ssl=False)
    assert [w.filename for w in warned] == [__file__]  # the line that made the client
    async with images:
        await images.generate(prompt="a lighthouse")
    assert len(tls_emulator.emulator.requests) == 1


@pytest.mark.parametrize("value", ["yes", 1, 0, ssl.Purpose.SERVER_AUTH, object()])
def test_a_bad_ssl_option_names_the_option(value: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        _client("https://127.0.0.1:1/v1", ssl=value)
    assert raised.value.option == "ssl"
    assert str(raised.value).startswith("ssl:")


async def test_image_downloads_use_the_same_context(
    tls_emulator: TLSEmulator, trusting_context: ssl.SSLContext, tmp_path: Path
) -> None:
    async with _client(tls_emulator.base_url, ssl=trusting_context) as images:
        result = await images.generate(
            prompt="a lighthouse", model="dall-e-2", response_format="url"
        )
        url = result.data[0].url
        saved = await images.save_image(result.data[0], tmp_path / "image.png")

    assert url is not None
    assert url.startswith("https://127.0.0.1:")
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert [r.method for r in tls_emulator.emulator.requests] == ["POST", "GET"]


async def test_a_redirect_to_https_is_checked_with_the_same_context(
    tls_emulator: TLSEmulator, trusting_context: ssl.SSLContext
) -> None:
    async with _client(tls_emulator.base_url, ssl=trusting_context) as images:
        result = await images.generate(
            prompt="a lighthouse", model="dall-e-2", response_format="url"
        )
        secure_url = result.data[0].url
        assert secure_url is not None

        async def redirect(request: web.Request) -> web.Response:
            return web.Response(status=302, headers={"Location": secure_url})

        app = web.Application()
        app.router.add_get("/start", redirect)
        async with serving(app) as plain_root:
            content = await images.read_image(Image(url=f"{plain_root}/start"))
            async with _client(tls_emulator.base_url) as system_trust_only:
                with pytest.raises(APIConnectionError) as caught:
                    await system_trust_only.read_image(Image(url=f"{plain_root}/start"))

    assert content.startswith(b"\x89PNG")
    assert "is not trusted" in str(caught.value)
    assert [r.method for r in tls_emulator.emulator.requests] == ["POST", "GET"]


async def test_client_certificates_go_in_the_context(test_ca: trustme.CA) -> None:
    async with serving_tls(test_ca, require_client_certificate=True) as served:
        without = ssl.create_default_context()
        test_ca.configure_trust(without)
        async with _client(served.base_url, ssl=without) as images:
            with pytest.raises(APIConnectionError):
                await images.generate(prompt="a lighthouse")

        with_certificate = ssl.create_default_context()
        test_ca.configure_trust(with_certificate)
        test_ca.issue_cert("client@example.invalid").configure_cert(with_certificate)
        async with _client(served.base_url, ssl=with_certificate) as images:
            await images.generate(prompt="a lighthouse")
    assert [r.path for r in served.emulator.requests] == ["/v1/images/generations"]


# -- through a proxy's CONNECT ---------------------------------------------------------------


async def test_https_goes_through_the_proxy_tunnel(
    tls_emulator: TLSEmulator, tunnel: ForwardProxy, trusting_context: ssl.SSLContext
) -> None:
    async with _client(TUNNELED_BASE_URL, proxy=tunnel.url, ssl=trusting_context) as images:
        result = await images.generate(
            prompt="a lighthouse", model="dall-e-2", response_format="url"
        )
        await images.read_image(result.data[0])

    # One tunnel carries both requests (the connection is kept alive inside it).
    assert {r.request_line for r in tunnel.requests} == {f"CONNECT {TLS_HOST}:443 HTTP/1.1"}
    assert [r.method for r in tls_emulator.emulator.requests] == ["POST", "GET"]
    assert tls_emulator.emulator.requests[0].headers["Host"] == TLS_HOST


async def test_https_proxy_from_the_environment(
    tls_emulator: TLSEmulator,
    tunnel: ForwardProxy,
    trusting_context: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")  # for http:// URLs only
    async with _client(TUNNELED_BASE_URL, ssl=trusting_context) as images:
        await images.generate(prompt="a lighthouse")
    assert [r.target for r in tunnel.requests] == [f"{TLS_HOST}:443"]


async def test_tunnel_credentials_go_in_the_connect_only(
    tls_emulator: TLSEmulator, trusting_context: ssl.SSLContext
) -> None:
    async with ForwardProxy(tls_emulator.port, credentials=("bob", PASSWORD)) as proxy:
        proxy_url = f"http://bob:{PASSWORD}@127.0.0.1:{proxy.port}"
        async with _client(TUNNELED_BASE_URL, proxy=proxy_url, ssl=trusting_context) as images:
            await images.generate(prompt="a lighthouse")

    assert proxy.requests[0].proxy_authorization == basic_credentials("bob", PASSWORD)
    assert "Proxy-Authorization" not in tls_emulator.emulator.requests[0].headers


async def test_a_refused_tunnel_is_a_typed_error_without_the_password(
    tls_emulator: TLSEmulator, trusting_context: ssl.SSLContext
) -> None:
    async with ForwardProxy(tls_emulator.port, credentials=("bob", PASSWORD)) as proxy:
        proxy_url = f"http://bob:wrong-{PASSWORD}@127.0.0.1:{proxy.port}"
        async with _client(TUNNELED_BASE_URL, proxy=proxy_url, ssl=trusting_context) as images:
            with pytest.raises(APIConnectionError) as raised:
                await images.generate(prompt="a lighthouse")

    assert "407" in str(raised.value)
    assert PASSWORD not in f"{raised.value} {raised.value!r} {raised.value.__cause__!r}"
    assert tls_emulator.emulator.requests == []


async def test_the_azure_client_goes_through_the_tunnel(
    tls_emulator: TLSEmulator, tunnel: ForwardProxy, trusting_context: ssl.SSLContext
) -> None:
    async with AsyncAzureImages(
        azure_endpoint=f"https://{TLS_HOST}",
        api_version="2025-04-01-preview",
        azure_deployment="my-gpt-image",
        api_key=API_KEY,
        proxy=tunnel.url,
        ssl=trusting_context,
        max_retries=0,
    ) as images:
        await images.generate(prompt="a lighthouse")

    assert [r.request_line for r in tunnel.requests] == [f"CONNECT {TLS_HOST}:443 HTTP/1.1"]
    assert all(API_KEY not in value for r in tunnel.requests for _, value in r.headers)
    arrived = tls_emulator.emulator.requests[0]
    assert arrived.path == "/openai/deployments/my-gpt-image/images/generations"
    assert "api-key" in arrived.headers


# -- the sync client ---------------------------------------------------------------------------


@pytest.fixture
def threaded_tunnel(threaded_tls_emulator: TLSEmulator) -> Iterator[ForwardProxy]:
    with in_background(ForwardProxy(threaded_tls_emulator.port)) as proxy:
        yield proxy


def test_the_sync_client_takes_ssl_and_proxy(
    threaded_tls_emulator: TLSEmulator,
    threaded_tunnel: ForwardProxy,
    trusting_context: ssl.SSLContext,
) -> None:
    with Images(
        api_key=API_KEY, base_url=threaded_tls_emulator.base_url, ssl=trusting_context
    ) as images:
        images.generate(prompt="a lighthouse")
    with Images(
        api_key=API_KEY, base_url=TUNNELED_BASE_URL, proxy=threaded_tunnel.url, ssl=trusting_context
    ) as images:
        images.generate(prompt="a lighthouse")
    assert [r.target for r in threaded_tunnel.requests] == [f"{TLS_HOST}:443"]
    assert len(threaded_tls_emulator.emulator.requests) == 2


def test_the_sync_client_warns_for_ssl_false(threaded_tls_emulator: TLSEmulator) -> None:
    with pytest.warns(InsecureConnectionWarning) as warned:
        images = Images(api_key=API_KEY, base_url=threaded_tls_emulator.base_url, ssl=False)
    assert [w.filename for w in warned] == [__file__]
    with images:
        images.generate(prompt="a lighthouse")
    assert len(threaded_tls_emulator.emulator.requests) == 1
