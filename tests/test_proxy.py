"""Calls through a forward proxy: ``proxy=``, the proxy variables, NO_PROXY, ``trust_env``.

The client is mostly given a base URL whose host never resolves (``.invalid``): the call
can only work through the test proxy, which sends everything to the emulator on 127.0.0.1.
Where a test needs such a host reached directly (NO_PROXY), the client gets an aiohttp
session whose resolver maps ``.invalid`` names to 127.0.0.1, so nothing asks real DNS.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver
from plugins.forward_proxy import ForwardProxy, basic_credentials, in_background
from yarl import URL

from images_async import (
    APIConnectionError,
    APIStatusError,
    AsyncImages,
    ConfigurationError,
    Images,
)
from images_async.testing import Emulator

if TYPE_CHECKING:
    from aiohttp.abc import ResolveResult

API_KEY = "sk-proxy-test-0123456789abcdef"
UNRESOLVABLE = "api.images.invalid"
PASSWORD = "pr0xy-s3cret-pass"
GENERATIONS_LINE = f"POST http://{UNRESOLVABLE}/v1/images/generations HTTP/1.1"


pytestmark = pytest.mark.usefixtures("no_proxy_settings")


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as served:
        yield served


@pytest.fixture
async def proxy(emulator: Emulator) -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy(_port(emulator)) as started:
        yield started


def _port(emulator: Emulator) -> int:
    port = URL(emulator.base_url).port
    assert port is not None
    return port


def _client(base_url: str, **options: object) -> AsyncImages:
    return AsyncImages(api_key=API_KEY, base_url=base_url, max_retries=0, **options)  # type: ignore[arg-type]


# -- proxy= ----------------------------------------------------------------------------------


async def test_explicit_proxy_carries_the_call_to_a_host_that_does_not_resolve(
    emulator: Emulator, proxy: ForwardProxy
) -> None:
    async with _client(f"http://{UNRESOLVABLE}/v1", proxy=proxy.url) as images:
        result = await images.generate(prompt="a lighthouse")

    assert len(result.data) == 1
    assert [r.request_line for r in proxy.requests] == [GENERATIONS_LINE]
    assert proxy.requests[0].proxy_authorization is None
    arrived = emulator.requests[-1]
    assert arrived.path == "/v1/images/generations"
    assert arrived.headers["Host"] == UNRESOLVABLE
    assert "Proxy-Authorization" not in arrived.headers


async def test_proxy_credentials_are_sent_as_basic_and_never_shown(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="images_async")
    async with ForwardProxy(_port(emulator), credentials=("alice", PASSWORD)) as proxy:
        proxy_url = f"http://alice:{PASSWORD}@127.0.0.1:{proxy.port}"
        async with _client(f"http://{UNRESOLVABLE}/v1", proxy=proxy_url) as images:
            await images.generate(prompt="a lighthouse")
            shown = repr(images)

    assert proxy.requests[0].proxy_authorization == basic_credentials("alice", PASSWORD)
    assert "Proxy-Authorization" not in emulator.requests[-1].headers
    assert PASSWORD not in shown
    assert PASSWORD not in caplog.text
    assert "YWxpY2U6" not in caplog.text  # nor its base64 form ("alice:...")


@pytest.mark.parametrize("userinfo", ["alice:wrong-password@", ""], ids=["wrong", "missing"])
async def test_refused_proxy_credentials_are_a_typed_error(
    emulator: Emulator, userinfo: str
) -> None:
    async with ForwardProxy(_port(emulator), credentials=("alice", PASSWORD)) as proxy:
        proxy_url = f"http://{userinfo}127.0.0.1:{proxy.port}"
        async with _client(f"http://{UNRESOLVABLE}/v1", proxy=proxy_url) as images:
            with pytest.raises(APIStatusError) as raised:
                await images.generate(prompt="a lighthouse")

    assert raised.value.status_code == 407
    assert "wrong-password" not in f"{raised.value} {raised.value!r}"
    assert len(proxy.requests) == 1
    assert emulator.requests == []


@pytest.mark.parametrize(
    "proxy_value",
    [42, "127.0.0.1:3128", "ftp://127.0.0.1:21", "http://", "http://pro xy:80", "socks5://h:1"],
)
def test_a_bad_proxy_option_names_the_option(proxy_value: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        _client("http://127.0.0.1:1/v1", proxy=proxy_value)
    assert raised.value.option == "proxy"
    assert str(raised.value).startswith("proxy:")


def test_a_bad_proxy_url_with_a_password_does_not_show_it() -> None:
    with pytest.raises(ConfigurationError) as raised:
        _client("http://127.0.0.1:1/v1", proxy=f"ftp://alice:{PASSWORD}@127.0.0.1:21")
    assert raised.value.option == "proxy"
    assert PASSWORD not in f"{raised.value} {raised.value!r}"


# -- the environment ---------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
async def test_the_environment_proxy_carries_http_calls(
    emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, proxy.url)
    async with _client(f"http://{UNRESOLVABLE}/v1") as images:
        await images.generate(prompt="a lighthouse")

    assert [r.request_line for r in proxy.requests] == [GENERATIONS_LINE]
    assert emulator.requests[-1].path == "/v1/images/generations"


async def test_the_lower_case_variable_wins(
    emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")  # nothing listens there
    async with _client(f"http://{UNRESOLVABLE}/v1") as images:
        await images.generate(prompt="a lighthouse")
    assert len(proxy.requests) == 1


async def test_https_proxy_is_not_used_for_http_urls(
    emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    async with _client(emulator.base_url) as images:
        await images.generate(prompt="a lighthouse")
    assert proxy.requests == []
    assert emulator.requests[-1].path == "/v1/images/generations"


async def test_trust_env_false_ignores_the_environment(
    emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with _client(emulator.base_url, trust_env=False) as images:
        await images.generate(prompt="a lighthouse")
    assert proxy.requests == []
    assert emulator.requests[-1].path == "/v1/images/generations"

    async with _client(emulator.base_url) as images:  # the default trusts it
        await images.generate(prompt="a lighthouse")
    assert [r.target for r in proxy.requests] == [f"{emulator.base_url}/images/generations"]


async def test_an_explicit_proxy_wins_over_the_environment(
    emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("NO_PROXY", "*")
    async with _client(f"http://{UNRESOLVABLE}/v1", proxy=proxy.url) as images:
        await images.generate(prompt="a lighthouse")
    assert len(proxy.requests) == 1


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "https_proxy", "ALL_PROXY"])
@pytest.mark.parametrize("value", ["socks5://127.0.0.1:1080", "http://", "http://a b:1"])
def test_an_environment_proxy_that_is_no_url_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        _client("http://127.0.0.1:1/v1")
    assert variable in str(raised.value)
    assert raised.value.option == "trust_env"
    # Not read at all without trust_env.
    _client("http://127.0.0.1:1/v1", trust_env=False)


def test_proxy_variables_are_ignored_in_a_cgi_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CGI server puts the request's "Proxy:" header in HTTP_PROXY ("httpoxy"): not a setting.
    monkeypatch.setenv("REQUEST_METHOD", "POST")
    monkeypatch.setenv("HTTP_PROXY", "not a proxy URL at all")
    _client("http://127.0.0.1:1/v1")


# -- NO_PROXY ----------------------------------------------------------------------------------


class _LoopbackResolver(AbstractResolver):
    """Answers 127.0.0.1 for ``.invalid`` names, and refuses every other name: a direct
    connection to such a host then lands on the emulator, and nothing asks real DNS."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if not host.endswith(".invalid"):
            raise OSError(f"the test resolver knows only .invalid names, not {host}")
        flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
        address: ResolveResult = {
            "hostname": host,
            "host": "127.0.0.1",
            "port": port,
            "family": socket.AF_INET,
            "proto": 0,
            "flags": flags,
        }
        return [address]

    async def close(self) -> None:
        pass


