"""The multipart body of an upload, as it arrives: byte for byte what aiohttp's ``FormData``
sends for the same parts, large files without warnings, and the same bytes on every attempt
of a retried call, whatever bytes-like form the caller passed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy
from plugins.api_server import API_KEY, FakeImagesAPI, Part, serving

from images_async import AsyncImages, RetryPolicy
from images_async.testing.sample_images import png_from_rows, solid_png

PROMPT = "a lighthouse at dusk"
IMAGES_RESPONSE = {"created": 1, "data": [{"url": "https://example.invalid/a.png"}]}


def noisy_png(side: int, seed: int = 3) -> bytes:
    """A PNG of random pixels: about ``4 * side**2`` bytes, as it does not compress."""
    chooser = random.Random(seed)
    return png_from_rows(side, side, [chooser.randbytes(side * 4) for _ in range(side)])


LARGE = noisy_png(640)  # 1.6 MB: past the 1 MiB at which aiohttp warns about raw bytes
assert len(LARGE) > 1.5 * 2**20


@attrs.frozen
class RawRequest:
    """A request body exactly as it came off the wire."""

    headers: CIMultiDictProxy[str]
    body: bytes

    def normalized(self) -> bytes:
        """The body with its boundary replaced: each request draws its own."""
        boundary = re.fullmatch(
            r"multipart/form-data; boundary=(\S+)", self.headers["Content-Type"]
        )
        assert boundary is not None, self.headers["Content-Type"]
        return self.body.replace(boundary[1].encode(), b"BOUNDARY")


@pytest.fixture
async def raw_api() -> AsyncIterator[tuple[str, list[RawRequest]]]:
    """A server keeping every request body as raw bytes; yields its root and the requests."""
    received: list[RawRequest] = []

    async def keep(request: web.Request) -> web.Response:
        received.append(RawRequest(headers=request.headers, body=await request.read()))
        return web.json_response(IMAGES_RESPONSE)

    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_post("/v1/images/{endpoint}", keep)
    async with serving(app) as root:
        yield root, received


def client(root: str, **options: Any) -> AsyncImages:
    options.setdefault("max_retries", 0)
    return AsyncImages(api_key=API_KEY, base_url=f"{root}/v1", **options)


def form_data_of(parts: list[Part]) -> aiohttp.FormData:
    """aiohttp's own encoding of ``parts``, as a bare aiohttp client would send them."""
    form = aiohttp.FormData(quote_fields=False)
    for part in parts:
        if part.filename is None:
            form.add_field(part.name, part.value)
        else:
            form.add_field(
                part.name, part.value, filename=part.filename, content_type=part.content_type
            )
    return form


@pytest.mark.parametrize(
    "call",
    [
        pytest.param({"image": solid_png(8, 8)}, id="one-image"),
        pytest.param(
            {
                "image": [
                    ('quo"te\\back.png', solid_png(8, 8)),
                    ("ünïcødé 画像.png", solid_png(4, 4)),
                    ("typed.bin", b"not an image", "application/x-custom"),
                ],
                "mask": solid_png(8, 8, (0, 0, 0, 0)),
                "extra_body": {"note": 'line one\r\nline "two"', 'odd"name\\': "x"},
                "validate_requests": False,
            },
            id="images-mask-odd-names",
        ),
    ],
)
async def test_the_body_is_byte_for_byte_what_form_data_sends(
    fake_api: FakeImagesAPI, raw_api: tuple[str, list[RawRequest]], call: dict[str, Any]
) -> None:
    root, received = raw_api
    arguments = {key: value for key, value in call.items() if key != "validate_requests"}
    validate = call.get("validate_requests", True)
    for base in (fake_api.base_url, root):
        async with client(base, validate_requests=validate) as images:
            await images.edit(prompt=PROMPT, **arguments)
    async with aiohttp.ClientSession() as session:
        form = form_data_of(fake_api.last.parts)
        async with session.post(f"{root}/v1/images/edits", data=form) as response:
            assert response.status == 200
    ours, theirs = received
    assert ours.normalized() == theirs.normalized()
    assert ours.headers["Content-Length"] == str(len(ours.body))
    assert "Transfer-Encoding" not in ours.headers


