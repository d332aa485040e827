"""The Images API emulator, driven through the real client (and raw HTTP where it refuses).

Covers authentication, server-side validation, the pictures (sizes, determinism, edits and
variations checked pixel by pixel), URL mode and expiry, streaming, headers, recording, the
threaded runner and the pytest plugin. Every body is checked against the OpenAPI spec.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import operator
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from openapi_schema import check_json_response, check_stream_event
from PIL import Image as PillowImage

from images_async import (
    APIStatusError,
    AsyncImages,
    AuthenticationError,
    BadRequestError,
    Image,
    NotFoundError,
    RateLimitError,
)
from images_async.testing import Emulator, EmulatorConfig, run_emulator_in_thread
from images_async.testing.sample_images import (
    image_size,
    jpeg_header_bytes,
    png_from_rows,
    solid_png,
)

pytest_plugins = ["pytester"]

#: Upper bound of a child interpreter's run.
CHILD_SECONDS = 60.0

API_KEY = "sk-test-emulator-0123456789"
PROMPT = "a lighthouse at dusk"
OPERATIONS = {
    "generate": "createImage",
    "edit": "createImageEdit",
    "variation": "createImageVariation",
}


def rgba_with_hole(size: int, hole: tuple[int, int, int, int]) -> bytes:
    """An opaque striped RGBA square whose rectangle ``hole`` (x0, y0, x1, y1) is clear."""
    x0, y0, x1, y1 = hole
    rows = []
    for y in range(size):
        flat = bytearray(b"".join(bytes((x % 256, y % 256, 90, 255)) for x in range(size)))
        if y0 <= y < y1:
            flat[x0 * 4 : x1 * 4] = bytes(4 * (x1 - x0))
        rows.append(bytes(flat))
    return png_from_rows(size, size, rows)


def gradient_rgb(size: int) -> bytes:
    """An RGB square with no symmetry: every pixel is (x, y, x + y)."""
    rows = [
        b"".join(bytes((x % 256, y % 256, (x + y) % 256)) for x in range(size)) for y in range(size)
    ]
    return png_from_rows(size, size, rows, alpha=False)


def decoded(data: bytes) -> PillowImage.Image:
    """The picture in PNG, JPEG or WEBP ``data``, decoded."""
    with PillowImage.open(io.BytesIO(data)) as picture:
        picture.load()
        copy: PillowImage.Image = picture.copy()
    return copy


def pixel(picture: PillowImage.Image, x: int, y: int) -> tuple[int, ...]:
    """The channel values of one pixel of a multi-channel picture."""
    value = picture.getpixel((x, y))
    assert isinstance(value, tuple)
    return value


HOLE = (64, 64, 192, 128)
HOLED_256 = rgba_with_hole(256, HOLE)
RGB_256 = gradient_rgb(256)
RECT_PNG = solid_png(256, 128)
JPEG_256 = jpeg_header_bytes(256, 256)


@contextlib.asynccontextmanager
async def serve(
    config: EmulatorConfig | None = None, **options: Any
) -> AsyncIterator[tuple[Emulator, AsyncImages]]:
    """An emulator and a client of it (no retries unless ``options`` say otherwise)."""
    options.setdefault("max_retries", 0)
    async with (
        Emulator(config) as emulator,
        AsyncImages(
            api_key=options.pop("api_key", API_KEY), base_url=emulator.base_url, **options
        ) as client,
    ):
        yield emulator, client


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A default emulator on 127.0.0.1 (the plugin's fixtures are tested through pytester)."""
    async with Emulator() as started:
        yield started


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[AsyncImages]:
    async with AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images:
        yield images


async def post(
    url: str,
    *,
    json_body: object = None,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, Any, Mapping[str, str]]:
    """One raw request; returns status, the decoded JSON body (or text) and the headers."""
    sent = {"Authorization": f"Bearer {API_KEY}"} if headers is None else dict(headers)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=json_body, data=data, headers=sent) as response,
    ):
        text = await response.text()
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        return response.status, body, response.headers


def assert_error_body(body: Any, *, param: str | None, code: str | None) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)