@pytest.fixture
async def loopback_session() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(resolver=_LoopbackResolver())
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


@pytest.mark.parametrize(
    ("no_proxy", "proxied"),
    [
        ("", True),
        (UNRESOLVABLE, False),
        (UNRESOLVABLE.upper(), False),
        ("images.invalid", False),
        (".images.invalid", False),
        ("*.images.invalid", False),
        ("*", False),
        ("example.org, images.invalid", False),
        ("{host}:{port}", False),
        ("{host}:1", True),
        ("ages.invalid", True),
        ("other.invalid", True),
        ("127.0.0.1", True),
    ],
)
async def test_no_proxy_sends_matching_hosts_directly(
    emulator: Emulator,
    proxy: ForwardProxy,
    loopback_session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    no_proxy: str,
    proxied: bool,
) -> None:
    port = _port(emulator)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy.format(host=UNRESOLVABLE, port=port))
    base_url = f"http://{UNRESOLVABLE}:{port}/v1"
    async with _client(base_url, http_session=loopback_session) as images:
        await images.generate(prompt="a lighthouse")

    assert emulator.requests[-1].path == "/v1/images/generations"
    expected = [f"POST {base_url}/images/generations HTTP/1.1"] if proxied else []
    assert [r.request_line for r in proxy.requests] == expected


# -- .netrc ----------------------------------------------------------------------------------


