"""Compressed bodies against a loopback server: decoded as read, bounded on decoded bytes.

A gzip bomb (200 MB of zeros in about 200 KB) must fail with ``max_response_bytes`` in
every place a body is read, while memory stays a small multiple of that cap; ordinary gzip
and deflate bodies must still parse, also across retries.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import tracemalloc
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import attrs
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy
from plugins.api_server import API_KEY, TINY_PNG, images_body, serving, stream_events

from images_async import (
    APIResponseValidationError,
    AsyncImages,
    BadRequestError,
    CompletedImageEvent,
    Image,
    InternalServerError,
    PartialImageEvent,
)

#: The cap the bomb tests set; the bomb inflates to 200 times as much.
CAP = 1_000_000
BOMB_SIZE = 200 * 1024 * 1024
#: What a bounded read may use: the cap a few times over, plus buffers of a few MB.
MEMORY_BOUND = 4 * CAP + 8 * 1024 * 1024
JSON = {"Content-Type": "application/json"}
EVENTS = {"Content-Type": "text/event-stream"}


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes gzip-compressed, 1 MiB at a time: the zeros never exist at once."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(size // len(zeros))]
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(BOMB_SIZE)


@attrs.frozen
class Canned:
    """One scripted answer, sent as is (the server never compresses anything itself)."""

    body: bytes
    headers: dict[str, str] = attrs.field(factory=dict)
    status: int = 200


class CannedServer:
    """Answers every request, whatever its method and path, with the next canned answer."""

    def __init__(self) -> None:
        self.answers: deque[Canned] = deque()
        self.seen: list[CIMultiDictProxy[str]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.seen.append(request.headers)
        answer = self.answers.popleft()
        headers = {"x-request-id": f"req_{len(self.seen)}", **answer.headers}
        return web.Response(status=answer.status, body=answer.body, headers=headers)


@pytest.fixture
async def server() -> AsyncIterator[CannedServer]:
    canned = CannedServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", canned.handle)
    async with serving(app) as canned.url:
        yield canned


@contextlib.asynccontextmanager
async def client(server: CannedServer, **options: Any) -> AsyncIterator[AsyncImages]:
    options = {"max_retries": 0, **options}
    async with AsyncImages(api_key=API_KEY, base_url=f"{server.url}/v1", **options) as images:
        yield images


@contextlib.contextmanager
def peak_growth() -> Iterator[list[int]]:
    """Holds, after the block, how far traced memory rose above where it started."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    growth: list[int] = []
    try:
        yield growth
    finally:
        growth.append(tracemalloc.get_traced_memory()[1] - start)
        if not was_tracing:
            tracemalloc.stop()


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events
    )


def images_json(n: int = 1) -> bytes:
    return json.dumps(images_body({"n": n}, "")).encode()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


# --- the bomb, wherever a body is read ------------------------------------------------------


async def read_parsed(images: AsyncImages, url: str) -> object:
    return await images.generate(prompt="p")


async def read_raw(images: AsyncImages, url: str) -> object:
    return await images.with_raw_response.generate(prompt="p")


async def read_streamed(images: AsyncImages, url: str) -> object:
    async with images.with_streaming_response.generate(prompt="p") as response:
        return await response.read()


async def iterate_bytes(images: AsyncImages, url: str) -> object:
    async with images.with_streaming_response.generate(prompt="p") as response:
        async for _chunk in response.iter_bytes():
            pass  # each chunk is dropped at once: only the running total may stop this
    return None


async def iterate_lines(images: AsyncImages, url: str) -> object:
    async with images.with_streaming_response.generate(prompt="p") as response:
        async for _line in response.iter_lines():
            pass
    return None


async def iterate_events(images: AsyncImages, url: str) -> object:
    stream = await images.generate(prompt="p", model="gpt-image-1", stream=True)
    async with stream:
        async for _event in stream:
            pass
    return None


async def download(images: AsyncImages, url: str) -> object:
    return await images.read_image(Image(url=f"{url}/files/bomb.png?sig=secret"))


READERS = [
    read_parsed,
    read_raw,
    read_streamed,
    iterate_bytes,
    iterate_lines,
    iterate_events,
    download,
]