def sse_events(content: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each block of a text/event-stream body."""
    events = []
    for block in content.split(b"\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n"))
        events.append((lines[b"event"].decode(), json.loads(lines[b"data"])))
    return events


# --- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        pytest.param({}, None, id="missing"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_api_key", id="basic"),
        pytest.param({"Authorization": "Bearer"}, "invalid_api_key", id="empty-bearer"),
        pytest.param({"Authorization": "Bearer two words"}, "invalid_api_key", id="spaces"),
    ],
)
async def test_missing_or_malformed_authorization_is_401(
    emulator: Emulator, headers: dict[str, str], code: str | None
) -> None:
    status, body, response_headers = await post(
        f"{emulator.base_url}/images/generations",
        json_body={"prompt": PROMPT},
        headers=headers,
    )
    assert status == 401
    assert_error_body(body, param=None, code=code)
    assert response_headers["x-request-id"].startswith("req_")


async def test_unknown_key_is_rejected_when_keys_are_configured() -> None:
    config = EmulatorConfig(api_keys=frozenset({"sk-the-only-good-key-000"}))
    async with serve(config, api_key="sk-some-other-key-1234") as (emulator, client):
        with pytest.raises(AuthenticationError) as caught:
            await client.generate(prompt=PROMPT)
        assert caught.value.code == "invalid_api_key"
        assert "1234" in caught.value.message
        assert "sk-some-other-key-1234" not in caught.value.message
        good = AsyncImages(api_key="sk-the-only-good-key-000", base_url=emulator.base_url)
        async with good:
            response = await good.generate(
                prompt=PROMPT, response_format="b64_json", size="256x256"
            )
        assert len(response.data) == 1


async def test_recorded_calls_mask_the_key_and_keep_params_and_files(
    emulator: Emulator, client: AsyncImages
) -> None:
    await client.edit(
        image=[("a.png", HOLED_256), ("b.png", RGB_256)],
        mask=("m.png", solid_png(256, 256)),
        prompt=PROMPT,
        model="gpt-image-1",
        n=2,
        size="1024x1024",
    )
    (call,) = emulator.requests
    assert call.method == "POST"
    assert call.path == "/v1/images/edits"
    assert call.headers["Authorization"] == f"Bearer {API_KEY[:3]}***{API_KEY[-4:]}"
    assert API_KEY not in json.dumps(call.headers)
    assert call.params == {"prompt": PROMPT, "model": "gpt-image-1", "n": "2", "size": "1024x1024"}
    assert [(f.field, f.filename, f.size) for f in call.files] == [
        ("image[]", "a.png", len(HOLED_256)),
        ("image[]", "b.png", len(RGB_256)),
        ("mask", "m.png", len(solid_png(256, 256))),
    ]
    assert (call.status, call.fault) == (200, None)


# --- validation ---------------------------------------------------------------------------

GENERATE_CASES = [
    ({"prompt": ""}, "prompt", "invalid_value"),
    ({"prompt": "x" * 1001}, "prompt", "invalid_value"),
    ({"prompt": "x", "n": 0}, "n", "invalid_value"),
    ({"prompt": "x", "n": 11}, "n", "invalid_value"),
    ({"prompt": "x", "model": "dall-e-3", "n": 2}, "n", "invalid_value"),
    ({"prompt": "x", "size": "300x300"}, "size", "invalid_value"),
    ({"prompt": "x", "size": "big"}, "size", "invalid_value"),
    ({"prompt": "x", "model": "dall-e-3", "size": "256x256"}, "size", "invalid_value"),
    ({"prompt": "x", "model": "gpt-image-2", "size": "1000x1000"}, "size", "invalid_value"),
    ({"prompt": "x", "model": "gpt-image-2", "size": "3840x960"}, "size", "invalid_value"),
    ({"prompt": "x", "model": "gpt-image-1", "quality": "hd"}, "quality", "invalid_value"),
    ({"prompt": "x", "quality": "ultra"}, "quality", "invalid_value"),
    ({"prompt": "x", "style": "vivid"}, "style", "invalid_value"),
    (
        {"prompt": "x", "model": "gpt-image-1", "response_format": "url"},
        "response_format",
        "invalid_value",
    ),
    ({"prompt": "x", "background": "transparent"}, "background", "invalid_value"),
    ({"prompt": "x", "model": "dall-e-3", "moderation": "low"}, "moderation", "invalid_value"),
    ({"prompt": "x", "stream": True}, "stream", "invalid_value"),
    (
        {"prompt": "x", "model": "gpt-image-1", "output_format": "png", "output_compression": 50},
        "output_compression",
        "invalid_value",
    ),
    (
        {"prompt": "x", "model": "gpt-image-1", "output_format": "jpeg", "output_compression": 101},
        "output_compression",
        "invalid_value",
    ),
    (
        {
            "prompt": "x",
            "model": "gpt-image-1",
            "output_format": "jpeg",
            "background": "transparent",
        },
        "background",
        "invalid_value",
    ),
    (
        {"prompt": "x", "model": "gpt-image-1", "output_format": "gif"},
        "output_format",
        "invalid_value",
    ),
    (
        {"prompt": "x", "model": "gpt-image-1", "partial_images": 4},
        "partial_images",
        "invalid_value",
    ),
    ({"prompt": "x", "model": ""}, "model", "invalid_value"),
    ({"prompt": "x", "model": "dall-e-3-next", "n": 2}, "n", "invalid_value"),
    ({"prompt": "x", "extra_body": {"colour": "red"}}, "colour", "unknown_parameter"),
    ({"prompt": "x", "extra_body": {"n": "2"}}, "n", "invalid_type"),
    ({"prompt": "x", "extra_body": {"prompt": 5}}, "prompt", "invalid_type"),
    ({"prompt": "x", "extra_body": {"stream": "yes"}}, "stream", "invalid_type"),
    ({"prompt": "x", "extra_body": {"n": 1.5}}, "n", "invalid_type"),
]


@pytest.mark.parametrize(("params", "param", "code"), GENERATE_CASES)
async def test_generate_validation_answers_400(
    params: dict[str, Any], param: str, code: str
) -> None:
    async with serve(validate_requests=False) as (_emulator, client):
        with pytest.raises(BadRequestError) as caught:
            await client.generate(**params)
    assert (caught.value.param, caught.value.code) == (param, code)
    assert_error_body(caught.value.body, param=param, code=code)


EDIT_CASES = [
    ({"image": HOLED_256, "model": "dall-e-3"}, "model", "invalid_value"),
    ({"image": RECT_PNG, "model": "dall-e-2"}, "image", "invalid_image"),
    ({"image": JPEG_256, "model": "dall-e-2"}, "image", "invalid_image"),
    ({"image": RGB_256, "model": "dall-e-2"}, "image", "invalid_image"),
    (
        {"image": HOLED_256, "mask": solid_png(128, 128), "model": "dall-e-2"},
        "mask",
        "invalid_image",
    ),
    ({"image": [HOLED_256] * 17, "model": "gpt-image-1"}, "image", "invalid_value"),
    (
        {"image": [HOLED_256, RECT_PNG, b"GIF89a"], "model": "gpt-image-1"},
        "image[2]",
        "invalid_image",
    ),
    (
        {"image": HOLED_256, "model": "gpt-image-1-mini", "input_fidelity": "high"},
        "input_fidelity",
        "invalid_value",
    ),
    ({"image": HOLED_256, "response_format": "url"}, "response_format", "invalid_value"),
    ({"image": HOLED_256, "extra_body": {"n": "two"}}, "n", "invalid_type"),
    ({"image": HOLED_256, "extra_body": {"stream": "maybe"}}, "stream", "invalid_type"),
    ({"image": HOLED_256, "extra_body": {"colour": "red"}}, "colour", "unknown_parameter"),
]


@pytest.mark.parametrize(("params", "param", "code"), EDIT_CASES)
async def test_edit_validation_answers_400(params: dict[str, Any], param: str, code: str) -> None:
    async with serve(validate_requests=False) as (_emulator, client):
        with pytest.raises(BadRequestError) as caught:
            await client.edit(prompt=PROMPT, **params)
    assert (caught.value.param, caught.value.code) == (param, code)
    assert_error_body(caught.value.body, param=param, code=code)


VARIATION_CASES = [
    ({"image": HOLED_256, "model": "gpt-image-1"}, "model", "invalid_value"),
    ({"image": RECT_PNG}, "image", "invalid_image"),
    ({"image": JPEG_256}, "image", "invalid_image"),
    ({"image": HOLED_256, "size": "1024x1536"}, "size", "invalid_value"),
    ({"image": HOLED_256, "n": 11}, "n", "invalid_value"),
    ({"image": HOLED_256, "extra_body": {"prompt": "x"}}, "prompt", "unknown_parameter"),
]


@pytest.mark.parametrize(("params", "param", "code"), VARIATION_CASES)
async def test_variation_validation_answers_400(
    params: dict[str, Any], param: str, code: str
) -> None:
    async with serve(validate_requests=False) as (_emulator, client):
        with pytest.raises(BadRequestError) as caught:
            await client.create_variation(**params)
    assert (caught.value.param, caught.value.code) == (param, code)
    assert_error_body(caught.value.body, param=param, code=code)


def form(*parts: tuple[str, bytes | str, str | None]) -> aiohttp.FormData:
    data = aiohttp.FormData(quote_fields=False)
    for name, value, filename in parts:
        if filename is None:
            data.add_field(name, value)
        else:
            data.add_field(name, value, filename=filename, content_type="image/png")
    return data


RAW_CASES: list[tuple[str, dict[str, Any], str | None, str | None]] = [
    ("images/generations", {"json_body": {}}, "prompt", "missing_required_parameter"),
    (
        "images/generations",
        {"json_body": {"model": "gpt-image-1"}},
        "prompt",
        "missing_required_parameter",
    ),
    (
        "images/generations",
        {
            "data": b"{not json",
            "headers": {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        },
        None,
        None,
    ),
    ("images/generations", {"json_body": ["prompt"]}, None, None),
    ("images/generations", {"data": form(("prompt", "x", None))}, None, None),
    ("images/edits", {"json_body": {"prompt": "x"}}, "images", "missing_required_parameter"),
    ("images/edits", {"data": form(("prompt", "x", None))}, "image", "missing_required_parameter"),
    (
        "images/edits",
        {"data": form(("image", HOLED_256, "a.png"))},
        "prompt",
        "missing_required_parameter",
    ),
    (
        "images/edits",
        {"data": form(("prompt", "x", None), ("image", "text", None))},
        "image",
        "invalid_type",
    ),
    (
        "images/edits",
        {
            "data": form(
                ("prompt", "x", None),
                ("image", HOLED_256, "a.png"),
                ("picture", HOLED_256, "b.png"),
            )
        },
        "picture",
        "unknown_parameter",
    ),
    (
        "images/edits",
        {"data": form(("prompt", "x", None), ("image", b"", "a.png"))},
        "image",
        "invalid_image",
    ),
    (
        "images/edits",
        {"data": form(("prompt", HOLED_256, "p.png"), ("image", HOLED_256, "a.png"))},
        "prompt",
        "invalid_type",
    ),
    ("images/variations", {"data": form(("n", "1", None))}, "image", "missing_required_parameter"),
    (
        "images/variations",
        {"data": form(("image", HOLED_256, "a.png"), ("image", HOLED_256, "b.png"))},
        "image",
        "invalid_value",
    ),
]


@pytest.mark.parametrize(("path", "request_options", "param", "code"), RAW_CASES)
async def test_what_only_a_server_sees_answers_400(
    emulator: Emulator,
    path: str,
    request_options: dict[str, Any],
    param: str | None,
    code: str | None,
) -> None:
    status, body, _headers = await post(f"{emulator.base_url}/{path}", **request_options)
    assert status == 400, body
    assert_error_body(body, param=param, code=code)


async def test_validation_can_be_switched_off() -> None:
    async with serve(EmulatorConfig(validate=False), validate_requests=False) as (_e, client):
        response = await client.generate(
            prompt=PROMPT, model="dall-e-3", n=3, response_format="b64_json"
        )
    assert len(response.data) == 3
    assert all(image_size(image.decode()) == (1024, 1024) for image in response.data)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/models"), ("GET", "/v1/images/generations"), ("POST", "/x")]
)
async def test_unknown_routes_answer_404_in_the_api_shape(
    emulator: Emulator, method: str, path: str
) -> None:
    root = emulator.base_url.removesuffix("/v1")
    status, body, headers = await post(root + path, method=method)
    assert status == 404
    assert_error_body(body, param=None, code=None)
    assert path in body["error"]["message"]
    assert "x-request-id" in headers


async def test_routes_also_answer_without_the_v1_prefix(emulator: Emulator) -> None:
    root = emulator.base_url.removesuffix("/v1")
    status, body, _headers = await post(
        f"{root}/images/generations",
        json_body={"prompt": PROMPT, "size": "256x256"},
    )
    assert status == 200
    assert body["data"][0]["url"].startswith(f"{root}/emulator/files/")
    check_json_response("createImage", body)


# --- responses and pictures ---------------------------------------------------------------


async def test_gpt_generation_is_spec_valid_with_usage(
    client: AsyncImages,
) -> None:
    raw = await client.with_raw_response.generate(
        prompt=PROMPT, model="gpt-image-1", n=2, quality="low"
    )
    body = raw.json()
    check_json_response("createImage", body)
    assert {"created", "data", "background", "output_format", "quality", "size", "usage"} <= set(
        body
    )
    assert (body["background"], body["output_format"], body["quality"], body["size"]) == (
        "opaque",
        "png",
        "low",
        "1024x1024",
    )
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["output_tokens"] == 2 * 272
    assert usage["input_tokens_details"]["text_tokens"] == usage["input_tokens"]
    assert usage["output_tokens_details"] == {"image_tokens": 2 * 272, "text_tokens": 0}
    parsed = raw.parse()
    assert [image.url for image in parsed.data] == [None, None]
    assert all(image_size(image.decode()) == (1024, 1024) for image in parsed.data)


async def test_dalle3_gives_a_revised_prompt(client: AsyncImages) -> None:
    raw = await client.with_raw_response.generate(
        prompt=PROMPT, model="dall-e-3", style="natural", response_format="b64_json"
    )
    check_json_response("createImage", raw.json())
    assert "usage" not in raw.json()
    (image,) = raw.parse().data
    assert image.revised_prompt is not None
    assert image.revised_prompt.startswith(PROMPT)
    assert "natural" in image.revised_prompt


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    [
        ("dall-e-2", "256x256", (256, 256)),
        ("dall-e-2", "512x512", (512, 512)),
        ("dall-e-2", None, (1024, 1024)),
        ("dall-e-3", "1792x1024", (1792, 1024)),
        ("dall-e-3", "1024x1792", (1024, 1792)),
        ("gpt-image-1", "1536x1024", (1536, 1024)),
        ("gpt-image-1", "1024x1536", (1024, 1536)),
        ("gpt-image-1", "auto", (1024, 1024)),
        ("gpt-image-2", "2048x1152", (2048, 1152)),
        ("gpt-image-2", "auto", (1024, 1024)),
    ],
)
async def test_images_have_the_requested_size(
    client: AsyncImages, model: str, size: str | None, expected: tuple[int, int]
) -> None:
    response_format = None if model.startswith("gpt") else "b64_json"
    raw = await client.with_raw_response.generate(
        prompt=PROMPT, model=model, size=size, response_format=response_format
    )
    check_json_response("createImage", raw.json())
    (image,) = raw.parse().data
    assert image_size(image.decode()) == expected


async def test_pictures_are_deterministic_per_prompt_and_index(
    client: AsyncImages,
) -> None:
    async def generate(prompt: str, n: int = 1) -> list[bytes]:
        response = await client.generate(prompt=prompt, model="gpt-image-1", n=n)
        return [image.decode() for image in response.data]

    first = await generate(PROMPT, n=2)
    again = await generate(PROMPT, n=2)
    other = await generate("a lighthouse at dawn")
    assert again[0] == first[0]
    assert other[0] != first[0]
    assert first[1] != first[0]


async def test_transparent_background_has_transparent_pixels(
    client: AsyncImages,
) -> None:
    raw = await client.with_raw_response.generate(
        prompt=PROMPT, model="gpt-image-1", background="transparent", size="1024x1024"
    )
    assert raw.json()["background"] == "transparent"
    picture = decoded(raw.parse().data[0].decode())
    assert picture.mode == "RGBA"
    assert picture.getchannel("A").getextrema() == (0, 255)


async def test_a_1024_generation_through_the_default_model_works(
    client: AsyncImages,
) -> None:
    response = await client.generate(prompt=PROMPT, size="1024x1024", response_format="b64_json")
    assert image_size(response.data[0].decode()) == (1024, 1024)


# --- url mode -----------------------------------------------------------------------------


async def test_url_images_download_without_credentials_then_expire() -> None:
    async with serve(EmulatorConfig(url_ttl=0.5)) as (emulator, client):
        raw = await client.with_raw_response.generate(prompt=PROMPT, size="256x256")
        check_json_response("createImage", raw.json())
        (image,) = raw.parse().data
        assert image.url is not None
        assert image.url.startswith(emulator.base_url + "/emulator/files/")
        content = await client.read_image(image)
        assert image_size(content) == (256, 256)
        download = emulator.requests[-1]
        assert (download.method, download.status) == ("GET", 200)
        assert "Authorization" not in download.headers
        await asyncio.sleep(0.6)
        with pytest.raises(APIStatusError) as caught:
            await client.read_image(image)
        assert caught.value.status_code == 410
        missing = image.url.rsplit("/", 1)[0] + "/img-nothing.png"
        with pytest.raises(NotFoundError):
            await client.read_image(Image(url=missing))


# --- edits and variations -----------------------------------------------------------------


async def test_edit_repaints_only_the_transparent_area_of_the_image(
    client: AsyncImages,
) -> None:
    raw = await client.with_raw_response.edit(
        image=HOLED_256,
        prompt=PROMPT,
        model="dall-e-2",
        size="256x256",
        response_format="b64_json",
    )
    check_json_response("createImageEdit", raw.json())
    before = decoded(HOLED_256)
    after = decoded(raw.parse().data[0].decode())
    assert (after.size, after.mode) == ((256, 256), "RGBA")
    # Outside the hole every pixel is the input's: blank the hole in both and compare.
    hole_blanked = [picture.copy() for picture in (before, after)]
    for picture in hole_blanked:
        picture.paste((0, 0, 0, 0), HOLE)
    assert hole_blanked[0].tobytes() == hole_blanked[1].tobytes()
    painted = after.crop(HOLE)
    assert painted.getchannel("A").getextrema() == (255, 255)  # painted, opaque
    assert painted.getcolors(1) is None  # more than one colour: something is drawn


async def test_edit_repaints_only_where_the_mask_is_transparent(
    client: AsyncImages,
) -> None:
    image = solid_png(1024, 1024, (40, 40, 40, 255), alpha=False)
    opaque_row = bytes((0, 0, 0, 255)) * 1024
    holed_row = bytes((0, 0, 0, 255)) * 512 + bytes(4 * 512)
    mask = png_from_rows(1024, 1024, [holed_row if y >= 768 else opaque_row for y in range(1024)])
    raw = await client.with_raw_response.edit(
        image=image, mask=mask, prompt=PROMPT, model="gpt-image-1", size="1024x1024"
    )
    check_json_response("createImageEdit", raw.json())
    after = decoded(raw.parse().data[0].decode())
    assert (after.size, after.mode) == ((1024, 1024), "RGB")
    grey = (40, 40, 40)
    assert after.crop((0, 0, 1024, 768)).getextrema() == tuple((40, 40) for _ in grey)
    assert after.crop((0, 768, 512, 1024)).getextrema() == tuple((40, 40) for _ in grey)
    assert after.crop((512, 768, 1024, 1024)).getextrema() != tuple((40, 40) for _ in grey)


async def test_edit_of_an_image_without_any_transparency_blends_the_whole_picture(
    client: AsyncImages,
) -> None:
    image = solid_png(256, 256, (40, 40, 40, 255), alpha=False)
    response = await client.edit(image=image, prompt=PROMPT, model="gpt-image-1")
    after = decoded(response.data[0].decode())
    assert after.size == (1024, 1024)
    assert after.getpixel((0, 1023)) != (40, 40, 40)  # the prompt's band covers the bottom


async def test_single_variations_of_different_inputs_are_not_all_the_same_transformation(
    client: AsyncImages,
) -> None:
    # A fan-out of one variation per input must not show one transformation over and over.
    mirrored = 0
    for shade in range(6):
        rows = [
            b"".join(bytes((x, y, (x + y + 40 * shade) % 256)) for x in range(256))
            for y in range(256)
        ]
        source_png = png_from_rows(256, 256, rows, alpha=False)
        response = await client.create_variation(
            image=source_png, size="256x256", response_format="b64_json"
        )
        source, variation = decoded(source_png), decoded(response.data[0].decode())
        points = [(0, 40), (17, 200), (255, 250), (128, 128)]
        mirrored += all(pixel(variation, 255 - x, y) == pixel(source, x, y) for x, y in points)
    assert mirrored < 6


async def test_variations_are_transformations_of_the_input(
    client: AsyncImages,
) -> None:
    raw = await client.with_raw_response.create_variation(
        image=RGB_256, n=10, size="256x256", response_format="b64_json"
    )
    check_json_response("createImageVariation", raw.json())
    source = decoded(RGB_256)
    found = [decoded(image.decode()) for image in raw.parse().data]
    assert all(variation.tobytes() != source.tobytes() for variation in found)
    assert len({variation.tobytes() for variation in found}) == 10
    # Points away from the top-right corner, where each variation carries its number.
    points = [(0, 40), (17, 200), (255, 250), (128, 128)]

    def shows(variation: PillowImage.Image, where: Callable[[int, int], tuple[int, int]]) -> bool:
        return all(pixel(variation, *where(x, y)) == pixel(source, x, y) for x, y in points)

    def zoomed(variation: PillowImage.Image) -> bool:
        # The middle three fifths of the input (from 51 to 205) spread over the picture:
        # its (10, 100) shows the input's (57, 111), give or take the interpolation.
        differences = map(abs, map(operator.sub, pixel(variation, 10, 100), pixel(source, 57, 111)))
        return pixel(variation, 10, 100) != pixel(source, 10, 100) and max(differences) <= 2

    mirrored = [v for v in found if shows(v, lambda x, y: (255 - x, y))]
    turned = [v for v in found if shows(v, lambda x, y: (y, 255 - x))]  # a quarter turn
    posterized = [
        v for v in found if all(set(pixel(v, x, y)) <= {0, 64, 128, 192} for x, y in points)
    ]
    assert (len(mirrored), len(turned), len(posterized)) == (1, 1, 1)
    assert sum(map(zoomed, found)) == 1
    hue_shifted = [v for v in found if v.getpixel((128, 128)) != source.getpixel((128, 128))]
    assert len(hue_shifted) >= 5  # the colour changes in most; position in the others


async def test_variations_scale_to_the_requested_size(client: AsyncImages) -> None:
    response = await client.create_variation(image=RGB_256, response_format="b64_json")
    assert image_size(response.data[0].decode()) == (1024, 1024)


# --- streaming ----------------------------------------------------------------------------


async def test_generation_stream_sends_partials_then_completed(
    client: AsyncImages,
) -> None:
    raw = await client.with_raw_response.generate(
        prompt=PROMPT, model="gpt-image-1", size="1024x1536", stream=True, partial_images=2
    )
    assert raw.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(raw.content)
    assert [name for name, _data in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    for name, data in events:
        assert data["type"] == name
        check_stream_event("createImage", data)
    assert [data.get("partial_image_index") for _name, data in events] == [0, 1, None]
    images = [decoded(base64.b64decode(d["b64_json"])) for _n, d in events]
    assert {image.size for image in images} == {(1024, 1536)}
    assert images[0].tobytes() != images[2].tobytes()
    assert events[2][1]["usage"]["output_tokens"] > 0


async def test_edit_stream_events_through_the_client(client: AsyncImages) -> None:
    stream = await client.edit(
        image=HOLED_256, prompt=PROMPT, model="gpt-image-1", stream=True, partial_images=1
    )
    async with stream:
        types = [event.type async for event in stream]
    assert types == ["image_edit.partial_image", "image_edit.completed"]


async def test_edit_stream_events_match_the_spec(client: AsyncImages) -> None:
    raw = await client.with_raw_response.edit(
        image=HOLED_256, prompt=PROMPT, model="gpt-image-1.5", stream=True, partial_images=3
    )
    events = sse_events(raw.content)
    assert len(events) == 4
    for _name, data in events:
        check_stream_event("createImageEdit", data)


# --- headers and limits -------------------------------------------------------------------


async def test_every_answer_carries_request_id_and_rate_limit_headers(
    emulator: Emulator, client: AsyncImages
) -> None:
    first = await client.with_raw_response.generate(prompt=PROMPT, size="256x256")
    second = await client.with_raw_response.generate(prompt=PROMPT, size="256x256")
    assert first.request_id != second.request_id
    assert [first.request_id, second.request_id] == [call.request_id for call in emulator.requests]
    for raw in (first, second):
        assert raw.headers["x-ratelimit-limit-requests"] == "10000"
        assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
        assert raw.headers["openai-processing-ms"].isdigit()
    assert first.headers["x-ratelimit-remaining-requests"] == "9999"
    assert second.headers["x-ratelimit-remaining-requests"] == "9998"


async def test_an_enforced_request_limit_answers_429() -> None:
    async with serve(EmulatorConfig(requests_per_minute=2)) as (_emulator, client):
        for _ in range(2):
            await client.generate(prompt=PROMPT, size="256x256")
        with pytest.raises(RateLimitError) as caught:
            await client.generate(prompt=PROMPT, size="256x256")
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.headers["x-ratelimit-remaining-requests"] == "0"
    assert float(caught.value.headers["retry-after-ms"]) > 0


# --- the threaded runner and the pytest plugin --------------------------------------------


def test_run_emulator_in_thread_serves_synchronous_callers() -> None:
    emulator = Emulator()
    with run_emulator_in_thread(emulator) as base_url:
        request = urllib.request.Request(
            f"{base_url}/images/generations",
            data=json.dumps({"prompt": PROMPT, "size": "256x256"}).encode(),
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        check_json_response("createImage", body)
        with urllib.request.urlopen(body["data"][0]["url"], timeout=10) as response:
            assert image_size(response.read()) == (256, 256)
    assert [call.status for call in emulator.requests] == [200, 200]


def test_pytest_plugin_serves_a_users_suite(pytester: pytest.Pytester) -> None:
    # A user's suite configures pytest-asyncio itself; newer releases warn when it does not.
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            from images_async.testing import EmulatorConfig, FaultPlan

            @pytest.mark.asyncio
            async def test_generate(images_emulator, emulator_images):
                response = await emulator_images.generate(prompt="a cat", model="gpt-image-1")
                assert response.data[0].decode().startswith(b"\\x89PNG")
                assert images_emulator.requests[0].params["prompt"] == "a cat"

            class TestWithFaults:
                @pytest.fixture
                def images_emulator_config(self):
                    return EmulatorConfig(faults=FaultPlan.parse("503"))

                @pytest.mark.asyncio
                async def test_fault(self, emulator_images):
                    from images_async import InternalServerError
                    with pytest.raises(InternalServerError):
                        await emulator_images.generate(prompt="a cat")
            """
        )
    )
    result = pytester.runpytest_subprocess(
        "-p", "images_async.testing.pytest_plugin", "-p", "no:cacheprovider", "-W", "error"
    )
    result.assert_outcomes(passed=2)


# --- the package itself -------------------------------------------------------------------

LAZY_IMPORT_CHILD = """
import sys

import images_async.testing
from images_async.testing import EmulatorConfig, FaultPlan, RecordedCall
from images_async.testing.sample_images import jpeg_header_bytes, solid_png

assert "aiohttp.web" not in sys.modules, "a small helper loaded aiohttp.web"
from images_async.testing import Emulator

assert "aiohttp.web" in sys.modules
"""


def test_importing_the_testing_package_does_not_load_aiohttp_web() -> None:
    child = subprocess.run(
        [sys.executable, "-W", "error", "-c", LAZY_IMPORT_CHILD],
        capture_output=True,
        text=True,
        timeout=CHILD_SECONDS,
        check=False,
    )
    assert child.returncode == 0, child.stderr


def test_the_testing_package_serves_every_public_name() -> None:
    import images_async.testing as testing

    for name in testing.__all__:
        assert getattr(testing, name).__name__ == name
    assert set(testing.__all__) <= set(dir(testing))
    with pytest.raises(AttributeError, match="no_such_name"):
        testing.no_such_name  # noqa: B018 -- the attribute access is the test