@attrs.define
class FlakyUploadAPI:
    """Answers the first upload with a 500, after ``on_first`` ran; every file part is kept."""

    on_first: Callable[[], None] = lambda: None
    files: list[list[Part]] = attrs.field(factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        reader = await request.multipart()
        parts = []
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader)
            value = await part.read()
            if part.filename is not None:
                content_type = part.headers.get("Content-Type")
                parts.append(Part(part.name or "", bytes(value), part.filename, content_type))
        self.files.append(parts)
        if len(self.files) == 1:
            self.on_first()
            error = {"error": {"message": "try again", "type": "server_error", "code": None}}
            return web.Response(status=500, text=json.dumps(error), content_type="application/json")
        return web.json_response(IMAGES_RESPONSE)

    @property
    def sent(self) -> list[list[bytes | str]]:
        return [[part.value for part in parts] for parts in self.files]


@pytest.fixture
async def flaky_api() -> AsyncIterator[tuple[str, FlakyUploadAPI]]:
    api = FlakyUploadAPI()
    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_post("/v1/images/{endpoint}", api.handle)
    async with serving(app) as root:
        yield root, api


QUICK = RetryPolicy(initial_delay=0.001, max_delay=0.004)


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(bytes, id="bytes"),
        pytest.param(bytearray, id="bytearray"),
        pytest.param(memoryview, id="memoryview"),
        pytest.param(lambda data: memoryview(bytearray(data)), id="memoryview-of-bytearray"),
        pytest.param(
            lambda data: memoryview(b"head" + data + b"tail")[4:-4], id="memoryview-slice"
        ),
        pytest.param(lambda data: memoryview(data).cast("c"), id="memoryview-cast"),
    ],
)
async def test_a_retried_large_upload_sends_the_whole_file_every_time(
    flaky_api: tuple[str, FlakyUploadAPI], wrap: Callable[[bytes], Any]
) -> None:
    root, api = flaky_api
    mask = noisy_png(640, seed=4)
    async with client(root, max_retries=2, retry_policy=QUICK) as images:
        raw = await images.with_raw_response.edit(
            image=wrap(LARGE), mask=mask, prompt=PROMPT, model="gpt-image-1"
        )
    assert raw.retries_taken == 1
    assert api.sent == [[LARGE, mask], [LARGE, mask]]
    assert [part.filename for part in api.files[1]] == ["image.png", "mask.png"]
    assert [part.content_type for part in api.files[1]] == ["image/png", "image/png"]


async def test_several_large_images_are_sent_as_image_array_parts_on_every_attempt(
    flaky_api: tuple[str, FlakyUploadAPI],
) -> None:
    root, api = flaky_api
    second = noisy_png(600, seed=5)
    async with client(root, max_retries=1, retry_policy=QUICK) as images:
        await images.edit(image=[LARGE, ("b.png", second)], prompt=PROMPT, model="gpt-image-1")
    assert api.sent == [[LARGE, second], [LARGE, second]]
    assert [(part.name, part.filename) for part in api.files[1]] == [
        ("image[]", "image.png"),
        ("image[]", "b.png"),
    ]


async def test_a_buffer_changed_during_the_call_does_not_change_what_a_retry_sends(
    flaky_api: tuple[str, FlakyUploadAPI],
) -> None:
    # A bytearray is copied when the call starts: the retry sends what was validated.
    root, api = flaky_api
    buffer = bytearray(LARGE)

    def overwrite() -> None:
        buffer[:] = bytes(len(buffer))

    api.on_first = overwrite
    async with client(root, max_retries=1, retry_policy=QUICK) as images:
        await images.edit(image=buffer, prompt=PROMPT, model="gpt-image-1")
    assert api.sent == [[LARGE], [LARGE]]
    assert buffer == bytes(len(LARGE))


async def test_control_characters_in_a_field_name_are_percent_encoded(
    fake_api: FakeImagesAPI,
) -> None:
    # A CR or LF in a part's header would start a new header; browsers encode them, as here.
    async with client(fake_api.base_url) as images:
        await images.edit(
            image=solid_png(8, 8), prompt=PROMPT, extra_body={"a\r\nX-Injected: 1": "v"}
        )
    assert fake_api.last.field("a%0D%0AX-Injected: 1") == "v"