@pytest.fixture
def netrc_credentials(no_proxy_settings: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``.netrc`` in HOME (and in NETRC) with credentials for every host; its password."""
    password = "netrc-s3cret"
    hosts = (UNRESOLVABLE, "127.0.0.1", "localhost")
    lines = [f"machine {host} login netrc-user password {password}" for host in hosts]
    lines.append(f"default login netrc-user password {password}")
    netrc = Path.home() / ".netrc"  # the empty HOME of no_proxy_settings
    netrc.write_text("\n".join(lines) + "\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    return password


async def test_netrc_credentials_are_never_sent(
    emulator: Emulator,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
    netrc_credentials: str,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with _client(f"http://{UNRESOLVABLE}/v1") as images:
        result = await images.generate(
            prompt="a lighthouse", model="dall-e-2", response_format="url"
        )
        assert result.data[0].url is not None
        await images.read_image(result.data[0])

    assert [r.method for r in proxy.requests] == ["POST", "GET"]
    assert all(r.proxy_authorization is None for r in proxy.requests)
    api_call, download = emulator.requests
    assert api_call.headers["Authorization"].startswith("Bearer ")
    assert "Authorization" not in download.headers
    assert "Proxy-Authorization" not in download.headers


async def test_a_session_of_the_callers_that_trusts_the_environment_is_refused(
    emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiohttp's own trust_env would look proxies up past NO_PROXY and send ~/.netrc
    # credentials; the client's proxy rules are the only ones that apply.
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with aiohttp.ClientSession(trust_env=True) as session:
        with pytest.raises(ConfigurationError, match="trust_env=True") as raised:
            _client(emulator.base_url, http_session=session)
    assert raised.value.option == "http_session"
    assert emulator.requests == []
    assert proxy.requests == []

    async with (
        aiohttp.ClientSession() as session,
        _client(emulator.base_url, http_session=session, trust_env=False) as images,
    ):
        await images.generate(prompt="a lighthouse")
    assert len(emulator.requests) == 1
    assert proxy.requests == []


# -- image downloads ---------------------------------------------------------------------------


async def test_image_downloads_go_through_the_explicit_proxy(
    emulator: Emulator, proxy: ForwardProxy, tmp_path: Path
) -> None:
    async with _client(f"http://{UNRESOLVABLE}/v1", proxy=proxy.url) as images:
        result = await images.generate(
            prompt="a lighthouse", model="dall-e-2", response_format="url", n=2
        )
        first = await images.read_image(result.data[0])
        saved = await images.save_image(result.data[1], tmp_path / "second.png")

    assert first.startswith(b"\x89PNG")
    assert saved.read_bytes().startswith(b"\x89PNG")
    downloads = [r for r in proxy.requests if r.method == "GET"]
    assert [r.host for r in downloads] == [UNRESOLVABLE, UNRESOLVABLE]
    assert [r.path for r in emulator.requests if r.method == "GET"] == [
        str(URL(r.target).path) for r in downloads
    ]


async def test_image_downloads_follow_no_proxy(
    emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with _client(emulator.base_url) as images:
        result = await images.generate(
            prompt="a lighthouse", model="dall-e-2", response_format="url"
        )
        await images.read_image(result.data[0])
    assert proxy.requests == []
    assert [r.method for r in emulator.requests] == ["POST", "GET"]


# -- the sync client ---------------------------------------------------------------------------


@pytest.fixture
def threaded_proxy(emulator_in_thread: Emulator) -> Iterator[ForwardProxy]:
    with in_background(ForwardProxy(_port(emulator_in_thread))) as started:
        yield started


@pytest.fixture
def emulator_in_thread() -> Iterator[Emulator]:
    with in_background(Emulator()) as served:
        yield served


def test_the_sync_client_goes_through_the_proxy(
    emulator_in_thread: Emulator, threaded_proxy: ForwardProxy, tmp_path: Path
) -> None:
    base_url = f"http://{UNRESOLVABLE}/v1"
    with Images(api_key=API_KEY, base_url=base_url, proxy=threaded_proxy.url) as images:
        result = images.generate(prompt="a lighthouse", model="dall-e-2", response_format="url")
        images.save_image(result.data[0], tmp_path / "image.png")

    assert [r.method for r in threaded_proxy.requests] == ["POST", "GET"]
    assert threaded_proxy.requests[0].request_line == GENERATIONS_LINE
    assert [r.method for r in emulator_in_thread.requests] == ["POST", "GET"]


def test_the_sync_client_reads_the_environment(
    emulator_in_thread: Emulator, threaded_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", threaded_proxy.url)
    with Images(api_key=API_KEY, base_url=f"http://{UNRESOLVABLE}/v1") as images:
        images.generate(prompt="a lighthouse")
    assert [r.request_line for r in threaded_proxy.requests] == [GENERATIONS_LINE]


def test_the_sync_client_reports_an_absent_proxy_as_a_connection_error() -> None:
    base_url = f"http://{UNRESOLVABLE}/v1"
    images = Images(api_key=API_KEY, base_url=base_url, proxy="http://127.0.0.1:1", max_retries=0)
    with images, pytest.raises(APIConnectionError, match=r"127\.0\.0\.1:1"):
        images.generate(prompt="a lighthouse")
