"""Client-side validation through the real client, against the recording server.

A rejected call must raise :class:`InvalidRequestError` (also a ``ValueError``) naming the
parameter in one line, and the server must have received nothing. An accepted call must reach
the server with exactly the parameters given: a parameter left out is not sent.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING, Any

import pytest
from plugins.api_server import FakeImagesAPI

from images_async import AsyncImages, InvalidRequestError
from images_async.testing.sample_images import jpeg_header_bytes, solid_png, webp_header_bytes

if TYPE_CHECKING:
    from _pytest.mark import ParameterSet

FOUR_MB = 4 * 1024 * 1024
PNG_IEND_LENGTH = 12  # length, type and CRC of the empty IEND chunk
PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt-image-1": 32_000, "gpt-image-2": 32_000}


def png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(chunk_type))
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", crc)


def png_of_length(total: int) -> bytes:
    """A valid square RGBA PNG padded to exactly ``total`` bytes with a private chunk."""
    base = solid_png(8, 8)
    filler = total - len(base) - PNG_IEND_LENGTH
    # "prVt": ancillary and private, so decoders skip it; cheap to build at any size.
    body, iend = base[:-PNG_IEND_LENGTH], base[-PNG_IEND_LENGTH:]
    padded = body + png_chunk(b"prVt", bytes(filler)) + iend
    assert len(padded) == total
    return padded


CLEAR = (0, 0, 0, 0)
PNG_8 = solid_png(8, 8)
PNG_8_RGB = solid_png(8, 8, alpha=False)
PNG_16x8 = solid_png(16, 8)
MASK_8 = solid_png(8, 8, CLEAR)
MASK_16 = solid_png(16, 16, CLEAR)
MASK_64x48 = solid_png(64, 48, CLEAR)
MASK_64 = solid_png(64, 64, CLEAR)
MASK_48x64 = solid_png(48, 64, CLEAR)
JPEG_8 = jpeg_header_bytes(8, 8)
JPEG_64x48 = jpeg_header_bytes(64, 48)
WEBP_64x48 = webp_header_bytes(64, 48, alpha=False)
NOT_AN_IMAGE = b"GIF89a: a format the Images API does not take"
PNG_AT_4MB = png_of_length(FOUR_MB)
PNG_UNDER_4MB = png_of_length(FOUR_MB - 1)

# What a case does not say: a short prompt, one small square RGBA PNG.
GENERATE_DEFAULTS: dict[str, Any] = {"prompt": "p"}
EDIT_DEFAULTS: dict[str, Any] = {"prompt": "p", "image": PNG_8}
VARIATION_DEFAULTS: dict[str, Any] = {"image": PNG_8}

GPT_ONLY_VALUES: dict[str, object] = {
    "background": "opaque",
    "moderation": "low",
    "output_format": "png",
    "output_compression": 50,
    "partial_images": 1,
    "stream": True,
}


def with_model(case_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` plus ``model``, taken from the id's prefix ("dall-e-3/n-2"), so ids never lie."""
    prefix, slash, _ = case_id.partition("/")
    return {"model": prefix, **kwargs} if slash and prefix != "no-model" else kwargs


def rejected(case_id: str, param: str, fragment: str, **kwargs: Any) -> ParameterSet:
    """A call that must fail on ``param`` with ``fragment`` in the message."""
    return pytest.param(with_model(case_id, kwargs), param, fragment, id=case_id)


def accepted(case_id: str, **kwargs: Any) -> ParameterSet:
    """A call that must reach the server with exactly its parameters."""
    return pytest.param(with_model(case_id, kwargs), id=case_id)


def check_error(error: InvalidRequestError, param: str, fragment: str) -> None:
    message = str(error)
    assert isinstance(error, ValueError)
    assert error.param == param, message
    assert message.startswith(f"{param}: "), message
    assert fragment in message, message
    assert "\n" not in message
    assert len(message) < 200, message


