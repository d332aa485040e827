"""Saving a live response's images straight to disk, without holding the body.

``StreamedResponse.save_images`` decodes each ``b64_json`` payload into a file as the body
arrives; ``ImageEventStream.save_images`` writes each completed image of an event stream.
Held to: the files hold exactly what ``Image.decode()`` gives, however the body is cut; a
truncated or damaged body raises what the in-memory path raises and leaves no file at all;
an existing file is never replaced; a cancellation leaves no temporary file; the sync twins
do the same. The servers are the emulator or ``aiohttp.web`` apps on 127.0.0.1, and every
file lands under pytest's ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import random
import tracemalloc
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from plugins.api_server import API_KEY, TINY_PNG, FakeImagesAPI, serving
from plugins.threaded_server import serving_in_thread

from images_async import (
    APIConnectionError,
    APIResponseValidationError,
    AsyncImages,
    Image,
    ImageDecodeError,
    Images,
    ImagesResponse,
)
from images_async._payload_split import Base64Pieces, BodySplitter, payload_marker
from images_async.cli.output import OutputError
from images_async.testing import Emulator

#: Bounds every wait for something to show up (a temporary file, a request).
WAIT_SECONDS = 10.0
GENERATIONS = "/v1/images/generations"


def pictures(count: int, size: int = 3000) -> list[bytes]:
    """``count`` different images of ``size`` bytes (random: they do not compress)."""
    generator = random.Random(count * 7919 + size)
    return [b"\x89PNG\r\n\x1a\n" + generator.randbytes(size - 8) for _ in range(count)]


def tricky_body(images: Sequence[bytes]) -> bytes:
    """An images body laid out as some servers might: what a naive splitter trips on.

    Spacing around the colon, ``/`` escaped in the payloads (as some encoders do), a
    prompt that quotes a ``"b64_json": "..."`` pair, a ``b64_json`` elsewhere than an image
    payload, and the fields after ``data`` (so the format is known only at the end).
    """
    items = []
    for number, image in enumerate(images):
        payload = base64.b64encode(image).decode().replace("/", "\\/")
        prompt = json.dumps(f'say "b64_json": "QUJD" \\ {number}')
        items.append(f'{{"revised_prompt": {prompt}, "b64_json"  :  "{payload}"}}')
    return (
        '{"created": 1700000000, "data": [' + ", ".join(items) + '], "note": {"b64_json": '
        '"QUJD"}, "output_format": "png", "usage": {"input_tokens": 3, "output_tokens": 9, '
        '"total_tokens": 12}}'
    ).encode()


def odd_cuts(body: bytes, seed: int) -> list[bytes]:
    """``body`` in pieces of 1 byte and of odd sizes, none a multiple of 4."""
    sizes = itertools.cycle(random.Random(seed).sample([1, 1, 1, 3, 5, 7, 13, 4093, 65537], 9))
    pieces, position = [], 0
    while position < len(body):
        step = next(sizes)
        pieces.append(body[position : position + step])
        position += step
    return pieces


class BodyServer:
    """An app answering every generation with ``body``, written in the pieces asked for.

    ``hold`` stops the answer after that many bytes until ``release`` is set; ``cut_after``
    drops the connection after that many bytes. Records the paths it was asked for.
    """

    def __init__(self, body: bytes, pieces: list[bytes] | None = None) -> None:
        self.body = body
        self.pieces = pieces if pieces is not None else [body]
        self.paths: list[str] = []
        self.hold: int | None = None
        self.release = asyncio.Event()
        self.cut_after: int | None = None

    async def generations(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path)
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        sent = 0
        for piece in self.pieces:
            if self.hold is not None and sent >= self.hold:
                await asyncio.wait_for(self.release.wait(), WAIT_SECONDS)
            if self.cut_after is not None and sent + len(piece) >= self.cut_after:
                await response.write(piece[: self.cut_after - sent])
                assert request.transport is not None
                request.transport.close()
                return response
            await response.write(piece)
            sent += len(piece)
        await response.write_eof()
        return response

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(GENERATIONS, self.generations)
        return app


@pytest.fixture
async def server_and_client(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[BodyServer, AsyncImages]]:
    body: bytes = getattr(request, "param", tricky_body(pictures(3)))
    server = BodyServer(body)
    async with (
        serving(server.app()) as root,
        AsyncImages(api_key=API_KEY, base_url=f"{root}/v1", max_retries=0) as images,
    ):
        yield server, images


async def in_memory(images: AsyncImages) -> ImagesResponse:
    """The same answer through the in-memory path."""
    return await images.generate(prompt="p", model="gpt-image-1")


async def save(images: AsyncImages, directory: Path, **options: Any) -> Any:
    async with images.with_streaming_response.generate(prompt="p", model="gpt-image-1") as r:
        return await r.save_images(directory, **options)


def entries(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


# -- what is saved -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_files_hold_what_decode_gives_however_the_body_is_cut(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path, seed: int
) -> None:
    server, images = server_and_client
    expected = await in_memory(images)
    server.pieces = odd_cuts(server.body, seed)

    saved = await save(images, tmp_path)

    assert server.paths == [GENERATIONS, GENERATIONS]
    assert [path.name for path in saved.paths] == ["image-1.png", "image-2.png", "image-3.png"]
    assert [path.read_bytes() for path in saved.paths] == [i.decode() for i in expected.data]
    assert entries(tmp_path) == ["image-1.png", "image-2.png", "image-3.png"]  # nothing else


async def test_the_rest_of_the_response_comes_back_without_payloads(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path
) -> None:
    _, images = server_and_client
    expected = await in_memory(images)

    saved = await save(images, tmp_path, stem="cat")

    assert [path.parent for path in saved.paths] == [tmp_path] * 3
    assert saved.paths[0].name == "cat-1.png"
    assert saved.response.created == 1700000000
    assert saved.response.usage == expected.usage
    assert saved.response.output_format == "png"
    assert [image.b64_payload for image in saved.response.data] == [None] * 3
    prompts = [image.revised_prompt for image in saved.response.data]
    assert prompts == [image.revised_prompt for image in expected.data]
    assert prompts[0] == 'say "b64_json": "QUJD" \\ 0'


async def test_an_emulator_answer_is_saved_as_decode_gives_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    options: dict[str, Any] = {"prompt": "a lighthouse", "model": "gpt-image-1", "n": 2}
    async with AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images:
        expected = await images.generate(**options, output_format="webp")
        streaming = images.with_streaming_response.generate(**options, output_format="webp")
        async with streaming as response:
            saved = await response.save_images(tmp_path)

    assert [call.path for call in emulator.requests] == [GENERATIONS, GENERATIONS]
    assert emulator.requests[-1].params["n"] == 2
    assert [path.name for path in saved.paths] == ["image-1.webp", "image-2.webp"]
    assert [path.read_bytes() for path in saved.paths] == [i.decode() for i in expected.data]
    # Two calls: their `created` times may fall either side of a second's edge.
    assert saved.response == attrs.evolve(
        expected,
        created=saved.response.created,
        data=tuple(attrs.evolve(image, b64_payload=None) for image in expected.data),
    )
    assert 0 <= saved.response.created - expected.created <= 60


@pytest.mark.parametrize(
    "server_and_client",
    [
        b'{"created": 1, "data": [{"b64_json": "'
        + base64.b64encode(b"GIF89a-not-png").replace(b"/", b"\\/")
        + b'"}]}'
    ],
    indirect=True,
)
async def test_without_a_declared_format_the_extension_comes_from_the_bytes(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path
) -> None:
    _, images = server_and_client
    (path,) = (await save(images, tmp_path)).paths
    assert path.name == "image-1.bin"  # not PNG, JPEG or WEBP; never a name the server sent
    assert path.read_bytes() == b"GIF89a-not-png"


async def test_the_body_is_never_held(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path
) -> None:
    server, images = server_and_client
    server.body = tricky_body(pictures(3, size=4_000_000))  # 16 MB of JSON
    server.pieces = odd_cuts(server.body, 7)
    warm_up, measured = tmp_path / "warm-up", tmp_path / "measured"
    warm_up.mkdir()
    measured.mkdir()
    await save(images, warm_up)  # a first call: lazy imports done, the pool warmed up
    tracemalloc.start()
    try:
        saved = await save(images, measured)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(saved.paths) == 3
    # Held at once: network chunks, and at most a flush's worth of the image being written.
    # In memory, the body alone is 1x (and the skeleton, the images and a file's worth
    # more); here it is a few MiB, however large the images. The server shares this process,
    # and its unsent buffer (larger on a busy machine) is traced too: hence half, not less.
    assert peak < 0.5 * len(server.body), (peak, len(server.body))


# -- names ---------------------------------------------------------------------------------


async def test_an_existing_file_is_never_replaced(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path
) -> None:
    _, images = server_and_client
    (tmp_path / "image-1.png").write_bytes(b"mine")
    (tmp_path / "image-2.png").symlink_to(tmp_path / "elsewhere.png")  # dangling: still taken

    saved = await save(images, tmp_path)

    assert (tmp_path / "image-1.png").read_bytes() == b"mine"
    assert not (tmp_path / "elsewhere.png").exists()
    assert [path.name for path in saved.paths] == ["image-1-2.png", "image-2-2.png", "image-3.png"]


async def test_a_stem_that_leaves_the_directory_is_refused_before_reading(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path
) -> None:
    _, images = server_and_client
    inner = tmp_path / "inner"
    inner.mkdir()
    with pytest.raises(OutputError):
        await save(images, inner, stem="../out")
    with pytest.raises(OutputError):
        await save(images, tmp_path / "missing")
    assert entries(tmp_path) == ["inner"]
    assert entries(inner) == []


# -- failures leave nothing ----------------------------------------------------------------


async def test_a_truncated_body_raises_as_parse_does_and_leaves_no_file(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path
) -> None:
    server, images = server_and_client
    body = server.body
    # Ends inside the second payload, after the first one was complete on disk.
    server.body = server.pieces[0] = body[: body.index(b'"b64_json"', 300) + 500]
    with pytest.raises(APIResponseValidationError) as in_memory_error:
        await in_memory(images)

    with pytest.raises(APIResponseValidationError) as error:
        await save(images, tmp_path)

    assert "unexpected response body" in str(error.value)
    assert str(error.value).split(":")[0] == str(in_memory_error.value).split(":")[0]
    assert error.value.status_code == 200
    assert entries(tmp_path) == []


@pytest.mark.parametrize(
    "server_and_client",
    [
        b'{"created": 1, "data": [{"b64_json": 0}], "x": {"b64_json": "QUJD"}}',
        b'{"created": 1, "data": [{"b64_json": "QUJD"}, {"b64_json": 0}]}',
        b'{"created": 1, "data": {"b64_json": "QUJD"}}',
    ],
    indirect=True,
)
async def test_a_body_of_the_wrong_shape_is_refused_and_leaves_no_file(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path
) -> None:
    # A number as b64_json is not a payload, whatever payload shares its index.
    _, images = server_and_client
    with pytest.raises(APIResponseValidationError, match="unexpected response body"):
        await save(images, tmp_path)
    assert entries(tmp_path) == []


async def test_a_connection_cut_mid_body_raises_as_in_memory_and_leaves_no_file(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path
) -> None:
    server, images = server_and_client
    server.pieces = odd_cuts(server.body, 3)
    server.cut_after = len(server.body) // 2
    with pytest.raises(APIConnectionError) as in_memory_error:
        await in_memory(images)

    with pytest.raises(type(in_memory_error.value)):
        await save(images, tmp_path)
    assert entries(tmp_path) == []


@pytest.mark.parametrize("damage", ["QU=D", "QUJD\\nQUJD", "QQ==QQ==", "QUJDQ", "QUJD QUJD"])
async def test_invalid_base64_raises_image_decode_error_and_leaves_no_file(
    tmp_path: Path, damage: str
) -> None:
    good = base64.b64encode(pictures(1)[0]).decode()
    body = f'{{"created": 1, "data": [{{"b64_json": "{good}"}}, {{"b64_json": "{damage}"}}]}}'
    server = BodyServer(body.encode(), odd_cuts(body.encode(), 4))
    async with (
        serving(server.app()) as root,
        AsyncImages(api_key=API_KEY, base_url=f"{root}/v1", max_retries=0) as images,
    ):
        with pytest.raises(ImageDecodeError):
            (await in_memory(images)).data[1].decode()
        with pytest.raises(ImageDecodeError, match="malformed base64"):
            await save(images, tmp_path)
    assert entries(tmp_path) == []


async def test_cancelling_mid_save_leaves_no_temporary_file(
    server_and_client: tuple[BodyServer, AsyncImages], tmp_path: Path
) -> None:
    server, images = server_and_client
    server.body = tricky_body(pictures(2, size=3_000_000))
    server.pieces = odd_cuts(server.body, 5)
    server.hold = len(server.body) * 3 // 4  # the first image done, the second under way

    saving = asyncio.create_task(save(images, tmp_path))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    # The file system has no event to wait on: polled, within a deadline.
    while len(entries(tmp_path)) < 2 and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    assert all(name.endswith(".part") for name in entries(tmp_path))
    assert len(entries(tmp_path)) == 2  # both payloads were being written
    saving.cancel()

    with pytest.raises(asyncio.CancelledError):
        await saving
    assert entries(tmp_path) == []
    server.release.set()


# -- images given as URLs ------------------------------------------------------------------


async def test_url_images_are_fetched_with_the_download_path(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    async with images.with_streaming_response.generate(
        prompt="p", model="dall-e-2", n=2, response_format="url"
    ) as response:
        saved = await response.save_images(tmp_path)

    assert [path.read_bytes() for path in saved.paths] == [TINY_PNG, TINY_PNG]
    assert [path.name for path in saved.paths] == ["image-1.png", "image-2.png"]
    paths = [request.path for request in fake_api.requests]
    assert paths == [GENERATIONS, "/files/image-0.png", "/files/image-1.png"]
    # Fetched as read_image fetches: image URLs point at storage, never given the API key.
    assert all("Authorization" not in request.headers for request in fake_api.requests[1:])
    assert [image.url for image in saved.response.data] == [
        f"{fake_api.base_url}/files/image-{number}.png" for number in range(2)
    ]


# -- event streams -------------------------------------------------------------------------


async def test_an_event_stream_saves_each_completed_image(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    (tmp_path / "frame-1.png").write_bytes(b"mine")
    stream = await images.generate(prompt="p", model="gpt-image-1", stream=True, partial_images=2)

    paths = await stream.save_images(tmp_path, stem="frame")

    assert fake_api.last.json is not None
    assert fake_api.last.json["stream"] is True
    assert [path.name for path in paths] == ["frame-1-2.png"]
    assert paths[0].read_bytes() == TINY_PNG
    assert (tmp_path / "frame-1.png").read_bytes() == b"mine"
    assert entries(tmp_path) == ["frame-1-2.png", "frame-1.png"]  # no partial image, no temp


# -- the sync twins ------------------------------------------------------------------------


@pytest.fixture
def threaded_body_server() -> Iterator[tuple[BodyServer, Images]]:
    body = tricky_body(pictures(2))
    server = BodyServer(body, odd_cuts(body, 6))
    with (
        serving_in_thread(server.app()) as root,
        Images(api_key=API_KEY, base_url=f"{root}/v1", max_retries=0) as images,
    ):
        yield server, images


def test_the_sync_streamed_response_saves_alike(
    threaded_body_server: tuple[BodyServer, Images], tmp_path: Path
) -> None:
    server, images = threaded_body_server
    expected = images.generate(prompt="p", model="gpt-image-1")
    with images.with_streaming_response.generate(prompt="p", model="gpt-image-1") as response:
        saved = response.save_images(tmp_path)

    assert server.paths == [GENERATIONS, GENERATIONS]
    assert [path.read_bytes() for path in saved.paths] == [i.decode() for i in expected.data]
    assert saved.response.usage == expected.usage


def test_the_sync_streamed_response_leaves_nothing_on_a_truncated_body(
    threaded_body_server: tuple[BodyServer, Images], tmp_path: Path
) -> None:
    server, images = threaded_body_server
    server.pieces = [server.body[: len(server.body) // 2]]
    response = images.with_streaming_response.generate(prompt="p", model="gpt-image-1")
    with pytest.raises(APIResponseValidationError):
        response.save_images(tmp_path)
    assert entries(tmp_path) == []


def test_the_sync_event_stream_saves_each_completed_image(tmp_path: Path) -> None:
    api = FakeImagesAPI()
    with (
        serving_in_thread(api.app()) as api.base_url,
        Images(api_key=API_KEY, base_url=f"{api.base_url}/v1", max_retries=0) as images,
    ):
        stream = images.generate(prompt="p", model="gpt-image-1", stream=True)
        paths = stream.save_images(tmp_path)
    assert api.last.path == GENERATIONS
    assert [path.name for path in paths] == ["image-1.png"]
    assert paths[0].read_bytes() == TINY_PNG


# -- the pieces, without HTTP --------------------------------------------------------------

fast = settings(max_examples=150, deadline=None)


def split(chunks: list[bytes]) -> tuple[Any, dict[int, bytes]]:
    splitter = BodySplitter()
    payloads: dict[int, bytes] = {}
    for chunk in chunks:
        for piece in splitter.feed(chunk):
            payloads[piece.payload] = payloads.get(piece.payload, b"") + piece.text
    return json.loads(splitter.skeleton()), payloads


@fast
@given(
    data=st.data(),
    images=st.lists(st.binary(max_size=40), max_size=4),
    escape=st.booleans(),
)
def test_the_splitter_gives_the_payloads_json_loads_gives(
    data: st.DataObject, images: list[bytes], escape: bool
) -> None:
    body = tricky_body(images)
    if not escape:
        body = body.replace(b"\\/", b"/")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=10)))
    chunks = [body[start:end] for start, end in itertools.pairwise([0, *cuts, len(body)])]

    skeleton, payloads = split(chunks)

    expected = json.loads(body)
    indices = [payload_marker(image.pop("b64_json")) for image in skeleton["data"]]
    assert indices == list(range(len(images)))  # the image payloads come first here
    assert [payloads[index] for index in range(len(images))] == [
        image["b64_json"].encode() for image in expected["data"]
    ]
    assert [image["revised_prompt"] for image in skeleton["data"]] == [
        image["revised_prompt"] for image in expected["data"]
    ]
    assert skeleton["usage"] == expected["usage"]


def test_the_splitter_leaves_other_b64_json_values_alone() -> None:
    body = b'{"b64_json": null, "x": ["b64_json", {"b64_json": 5}], "data": []}'
    for position in range(len(body) + 1):
        skeleton, payloads = split([body[:position], body[position:]])
        assert skeleton == json.loads(body)
        assert payloads == {}


def whole_and_pieces(text: bytes, cuts: list[int]) -> tuple[bytes | None, bytes | None]:
    """``text`` decoded whole by ``Image.decode()``, and in pieces cut at ``cuts``; None
    where it is refused (the pieces' refusal is what the client turns into ImageDecodeError)."""
    try:
        whole: bytes | None = Image(b64_payload=text).decode()
    except ImageDecodeError:
        whole = None
    decoder = Base64Pieces()
    try:
        pieces: bytes | None = b"".join(
            piece
            for start, end in itertools.pairwise([0, *cuts, len(text)])
            for piece in decoder.feed(text[start:end])
        ) + b"".join(decoder.finish())
    except binascii.Error:
        pieces = None
    return whole, pieces


@pytest.mark.parametrize(
    ("text", "cuts"),
    [(b"0000=", [4]), (b"0000====", [5]), (b"0000==", []), (b"0000==0000", [6]), (b"0000=0", [4])],
)
def test_base64_in_pieces_treats_padding_after_whole_groups_as_the_whole_decode(
    text: bytes, cuts: list[int]
) -> None:
    # The strict decoder accepts "=" runs after whole unpadded groups, and nothing after them.
    whole, pieces = whole_and_pieces(text, cuts)
    assert pieces == whole


@fast
@given(
    data=st.data(),
    text=st.binary(max_size=30).map(base64.b64encode)
    | st.text("ABCDabcd0189+/= \n", max_size=24).map(str.encode),
)
def test_base64_in_pieces_accepts_and_refuses_what_the_whole_decode_does(
    data: st.DataObject, text: bytes
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    whole, pieces = whole_and_pieces(text, cuts)
    assert pieces == whole
