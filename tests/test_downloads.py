"""Image downloads (``read_image`` / ``save_image`` of a ``url`` result) and their redirects.

The client follows redirects itself: every hop is checked again, gets its own proxy decision
(``NO_PROXY`` included) and no credentials but its proxy's. An origin server on 127.0.0.1
records what reached it; hosts that must not resolve (``.invalid``) are reached only through
the test proxy, which sends everything to that origin.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
from aiohttp import web
from plugins.api_server import API_KEY, TINY_PNG, serving
from plugins.forward_proxy import ForwardProxy, basic_credentials
from yarl import URL

from images_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncImages,
    Image,
    ImagesError,
    InvalidRequestError,
    NotFoundError,
    Timeout,
)

SIGNATURE = "sig=SECRET-signature-0123"
PASSWORD = "pr0xy-s3cret-pass"
ELSEWHERE = "elsewhere.invalid"
#: /hop/N/LAST redirects to /hop/N+1/LAST until N is LAST, which is the image.
HOPS = re.compile(r"/hop/(\d+)/(\d+)")


@attrs.frozen
class Arrived:
    """A request as the origin server got it."""

    path_qs: str
    headers: dict[str, str]


class Origin:
    """Serves the image at any ``.../image.png``, the redirects a test sets in ``redirects`` (path
    to status and raw ``Location``, None for none), ``/hop/N/LAST`` chains, and records
    every request."""

    def __init__(self) -> None:
        self.redirects: dict[str, tuple[int, str | None]] = {}
        self.requests: list[Arrived] = []
        self.delay = 0.0
        self.root = ""

    @property
    def port(self) -> int:
        port = URL(self.root).port
        assert port is not None
        return port

    @property
    def paths(self) -> list[str]:
        return [request.path_qs for request in self.requests]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Arrived(request.path_qs, dict(request.headers)))
        await asyncio.sleep(self.delay)
        if request.path in self.redirects:
            status, location = self.redirects[request.path]
            # Set as is: web.HTTPFound would parse and re-encode it.
            headers = {} if location is None else {"Location": location}
            return web.Response(status=status, headers=headers, text="moved")
        if hops := HOPS.fullmatch(request.path):
            step, last = int(hops[1]), int(hops[2])
            if step < last:
                return web.Response(status=302, headers={"Location": f"/hop/{step + 1}/{last}"})
        elif request.path.startswith("/cookie/"):
            response = web.Response(body=TINY_PNG, content_type="image/png")
            response.set_cookie("session", "from-the-download-host")
            return response
        elif not request.path.endswith("/image.png"):
            # Not an API error body: the message is then the client's own, URL and all.
            return web.Response(status=404, text="no such file")
        return web.Response(body=TINY_PNG, content_type="image/png")


pytestmark = pytest.mark.usefixtures("no_proxy_settings")


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    served = Origin()
    app = web.Application()
    app.router.add_get("/{tail:.*}", served.handle)
    async with serving(app) as served.root:
        yield served


@pytest.fixture
async def proxy(origin: Origin) -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy(origin.port) as started:
        yield started


@pytest.fixture
async def proxy_with_password(origin: Origin) -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy(origin.port, credentials=("user", PASSWORD)) as started:
        yield started


def _client(**options: object) -> AsyncImages:
    # The API is never called here: only downloads, which do not use the base URL.
    return AsyncImages(api_key=API_KEY, base_url="http://api.images.invalid/v1", **options)  # type: ignore[arg-type]


def _texts(error: BaseException) -> list[str]:
    """What a message or a traceback shows of ``error`` and the errors it chains."""
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current)]
        suppressed = current.__suppress_context__
        current = current.__cause__ or (None if suppressed else current.__context__)
    return texts


def assert_not_shown(error: BaseException, *secrets: str) -> None:
    assert isinstance(error, ImagesError), repr(error)
    for text in _texts(error):
        for secret in secrets:
            assert secret not in text, text


# -- following redirects ----------------------------------------------------------------------


async def test_a_chain_of_three_redirects_is_followed(origin: Origin) -> None:
    origin.redirects = {
        "/a": (302, f"{origin.root}/b?{SIGNATURE}"),
        "/b": (307, f"{origin.root}/c"),
        "/c": (301, f"{origin.root}/image.png"),
    }
    async with _client() as images:
        content = await images.read_image(Image(url=f"{origin.root}/a"))
        stats = images.pool_stats

    assert content == TINY_PNG
    assert origin.paths == ["/a", f"/b?{SIGNATURE}", "/c", "/image.png"]
    # Every hop's connection went back to the pool, and the next hop reused it.
    assert (stats.acquired, stats.idle) == (0, 1)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_each_redirect_status_is_followed_as_a_get(origin: Origin, status: int) -> None:
    origin.redirects = {"/moved": (status, "/image.png")}
    async with _client() as images:
        assert await images.read_image(Image(url=f"{origin.root}/moved")) == TINY_PNG
    assert origin.paths == ["/moved", "/image.png"]


@pytest.mark.parametrize(
    ("start", "location", "arrives_at"),
    [
        ("/files/a/start", "../image.png", "/files/image.png"),
        ("/files/start", "image.png?v=2", "/files/image.png?v=2"),
        ("/files/start", "/image.png", "/image.png"),
        ("/files/start", "//127.0.0.1:{port}/image.png", "/image.png"),
    ],
    ids=["dot-dot", "sibling", "absolute-path", "scheme-relative"],
)
async def test_a_relative_location_is_resolved_against_the_current_url(
    origin: Origin, start: str, location: str, arrives_at: str
) -> None:
    origin.redirects = {start: (302, location.format(port=origin.port))}
    async with _client() as images:
        await images.read_image(Image(url=f"{origin.root}{start}"))
    assert origin.paths[-1] == arrives_at


async def test_ten_redirects_are_followed_and_an_eleventh_is_an_error(origin: Origin) -> None:
    async with _client() as images:
        assert await images.read_image(Image(url=f"{origin.root}/hop/0/10")) == TINY_PNG
        assert len(origin.requests) == 11
        origin.requests.clear()

        with pytest.raises(APIConnectionError) as caught:
            await images.read_image(Image(url=f"{origin.root}/hop/0/11?{SIGNATURE}"))
        stats = images.pool_stats

    assert "too many redirects" in str(caught.value)
    assert "GET /hop/0/11" in str(caught.value)
    assert_not_shown(caught.value, SIGNATURE)
    assert len(origin.requests) == 11  # the first and ten redirects: the eleventh not taken
    assert stats.acquired == 0


@pytest.mark.parametrize(
    "location",
    [
        f"ftp://127.0.0.1/image.png?{SIGNATURE}",
        f"http://user:{PASSWORD}@127.0.0.1:{{port}}/image.png?{SIGNATURE}",
        f"http://:{PASSWORD}@127.0.0.1:{{port}}/image.png",
        f"http://[::1/image.png?{SIGNATURE}",
        None,
    ],
    ids=["ftp", "credentials", "password-only", "not-a-url", "no-location"],
)
async def test_a_redirect_nowhere_a_download_may_go_is_a_typed_error(
    origin: Origin, location: str | None
) -> None:
    target = None if location is None else location.format(port=origin.port)
    origin.redirects = {"/start": (302, target)}
    async with _client() as images:
        with pytest.raises(APIConnectionError) as caught:
            await images.read_image(Image(url=f"{origin.root}/start?{SIGNATURE}"))
        stats = images.pool_stats

    assert str(caught.value).startswith("connection error: a redirect "), str(caught.value)
    assert "(GET /start)" in str(caught.value)
    assert_not_shown(caught.value, SIGNATURE, PASSWORD, "image.png")
    assert origin.paths == [f"/start?{SIGNATURE}"]  # nothing was sent anywhere else
    assert stats.acquired == 0


async def test_an_image_url_with_credentials_is_refused_before_sending(origin: Origin) -> None:
    url = f"http://user:{PASSWORD}@127.0.0.1:{origin.port}/image.png?{SIGNATURE}"
    async with _client() as images:
        with pytest.raises(InvalidRequestError) as caught:
            await images.read_image(Image(url=url))
    assert caught.value.param == "image"
    assert_not_shown(caught.value, PASSWORD, SIGNATURE)
    assert origin.requests == []


async def test_a_status_error_after_a_redirect_does_not_show_the_signed_query(
    origin: Origin,
) -> None:
    origin.redirects = {"/start": (302, f"/missing.png?{SIGNATURE}")}
    async with _client() as images:
        with pytest.raises(NotFoundError) as caught:
            await images.read_image(Image(url=f"{origin.root}/start?{SIGNATURE}"))

    message = str(caught.value)
    assert f"redirected to {origin.root}/missing.png" in message, message
    assert_not_shown(caught.value, SIGNATURE)
    assert origin.paths == [f"/start?{SIGNATURE}", f"/missing.png?{SIGNATURE}"]


async def test_a_3xx_that_is_no_redirect_is_a_status_error(origin: Origin) -> None:
    origin.redirects = {"/choices": (300, "/image.png")}
    async with _client() as images:
        with pytest.raises(APIStatusError) as caught:
            await images.read_image(Image(url=f"{origin.root}/choices"))
    assert caught.value.status_code == 300
    assert origin.paths == ["/choices"]


async def test_the_total_timeout_bounds_all_the_hops(origin: Origin) -> None:
    origin.delay = 0.2  # each hop well within the limit, the three together not
    origin.redirects = {"/a": (302, "/b"), "/b": (302, "/image.png")}
    async with _client() as images:
        with pytest.raises(APITimeoutError) as caught:
            await images.read_image(Image(url=f"{origin.root}/a"), timeout=Timeout(total=0.5))
    assert "GET /a timed out" in str(caught.value)
    assert "total timeout" in str(caught.value)


async def test_no_credentials_reach_any_hop(origin: Origin) -> None:
    origin.redirects = {"/start": (302, "/image.png")}
    async with _client() as images:
        await images.read_image(Image(url=f"{origin.root}/start"))
    for arrived in origin.requests:
        assert not {"Authorization", "Proxy-Authorization", "Cookie"} & set(arrived.headers)
        assert all(API_KEY not in value for value in arrived.headers.values())


async def test_save_image_follows_a_redirect(origin: Origin, tmp_path: Path) -> None:
    origin.redirects = {"/start": (303, f"/image.png?{SIGNATURE}")}
    async with _client() as images:
        saved = await images.save_image(Image(url=f"{origin.root}/start"), tmp_path / "x.png")
    assert saved.read_bytes() == TINY_PNG
    assert origin.paths == ["/start", f"/image.png?{SIGNATURE}"]


# -- each hop's proxy ---------------------------------------------------------------------------


async def test_a_redirect_from_a_no_proxy_host_goes_through_the_proxy(
    origin: Origin, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    elsewhere = f"http://{ELSEWHERE}:{origin.port}/image.png"
    origin.redirects = {"/start": (302, elsewhere)}
    async with _client() as images:
        assert await images.read_image(Image(url=f"{origin.root}/start")) == TINY_PNG

    assert [r.request_line for r in proxy.requests] == [f"GET {elsewhere} HTTP/1.1"]
    assert origin.paths == ["/start", "/image.png"]
    assert origin.requests[1].headers["Host"] == f"{ELSEWHERE}:{origin.port}"


async def test_proxy_credentials_go_to_the_proxy_only_across_redirects(
    origin: Origin, proxy_with_password: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxied = URL(proxy_with_password.url).with_user("user").with_password(PASSWORD)
    monkeypatch.setenv("HTTP_PROXY", str(proxied))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    # Direct, then through the proxy, then direct again.
    origin.redirects = {
        "/start": (302, f"http://{ELSEWHERE}:{origin.port}/middle"),
        "/middle": (307, f"{origin.root}/image.png"),
    }
    async with _client() as images:
        assert await images.read_image(Image(url=f"{origin.root}/start")) == TINY_PNG
        stats = images.pool_stats

    assert [r.host for r in proxy_with_password.requests] == [ELSEWHERE]
    assert proxy_with_password.requests[0].proxy_authorization == basic_credentials(
        "user", PASSWORD
    )
    assert origin.paths == ["/start", "/middle", "/image.png"]
    for arrived in origin.requests:
        assert not {"Authorization", "Proxy-Authorization"} & set(arrived.headers)
        assert all(PASSWORD not in value for value in arrived.headers.values())
    assert stats.acquired == 0


async def test_an_explicit_proxy_with_credentials_carries_every_hop(
    origin: Origin, proxy_with_password: ForwardProxy
) -> None:
    proxied = URL(proxy_with_password.url).with_user("user").with_password(PASSWORD)
    start = f"http://{ELSEWHERE}:{origin.port}/start"
    origin.redirects = {"/start": (302, f"/image.png?{SIGNATURE}")}
    async with _client(proxy=str(proxied)) as images:
        assert await images.read_image(Image(url=start)) == TINY_PNG

    expected = basic_credentials("user", PASSWORD)
    assert [(r.method, r.host) for r in proxy_with_password.requests] == [("GET", ELSEWHERE)] * 2
    assert all(r.proxy_authorization == expected for r in proxy_with_password.requests)
    assert origin.paths == ["/start", f"/image.png?{SIGNATURE}"]
    assert all("Proxy-Authorization" not in arrived.headers for arrived in origin.requests)


async def test_cookies_a_download_host_sets_are_not_sent_back(
    origin: Origin, proxy: ForwardProxy
) -> None:
    # A named host (reached through the proxy), since cookie jars ignore bare IP addresses.
    host = f"http://{ELSEWHERE}:{origin.port}"
    async with _client(proxy=proxy.url) as images:
        await images.read_image(Image(url=f"{host}/cookie/image.png"))
        await images.read_image(Image(url=f"{host}/later/image.png"))

    assert origin.paths == ["/cookie/image.png", "/later/image.png"]
    assert all("Cookie" not in request.headers for request in origin.requests)