def form_value(value: object) -> str:
    """How a multipart text field carries ``value``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_multipart_sent(fake_api: FakeImagesAPI, path: str, kwargs: dict[str, Any]) -> None:
    """Exactly the given text fields, then the given files in order; nothing else."""
    (request,) = fake_api.requests
    assert request.path == path
    sent_params = {k: form_value(v) for k, v in kwargs.items() if k not in ("image", "mask")}
    assert request.params == sent_params
    given = kwargs["image"] if isinstance(kwargs["image"], list) else [kwargs["image"]]
    image_field = "image" if len(given) == 1 else "image[]"
    expected_files = [(image_field, content) for content in given]
    if "mask" in kwargs:
        expected_files.append(("mask", kwargs["mask"]))
    sent_files = [(part.name, part.value) for part in request.parts if part.filename is not None]
    assert sent_files == expected_files


# --- generate ------------------------------------------------------------------------------


GENERATE_REJECTED = [
    rejected("prompt-missing", "prompt", "required", prompt=None),
    rejected("prompt-empty", "prompt", "must not be empty", prompt=""),
    rejected("prompt-int", "prompt", "must be a string, not int", prompt=42),
    rejected("prompt-bytes", "prompt", "must be a string, not bytes", prompt=b"an otter"),
    *(
        rejected(
            f"{model}/prompt-over-limit",
            "prompt",
            f"is {limit + 1} characters; the limit for {model} is {limit}",
            prompt="x" * (limit + 1),
        )
        for model, limit in PROMPT_LIMITS.items()
    ),
    rejected("no-model/prompt-over-32000", "prompt", "any model is 32000", prompt="x" * 32_001),
    rejected("gpt-image-9/prompt-empty", "prompt", "must not be empty", prompt=""),
    rejected("gpt-image-9/n-11", "n", "between 1 and 10, got 11", n=11),
    rejected("model-empty", "model", "must not be empty", model=""),
    rejected("model-not-str", "model", "must be a string", model=2),
    rejected("n-0", "n", "between 1 and 10, got 0", n=0),
    rejected("n-11", "n", "between 1 and 10, got 11", n=11),
    rejected("n-bool", "n", "must be an integer, not bool", n=True),
    rejected("n-float", "n", "must be an integer, not float", n=2.0),
    rejected("dall-e-3/n-2", "n", "got 2", n=2),
    rejected("gpt-image-1/n-11", "n", "got 11", n=11),
    rejected("dall-e-2/size-1792x1024", "size", "'1792x1024'", size="1792x1024"),
    rejected("dall-e-2/size-auto", "size", "'auto'", size="auto"),
    rejected("dall-e-3/size-512x512", "size", "'512x512'", size="512x512"),
    rejected("gpt-image-1/size-1792x1024", "size", "accepted: 1024x1024", size="1792x1024"),
    rejected("gpt-image-1/size-flexible-1536x864", "size", "gpt-image-1", size="1536x864"),
    rejected("gpt-image-2/size-1000x1000-not-16", "size", "multiples of 16", size="1000x1000"),
    rejected("gpt-image-2/size-4000x1000", "size", "gpt-image-2", size="4000x1000"),
    rejected("gpt-image-2/size-3840x1024-ratio", "size", "aspect ratio", size="3840x1024"),
    rejected("gpt-image-2/size-4096x4096-too-large", "size", "3840x2160", size="4096x4096"),
    rejected("gpt-image-2/size-3856x1296-edge", "size", "3840x2160", size="3856x1296"),
    rejected("gpt-image-2/size-2896x2896-pixels", "size", "3840x2160", size="2896x2896"),
    rejected("gpt-image-2/size-0x0", "size", "at least 1", size="0x0"),
    rejected("gpt-image-2-2026-04-21/size-1000x1000", "size", "multiples of 16", size="1000x1000"),
    rejected("gpt-image-1/quality-hd", "quality", "'hd' is not accepted", quality="hd"),
    rejected("gpt-image-1/quality-standard", "quality", "'standard'", quality="standard"),
    rejected("dall-e-3/quality-high", "quality", "'high'", quality="high"),
    rejected("dall-e-2/quality-hd", "quality", "'hd'", quality="hd"),
    rejected("gpt-image-1/style", "style", "not supported by gpt-image-1", style="vivid"),
    rejected("dall-e-2/style", "style", "not supported by dall-e-2", style="natural"),
    rejected(
        "gpt-image-1/response-format", "response_format", "not supported", response_format="url"
    ),
    rejected(
        "gpt-image-2/response-format",
        "response_format",
        "not supported",
        response_format="b64_json",
    ),
    *(
        rejected(f"{model}/{name}", name, f"not supported by {model}", **{name: value})
        for model in ("dall-e-2", "dall-e-3")
        for name, value in GPT_ONLY_VALUES.items()
    ),
    rejected(
        "output-compression-101",
        "output_compression",
        "between 0 and 100, got 101",
        output_compression=101,
    ),
    rejected(
        "gpt-image-1/output-compression--1",
        "output_compression",
        "got -1",
        output_format="jpeg",
        output_compression=-1,
    ),
    rejected(
        "gpt-image-1/output-compression-with-png",
        "output_compression",
        "jpeg and webp",
        output_format="png",
        output_compression=80,
    ),
    rejected(
        "gpt-image-1/transparent-jpeg",
        "background",
        "png or webp",
        background="transparent",
        output_format="jpeg",
    ),
    rejected("gpt-image-1/partial-images-4", "partial_images", "between 0 and 3", partial_images=4),
    rejected("gpt-image-1/stream-not-bool", "stream", "must be a bool, not str", stream="yes"),
]


@pytest.mark.parametrize(("kwargs", "param", "fragment"), GENERATE_REJECTED)
async def test_generate_rejects_before_sending(
    images: AsyncImages,
    fake_api: FakeImagesAPI,
    kwargs: dict[str, Any],
    param: str,
    fragment: str,
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await images.generate(**{**GENERATE_DEFAULTS, **kwargs})
    check_error(caught.value, param, fragment)
    assert fake_api.requests == []


GENERATE_ACCEPTED = [
    *(
        accepted(f"{model}/prompt-at-limit", prompt="x" * limit)
        for model, limit in PROMPT_LIMITS.items()
    ),
    accepted("no-model/prompt-2000-chars", prompt="x" * 2000),
    accepted("no-model/prompt-at-limit", prompt="x" * 32_000),
    accepted("no-model/transparent-jpeg", background="transparent", output_format="jpeg"),
    accepted("dall-e-2/stream-false", stream=False),
    accepted(
        "no-model/gpt-and-dall-e-values",
        size="1792x1024",
        quality="hd",
        style="vivid",
        background="transparent",
    ),
    accepted(
        "dall-e-2/everything",
        n=10,
        size="256x256",
        quality="standard",
        response_format="url",
        user="u-1",
    ),
    accepted(
        "dall-e-3/everything",
        n=1,
        size="1024x1792",
        quality="hd",
        style="natural",
        response_format="b64_json",
    ),
    accepted(
        "gpt-image-1/everything",
        n=10,
        size="1536x1024",
        quality="low",
        background="transparent",
        moderation="low",
        output_format="webp",
        output_compression=0,
    ),
    accepted("gpt-image-1-mini/jpeg-100", output_format="jpeg", output_compression=100),
    accepted("gpt-image-1/quality-unknown-value", quality="ultra"),
    accepted("gpt-image-1/size-unknown-shape", size="square"),
    accepted("gpt-image-2/size-1536x864", size="1536x864"),
    accepted("gpt-image-2/size-3840x2160", size="3840x2160"),
    accepted("gpt-image-2/size-2160x3840", size="2160x3840"),
    accepted("gpt-image-2/size-1024x3072-ratio-3", size="1024x3072"),
    accepted("gpt-image-2/size-auto", size="auto"),
    # A model the table does not know has no known prompt limit: the server judges.
    accepted("gpt-image-9/prompt-32001-chars", prompt="x" * 32_001),
    accepted("gpt-image-9/prompt-100000-chars", prompt="x" * 100_000),
    accepted(
        "gpt-image-9/odd-values",
        n=10,
        size="1000x1000",
        quality="hd",
        style="vivid",
        response_format="url",
        moderation="strict",
        output_format="gif",
    ),
]


@pytest.mark.parametrize("kwargs", GENERATE_ACCEPTED)
async def test_generate_sends_exactly_the_given_params(
    images: AsyncImages, fake_api: FakeImagesAPI, kwargs: dict[str, Any]
) -> None:
    call = {**GENERATE_DEFAULTS, **kwargs}
    result = await images.generate(**call)
    (request,) = fake_api.requests
    assert request.path == "/v1/images/generations"
    assert request.json == call
    assert len(result.data) == call.get("n", 1)


async def test_generate_stream_sends_stream_and_partial_images(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    kwargs: dict[str, Any] = {"prompt": "p", "model": "gpt-image-1", "partial_images": 2}
    async with await images.generate(**kwargs, stream=True) as events:
        received = [event async for event in events]
    assert fake_api.last.json == {**kwargs, "stream": True}
    assert len(received) == 3


# --- edit ----------------------------------------------------------------------------------


EDIT_REJECTED = [
    rejected("dall-e-3/wrong-endpoint", "model", "dall-e-3 does not support edit requests"),
    rejected("prompt-empty", "prompt", "must not be empty", prompt=""),
    rejected(
        "dall-e-2/prompt-1001-chars", "prompt", "limit for dall-e-2 is 1000", prompt="x" * 1001
    ),
    rejected(
        "gpt-image-1/prompt-32001-chars",
        "prompt",
        "limit for gpt-image-1 is 32000",
        prompt="x" * 32_001,
    ),
    rejected("gpt-image-1/n-11", "n", "got 11", n=11),
    rejected("no-images", "image", "at least one image", image=[]),
    rejected("empty-file", "image", "the file is empty", image=b""),
    rejected(
        "gpt-image-1/17-images",
        "image",
        "17 images given; gpt-image-1 takes at most 16",
        image=[PNG_8] * 17,
    ),
    rejected("no-model/17-images", "image", "any model takes at most 16", image=[PNG_8] * 17),
    rejected("gpt-image-9/17-images", "image", "at most 16", image=[PNG_8] * 17),
    rejected("dall-e-2/2-images", "image", "dall-e-2 takes at most 1", image=[PNG_8, PNG_8]),
    rejected("dall-e-2/jpeg", "image", "is a JPEG; a PNG is required", image=JPEG_8, mask=MASK_8),
    rejected("dall-e-2/not-square", "image", "is 16x8; it must be square", image=PNG_16x8),
    rejected("dall-e-2/png-of-4mb", "image", "must be smaller than 4 MB", image=PNG_AT_4MB),
    rejected("dall-e-2/no-alpha-no-mask", "image", "has no transparency", image=PNG_8_RGB),
    rejected(
        "no-model/not-an-image", "image", "is not a PNG, JPEG or WEBP image", image=NOT_AN_IMAGE
    ),
    rejected(
        "gpt-image-1/third-not-an-image",
        "image[2]",
        "is not a PNG, JPEG or WEBP image",
        image=[PNG_8, JPEG_64x48, NOT_AN_IMAGE],
    ),
    rejected(
        "dall-e-2/mask-jpeg", "mask", "is a JPEG; a PNG is required", image=PNG_8_RGB, mask=JPEG_8
    ),
    rejected(
        "gpt-image-1/mask-webp", "mask", "a PNG is required", image=WEBP_64x48, mask=WEBP_64x48
    ),
    rejected("mask-not-an-image", "mask", "is not a PNG", mask=NOT_AN_IMAGE),
    rejected("gpt-image-1/mask-of-4mb", "mask", "smaller than 4 MB", mask=PNG_AT_4MB),
    rejected("dall-e-2/mask-16-on-8", "mask", "is 16x16 but the image", mask=MASK_16),
    rejected(
        "gpt-image-1/mask-48x64-on-jpeg-64x48",
        "mask",
        "is 48x64 but the image",
        image=JPEG_64x48,
        mask=MASK_48x64,
    ),
    rejected(
        "gpt-image-1/mask-64-on-webp-64x48", "mask", "is 64x64", image=WEBP_64x48, mask=MASK_64
    ),
    rejected(
        "gpt-image-1/mask-8-on-webp-64x48", "mask", "they must match", image=WEBP_64x48, mask=MASK_8
    ),
    rejected(
        "gpt-image-1/mask-fits-second-image-only",
        "mask",
        "is 8x8 but the image",
        image=[JPEG_64x48, PNG_8],
        mask=MASK_8,
    ),
    rejected(
        "gpt-image-1-mini/input-fidelity",
        "input_fidelity",
        "not supported by gpt-image-1-mini",
        input_fidelity="high",
    ),
    rejected(
        "dall-e-2/input-fidelity",
        "input_fidelity",
        "not supported by dall-e-2",
        input_fidelity="low",
    ),
    rejected("dall-e-2/background", "background", "not supported by dall-e-2", background="opaque"),
    rejected("dall-e-2/stream", "stream", "not supported by dall-e-2", stream=True),
    rejected(
        "gpt-image-1/response-format", "response_format", "not supported", response_format="url"
    ),
    rejected("gpt-image-1/quality-hd", "quality", "'hd'", quality="hd"),
    rejected("gpt-image-1/size-1792x1024", "size", "'1792x1024'", size="1792x1024"),
    rejected("gpt-image-2/size-1000x1000", "size", "multiples of 16", size="1000x1000"),
    rejected(
        "gpt-image-1/output-compression-with-png",
        "output_compression",
        "jpeg and webp",
        output_format="png",
        output_compression=10,
    ),
]


@pytest.mark.parametrize(("kwargs", "param", "fragment"), EDIT_REJECTED)
async def test_edit_rejects_before_sending(
    images: AsyncImages,
    fake_api: FakeImagesAPI,
    kwargs: dict[str, Any],
    param: str,
    fragment: str,
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await images.edit(**{**EDIT_DEFAULTS, **kwargs})
    check_error(caught.value, param, fragment)
    assert fake_api.requests == []


EDIT_ACCEPTED = [
    accepted("dall-e-2/prompt-at-limit", prompt="x" * 1000),
    accepted(
        "dall-e-2/everything",
        n=10,
        size="512x512",
        quality="standard",
        response_format="b64_json",
        user="u-1",
    ),
    accepted("dall-e-2/no-alpha-with-mask", image=PNG_8_RGB, mask=MASK_8),
    accepted("dall-e-2/png-just-under-4mb", image=PNG_UNDER_4MB),
    accepted(
        "gpt-image-1/16-mixed-images-and-mask",
        image=[JPEG_64x48, PNG_16x8, WEBP_64x48, PNG_8_RGB] * 4,
        mask=MASK_64x48,
        prompt="x" * 32_000,
        n=10,
        input_fidelity="high",
        background="transparent",
        output_format="webp",
        output_compression=50,
        quality="high",
        size="1536x1024",
    ),
    accepted("gpt-image-1/webp-with-mask", image=WEBP_64x48, mask=MASK_64x48, input_fidelity="low"),
    accepted("gpt-image-1/png-of-4mb", image=PNG_AT_4MB),
    accepted("gpt-image-2/size-1536x864", size="1536x864"),
    accepted("no-model/jpeg-not-square-no-mask", image=JPEG_64x48, prompt="x" * 2000),
    accepted("gpt-image-9/prompt-32001-chars", prompt="x" * 32_001),
    accepted(
        "gpt-image-9/odd-values-and-files",
        image=[NOT_AN_IMAGE] * 16,
        mask=JPEG_8,
        size="1000x1000",
        quality="hd",
        input_fidelity="max",
        response_format="url",
        output_format="gif",
    ),
]


@pytest.mark.parametrize("kwargs", EDIT_ACCEPTED)
async def test_edit_sends_exactly_the_given_params_and_files(
    images: AsyncImages, fake_api: FakeImagesAPI, kwargs: dict[str, Any]
) -> None:
    call = {**EDIT_DEFAULTS, **kwargs}
    await images.edit(**call)
    check_multipart_sent(fake_api, "/v1/images/edits", call)


# --- create_variation ----------------------------------------------------------------------


VARIATION_REJECTED = [
    rejected(
        "gpt-image-1/wrong-endpoint", "model", "gpt-image-1 does not support variation requests"
    ),
    rejected("dall-e-3/wrong-endpoint", "model", "dall-e-3 does not support variation"),
    rejected("not-square", "image", "is 16x8; it must be square", image=PNG_16x8),
    rejected("dall-e-2/not-square", "image", "must be square", image=PNG_16x8),
    rejected("jpeg", "image", "is a JPEG; a PNG is required", image=JPEG_8),
    rejected("webp", "image", "is a WEBP; a PNG is required", image=WEBP_64x48),
    rejected("png-of-4mb", "image", "must be smaller than 4 MB", image=PNG_AT_4MB),
    rejected("not-an-image", "image", "is not a PNG", image=NOT_AN_IMAGE),
    rejected("size-1792x1024", "size", "'1792x1024' is not accepted by dall-e-2", size="1792x1024"),
    rejected("dall-e-2/size-auto", "size", "'auto'", size="auto"),
    rejected("n-0", "n", "got 0", n=0),
    rejected("n-11", "n", "got 11", n=11),
    rejected("n-bool", "n", "not bool", n=True),
]


@pytest.mark.parametrize(("kwargs", "param", "fragment"), VARIATION_REJECTED)
async def test_variation_rejects_before_sending(
    images: AsyncImages,
    fake_api: FakeImagesAPI,
    kwargs: dict[str, Any],
    param: str,
    fragment: str,
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await images.create_variation(**{**VARIATION_DEFAULTS, **kwargs})
    check_error(caught.value, param, fragment)
    assert fake_api.requests == []


VARIATION_ACCEPTED = [
    accepted("no-params"),
    accepted("no-alpha-needed", image=PNG_8_RGB),
    accepted(
        "dall-e-2/everything",
        image=PNG_UNDER_4MB,
        n=10,
        size="1024x1024",
        response_format="url",
        user="u-1",
    ),
    accepted(
        "gpt-image-9/odd-values-and-file",
        image=JPEG_64x48,
        size="1792x1024",
        response_format="b64_json",
    ),
]


@pytest.mark.parametrize("kwargs", VARIATION_ACCEPTED)
async def test_variation_sends_exactly_the_given_params_and_file(
    images: AsyncImages, fake_api: FakeImagesAPI, kwargs: dict[str, Any]
) -> None:
    call = {**VARIATION_DEFAULTS, **kwargs}
    await images.create_variation(**call)
    check_multipart_sent(fake_api, "/v1/images/variations", call)


async def test_validation_can_be_switched_off(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    """The checks are the client's, not the wire's: without them the same call is sent."""
    await images.with_options(validate_requests=False).create_variation(image=PNG_16x8, n=11)
    assert fake_api.last.params == {"n": "11"}