@pytest.mark.parametrize("read", READERS, ids=[read.__name__ for read in READERS])
async def test_a_gzip_bomb_stops_at_the_cap_with_bounded_memory(
    server: CannedServer, bomb: bytes, read: Any
) -> None:
    content_type = EVENTS if read is iterate_events else JSON
    server.answers.append(Canned(bomb, {"Content-Encoding": "gzip", **content_type}))

    async with client(server, max_response_bytes=CAP) as images:
        with peak_growth() as growth, pytest.raises(APIResponseValidationError) as caught:
            await read(images, server.url)

    assert f"max_response_bytes={CAP}" in str(caught.value)
    assert "secret" not in str(caught.value)
    assert growth[0] < MEMORY_BOUND, f"peak grew by {growth[0] / 2**20:.0f} MiB"


async def test_a_gzip_bomb_as_an_error_body_is_cut(server: CannedServer, bomb: bytes) -> None:
    server.answers.append(Canned(bomb, {"Content-Encoding": "gzip", **JSON}, status=500))

    async with client(server, max_response_bytes=CAP) as images:
        with peak_growth() as growth, pytest.raises(InternalServerError) as caught:
            await images.generate(prompt="p")

    body = caught.value.body
    assert isinstance(body, str)
    assert 0 < len(body) <= 64 * 1024
    assert growth[0] < MEMORY_BOUND, f"peak grew by {growth[0] / 2**20:.0f} MiB"


async def test_a_gzip_bomb_downloaded_as_an_error_body_is_cut(
    server: CannedServer, bomb: bytes
) -> None:
    server.answers.append(Canned(bomb, {"Content-Encoding": "gzip"}, status=503))

    async with client(server, max_response_bytes=CAP) as images:
        with peak_growth() as growth, pytest.raises(InternalServerError) as caught:
            await images.read_image(Image(url=f"{server.url}/files/x.png?sig=secret"))

    assert caught.value.status_code == 503
    assert "secret" not in str(caught.value)
    assert growth[0] < MEMORY_BOUND, f"peak grew by {growth[0] / 2**20:.0f} MiB"


# --- ordinary compressed bodies ------------------------------------------------------------


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": raw_deflate,  # what some servers send as "deflate": no zlib header
}


@pytest.mark.parametrize("name", list(ENCODERS))
async def test_compressed_bodies_parse(server: CannedServer, name: str) -> None:
    encoding = "deflate" if name == "raw-deflate" else name
    body = images_json(n=2)
    server.answers.append(Canned(ENCODERS[name](body), {"Content-Encoding": encoding, **JSON}))

    async with client(server) as images:
        response = await images.generate(prompt="p", n=2)

    assert [image.decode() for image in response.data] == [TINY_PNG, TINY_PNG]


async def test_we_ask_only_for_the_encodings_we_decode(server: CannedServer) -> None:
    server.answers.extend([Canned(images_json(), JSON), Canned(TINY_PNG)])

    async with client(server) as images:
        await images.generate(prompt="p")
        await images.read_image(Image(url=f"{server.url}/files/a.png"))

    assert [headers["Accept-Encoding"] for headers in server.seen] == ["gzip, deflate"] * 2


async def test_raw_and_streamed_bodies_are_decoded(server: CannedServer) -> None:
    body = images_json()
    compressed = Canned(gzip.compress(body), {"Content-Encoding": "gzip", **JSON})
    server.answers.extend([compressed, compressed, compressed])

    async with client(server) as images:
        raw = await images.with_raw_response.generate(prompt="p")
        async with images.with_streaming_response.generate(prompt="p") as response:
            chunks = [chunk async for chunk in response.iter_bytes(chunk_size=10)]
        async with images.with_streaming_response.generate(prompt="p") as response:
            parsed = await response.parse()

    assert raw.content == body
    assert raw.headers["Content-Encoding"] == "gzip"  # the headers stay as received
    assert b"".join(chunks) == body
    assert all(len(chunk) == 10 for chunk in chunks[:-1])
    assert parsed.data[0].decode() == TINY_PNG


async def test_a_compressed_event_stream(server: CannedServer) -> None:
    events = stream_events("image_generation", 2)
    server.answers.append(
        Canned(gzip.compress(sse(events)), {"Content-Encoding": "gzip", **EVENTS})
    )

    async with client(server) as images:
        stream = await images.generate(prompt="p", model="gpt-image-1", stream=True)
        async with stream:
            received = [event async for event in stream]

    assert [type(event) for event in received] == [
        PartialImageEvent,
        PartialImageEvent,
        CompletedImageEvent,
    ]
    assert isinstance(received[-1], CompletedImageEvent)
    assert received[-1].decode() == TINY_PNG


async def test_a_compressed_download(server: CannedServer) -> None:
    server.answers.append(Canned(gzip.compress(TINY_PNG), {"Content-Encoding": "gzip"}))

    async with client(server) as images:
        assert await images.read_image(Image(url=f"{server.url}/files/a.png")) == TINY_PNG


async def test_multi_member_gzip(server: CannedServer) -> None:
    body = images_json()
    middle = len(body) // 2
    joined = gzip.compress(body[:middle]) + gzip.compress(body[middle:])
    server.answers.append(Canned(joined, {"Content-Encoding": "gzip", **JSON}))

    async with client(server) as images:
        response = await images.generate(prompt="p")

    assert response.data[0].decode() == TINY_PNG


async def test_compressed_error_and_success_across_retries(server: CannedServer) -> None:
    error = {"error": {"message": "busy", "type": "server_error", "code": "overloaded"}}
    server.answers.extend(
        [
            Canned(
                zlib.compress(json.dumps(error).encode()),
                {"Content-Encoding": "deflate", "retry-after-ms": "0", **JSON},
                status=500,
            ),
            Canned(gzip.compress(images_json()), {"Content-Encoding": "gzip", **JSON}),
        ]
    )

    async with client(server, max_retries=1) as images:
        raw = await images.with_raw_response.generate(prompt="p")

    assert (raw.status_code, raw.retries_taken) == (200, 1)
    assert raw.parse().data[0].decode() == TINY_PNG


async def test_a_compressed_error_body_is_parsed(server: CannedServer) -> None:
    error = {"error": {"message": "bad size", "param": "size", "code": "invalid_size"}}
    encoded = gzip.compress(json.dumps(error).encode())
    server.answers.append(Canned(encoded, {"Content-Encoding": "gzip", **JSON}, status=400))

    async with client(server) as images:
        with pytest.raises(BadRequestError) as caught:
            await images.generate(prompt="p")

    assert (caught.value.code, caught.value.param) == ("invalid_size", "size")


# --- what cannot be decoded ----------------------------------------------------------------


def broken_bodies() -> list[Any]:
    valid = gzip.compress(images_json())
    return [
        pytest.param("br", b"\x0b\x02\x80hello\x03", "Content-Encoding 'br'", id="unknown"),
        pytest.param("gzip", b"certainly not gzip", "gzip", id="corrupt"),
        pytest.param("gzip", valid[: len(valid) // 2], "gzip", id="truncated"),
        pytest.param("deflate", zlib.compress(b"{}") + b"tail", "deflate", id="trailing-data"),
        pytest.param("gzip, br", gzip.compress(b"{}"), "Content-Encoding", id="chained"),
    ]


@pytest.mark.parametrize(("encoding", "body", "message"), broken_bodies())
async def test_undecodable_bodies_raise_a_validation_error(
    server: CannedServer, encoding: str, body: bytes, message: str
) -> None:
    server.answers.append(Canned(body, {"Content-Encoding": encoding, **JSON}))

    async with client(server, max_retries=2) as images:
        with pytest.raises(APIResponseValidationError, match=message) as caught:
            await images.generate(prompt="p")

    assert caught.value.status_code == 200
    assert caught.value.request_id == "req_1"
    assert len(server.seen) == 1  # the server's answer is final: no retry


async def test_undecodable_downloads_raise_a_validation_error(server: CannedServer) -> None:
    server.answers.append(Canned(b"not gzip at all", {"Content-Encoding": "gzip"}))

    async with client(server) as images:
        with pytest.raises(APIResponseValidationError, match="gzip"):
            await images.read_image(Image(url=f"{server.url}/files/a.png"))


async def test_identity_bodies_are_untouched(server: CannedServer) -> None:
    payload = base64.b64encode(TINY_PNG)
    server.answers.append(Canned(images_json(), {"Content-Encoding": "identity", **JSON}))

    async with client(server) as images:
        response = await images.generate(prompt="p")

    assert response.data[0].b64_payload == payload
