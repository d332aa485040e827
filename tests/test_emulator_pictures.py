"""The emulator's pictures and formats, decoded with Pillow and checked as a person would.

Covers what the request asks for (``output_format``, ``output_compression``,
``background``, ``quality``, sizes), what the pictures show (the prompt's shapes and words,
deterministically; variations that all differ; an edit that repaints exactly the mask's
transparent area; partial images converging on the final one), the uploads the emulator
refuses because they do not decode (a garbage body, a decompression bomb), and importing
the emulator without Pillow.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from images_async import AsyncImages, BadRequestError
from images_async.testing import Emulator, EmulatorConfig
from images_async.testing.pictures import encode_picture, generated_picture, partial_pictures
from images_async.testing.sample_images import (
    encoded_image,
    jpeg_header_bytes,
    png_from_rows,
    solid_png,
)

API_KEY = "sk-test-pictures-0123456789"
PROMPT = "a lighthouse on a cliff at dusk"
#: Upper bound of a child interpreter's run.
CHILD_SECONDS = 60.0
#: The share of a picture's height its prompt band covers, at the bottom.
BAND_SHARE = 0.28


@pytest.fixture
async def client() -> AsyncIterator[AsyncImages]:
    """A client of a default emulator on 127.0.0.1, without retries."""
    async with (
        Emulator() as emulator,
        AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images,
    ):
        yield images


def decoded(data: bytes) -> Image.Image:
    """The picture in ``data``, decoded in full (its ``format`` kept)."""
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def distance(first: Image.Image, second: Image.Image) -> float:
    """The mean absolute difference of two same-sized pictures' RGB values (0-255)."""
    difference = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    return sum(ImageStat.Stat(difference).mean) / 3


def above_the_band(picture: Image.Image) -> Image.Image:
    """The part of a generated picture above its prompt band (the shapes), in 4-pixel rows."""
    width, height = picture.size
    return picture.crop((0, 0, width, int(height * (1 - BAND_SHARE)) // 4 * 4))


async def generated(client: AsyncImages, **params: Any) -> list[bytes]:
    """The decoded bytes of a generation's images (a GPT image model unless given)."""
    params.setdefault("model", "gpt-image-1")
    response = await client.generate(prompt=params.pop("prompt", PROMPT), **params)
    return [image.decode() for image in response.data]


# --- formats, sizes and compression ---------------------------------------------------------


@pytest.mark.parametrize(
    ("output_format", "pillow_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")]
)
@pytest.mark.parametrize(
    ("model", "size"),
    [("gpt-image-1", "1024x1024"), ("gpt-image-1", "1536x1024"), ("gpt-image-2", "1280x720")],
)
async def test_each_output_format_is_a_real_file_of_that_format_and_size(
    client: AsyncImages, output_format: str, pillow_format: str, model: str, size: str
) -> None:
    raw = await client.with_raw_response.generate(
        prompt=PROMPT, model=model, size=size, output_format=output_format, quality="low"
    )
    assert raw.json()["output_format"] == output_format
    picture = decoded(raw.parse().data[0].decode())
    width, height = (int(edge) for edge in size.split("x"))
    assert (picture.format, picture.size) == (pillow_format, (width, height))


@pytest.mark.parametrize("output_format", ["jpeg", "webp"])
async def test_edits_and_streams_answer_in_the_requested_format(
    client: AsyncImages, output_format: str
) -> None:
    edit = await client.edit(
        image=encoded_image(64, 64, "png"),
        prompt=PROMPT,
        model="gpt-image-1",
        size="1024x1536",
        output_format=output_format,
    )
    assert decoded(edit.data[0].decode()).format == output_format.upper()
    raw = await client.with_raw_response.generate(
        prompt=PROMPT,
        model="gpt-image-1",
        output_format=output_format,
        stream=True,
        partial_images=2,
    )
    events = [
        json.loads(line[len("data: ") :])
        for line in raw.content.decode().splitlines()
        if line.startswith("data: ")
    ]
    assert len(events) == 3
    for event in events:
        picture = decoded(base64.b64decode(event["b64_json"]))
        assert (picture.format, picture.size) == (output_format.upper(), (1024, 1024))


@pytest.mark.parametrize("output_format", ["jpeg", "webp"])
async def test_output_compression_is_the_encoders_quality(
    client: AsyncImages, output_format: str
) -> None:
    sizes = {}
    for compression in (10, 50, 95):
        (data,) = await generated(
            client, output_format=output_format, output_compression=compression
        )
        sizes[compression] = len(data)
    assert sizes[10] < sizes[50] < sizes[95]


async def test_dall_e_models_always_answer_png_as_the_api_does() -> None:
    # Unchecked, so the emulator draws what a dall-e model would despite the format asked.
    async with (
        Emulator(EmulatorConfig(validate=False)) as emulator,
        AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images,
    ):
        response = await images.generate(
            prompt=PROMPT,
            model="dall-e-3",
            response_format="b64_json",
            extra_body={"output_format": "jpeg"},
        )
    assert decoded(response.data[0].decode()).format == "PNG"


# --- background and quality -----------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["png", "webp"])
async def test_a_transparent_background_is_clear_around_the_subject(
    client: AsyncImages, output_format: str
) -> None:
    (data,) = await generated(client, background="transparent", output_format=output_format)
    picture = decoded(data)
    assert picture.mode == "RGBA"
    alpha = picture.getchannel("A")
    assert alpha.getextrema() == (0, 255)
    assert alpha.getpixel((0, 0)) == 0  # a corner is background
    assert alpha.getpixel((10, picture.height - 10)) == 255  # the prompt's band is drawn


@pytest.mark.parametrize("background", ["opaque", None])
async def test_an_opaque_background_has_no_transparent_pixel(
    client: AsyncImages, background: str | None
) -> None:
    (data,) = await generated(client, background=background)
    picture = decoded(data).convert("RGBA")
    assert picture.getchannel("A").getextrema() == (255, 255)


async def test_quality_changes_the_detail_of_the_picture(client: AsyncImages) -> None:
    pictures = {}
    for quality in ("low", "medium", "high"):
        (data,) = await generated(client, quality=quality, size="1024x1024")
        pictures[quality] = decoded(data)
    assert len({picture.tobytes() for picture in pictures.values()}) == 3

    def is_drawn_in_blocks(picture: Image.Image, block: int) -> bool:
        area = above_the_band(picture)
        width, height = area.size
        small = area.resize((width // block, height // block), Image.Resampling.NEAREST)
        return small.resize(area.size, Image.Resampling.NEAREST).tobytes() == area.tobytes()

    # Low quality is drawn at a quarter of the resolution, medium at half, high in full.
    assert is_drawn_in_blocks(pictures["low"], 4)
    assert is_drawn_in_blocks(pictures["medium"], 2)
    assert not is_drawn_in_blocks(pictures["medium"], 4)
    assert not is_drawn_in_blocks(pictures["high"], 2)


# --- what the pictures show -----------------------------------------------------------------


async def test_the_same_request_gives_the_same_bytes_on_any_emulator(
    client: AsyncImages,
) -> None:
    first = await generated(client, n=2, size="1536x1024")
    async with (
        Emulator() as other,
        AsyncImages(api_key=API_KEY, base_url=other.base_url, max_retries=0) as images,
    ):
        again = await generated(images, n=2, size="1536x1024")
    assert again == first
    assert first[0] != first[1]  # the images of one request differ


async def test_different_prompts_give_visibly_different_pictures(client: AsyncImages) -> None:
    prompts = ["a red fox in the snow", "a harbour at night", "three green apples"]
    pictures = [decoded((await generated(client, prompt=prompt))[0]) for prompt in prompts]
    for number, picture in enumerate(pictures):
        for other in pictures[number + 1 :]:
            assert distance(above_the_band(picture), above_the_band(other)) > 10


async def test_the_prompts_words_pick_the_shapes_and_are_written_on_the_band(
    client: AsyncImages,
) -> None:
    # The same significant words, the same shapes (seen alone on a transparent background:
    # the background's colours come from the whole prompt); different text, another band.
    first, second = [
        decoded((await generated(client, prompt=prompt, background="transparent"))[0])
        for prompt in ("a fox in the snow", "the fox, in snow")
    ]
    assert above_the_band(first).getchannel("A").getextrema() == (0, 255)
    assert above_the_band(first).tobytes() == above_the_band(second).tobytes()
    band = (0, int(first.height * (1 - BAND_SHARE)) + 1, first.width, first.height)
    assert first.crop(band).tobytes() != second.crop(band).tobytes()
    # The band contrasts with its text: dark ink on a light band or the other way round.
    darkest, lightest = first.crop(band).convert("L").getextrema()
    assert isinstance(darkest, int)
    assert isinstance(lightest, int)
    assert lightest - darkest > 150


async def test_dall_e_3_revised_prompts_describe_what_is_drawn(client: AsyncImages) -> None:
    response = await client.generate(
        prompt="a lighthouse at dusk", model="dall-e-3", response_format="b64_json"
    )
    revised = response.data[0].revised_prompt
    assert revised is not None
    assert revised.startswith("a lighthouse at dusk.")
    assert "'lighthouse'" in revised
    assert "'dusk'" in revised


async def test_variations_of_one_input_all_differ(client: AsyncImages) -> None:
    # Even a plain grey square, which mirroring or turning leaves as it is.
    for image in (solid_png(256, 256, (128, 128, 128, 255)), encoded_image(256, 256, "png")):
        response = await client.create_variation(
            image=image, n=10, size="256x256", response_format="b64_json"
        )
        pictures = [image.decode() for image in response.data]
        assert len(set(pictures)) == 10
        source = decoded(image).tobytes()
        assert all(decoded(picture).tobytes() != source for picture in pictures)


def gradient_rgb(size: int) -> bytes:
    """An RGB square with no symmetry: every pixel is (x, y, x + y)."""
    rows = [
        b"".join(bytes((x % 256, y % 256, (x + y) % 256)) for x in range(size)) for y in range(size)
    ]
    return png_from_rows(size, size, rows, alpha=False)


async def test_an_edit_repaints_exactly_the_masks_transparent_area(
    client: AsyncImages,
) -> None:
    size = 256
    hole = (40, 100, 200, 180)
    mask = Image.new("RGBA", (size, size), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), hole)
    mask.putpixel((5, 5), (0, 0, 0, 1))  # nearly transparent is not transparent: kept
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    image = gradient_rgb(size)
    response = await client.edit(
        image=image,
        mask=buffer.getvalue(),
        prompt="a golden crown",
        model="dall-e-2",
        size=f"{size}x{size}",
        response_format="b64_json",
    )
    after = decoded(response.data[0].decode())
    before = decoded(image)
    assert (after.size, after.mode) == ((size, size), "RGB")
    # The hole shows the edit prompt's own picture, drawn to the hole's size.
    left, top, right, bottom = hole
    repaint = generated_picture("a golden crown", right - left, bottom - top)
    expected = before.copy()
    expected.paste(repaint, (left, top))
    assert after.tobytes() == expected.tobytes()  # every pixel, inside the hole and out


async def test_an_edit_without_any_transparency_draws_the_prompt_over_the_input(
    client: AsyncImages,
) -> None:
    image = gradient_rgb(256)
    results = []
    for prompt, source in [("a crown", image), ("a boat", image), ("a crown", solid_png(256, 256))]:
        response = await client.edit(image=source, prompt=prompt, model="gpt-image-1")
        results.append(decoded(response.data[0].decode()))
    assert results[0].tobytes() != results[1].tobytes()  # the prompt shows
    assert results[0].tobytes() != results[2].tobytes()  # and the input shows
    # The input shows through around the shapes: its top-left corner is still there.
    scaled = decoded(image).resize((1024, 1024), Image.Resampling.BILINEAR)
    corner = (0, 0, 64, 64)
    assert distance(results[0].crop(corner), scaled.crop(corner)) < 2


async def test_streamed_partial_images_converge_on_the_final_one(client: AsyncImages) -> None:
    raw = await client.with_raw_response.generate(
        prompt=PROMPT, model="gpt-image-1", stream=True, partial_images=3
    )
    events = [
        json.loads(line[len("data: ") :])
        for line in raw.content.decode().splitlines()
        if line.startswith("data: ")
    ]
    pictures = [decoded(base64.b64decode(event["b64_json"])) for event in events]
    *partials, final = pictures
    distances = [distance(partial, final) for partial in partials]
    assert len(distances) == 3
    assert distances[0] > distances[1] > distances[2] > 0


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (7, 7), (16, 9), (40, 12)])
@pytest.mark.parametrize("quality", ["low", "high"])
def test_tiny_pictures_are_drawn_whatever_their_shapes(size: tuple[int, int], quality: str) -> None:
    # Shapes and badges far smaller than their rounded corners (Pillow 10.1 fails on those).
    for prompt in ("a square bar", "a fox in the snow", "ten bars and squares in a row"):
        for index in range(3):
            picture = generated_picture(prompt, *size, index=index, count=3, quality=quality)
            assert picture.size == size


def test_many_partial_images_still_build_up_to_the_final_one() -> None:
    final = generated_picture(PROMPT, 64, 64)
    partials = partial_pictures(final, 8)  # more than the API's 3: the first are one block
    assert [partial.size for partial in partials] == [(64, 64)] * 8
    distances = [distance(partial, final) for partial in partials]
    assert distances == sorted(distances, reverse=True)
    assert distances[-1] > 0


@pytest.fixture
async def unchecked() -> AsyncIterator[AsyncImages]:
    """A client that checks nothing, of an emulator that checks nothing."""
    async with (
        Emulator(EmulatorConfig(validate=False)) as emulator,
        AsyncImages(
            api_key=API_KEY,
            base_url=emulator.base_url,
            max_retries=0,
            validate_requests=False,
        ) as images,
    ):
        yield images


@pytest.mark.parametrize("size", ["40000x16", "16x40000", "0x0", "4000x4000"])
async def test_an_unchecked_size_no_model_draws_is_drawn_at_the_default_size(
    unchecked: AsyncImages, size: str
) -> None:
    # The emulator answers what it can, without allocating what no model ever draws.
    (data,) = await generated(unchecked, size=size, quality="low")
    assert decoded(data).size == (1024, 1024)


def test_a_prompt_with_a_lone_surrogate_is_drawn_like_any_other() -> None:
    # The emulator refuses such a prompt; a test drawing its expected picture need not.
    picture = generated_picture("a fox \ud800 in the snow", 64, 48, quality="low")
    assert picture.size == (64, 48)
    assert picture.tobytes() != generated_picture("a fox in the snow", 64, 48).tobytes()


def test_encoding_a_picture_is_deterministic_and_honours_the_format() -> None:
    picture = generated_picture(PROMPT, 320, 200, transparent=True)
    for output_format, pillow_format in (("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")):
        data = encode_picture(picture, output_format, compression=80)  # type: ignore[arg-type]
        assert data == encode_picture(picture, output_format, compression=80)  # type: ignore[arg-type]
        assert (decoded(data).format, decoded(data).size) == (pillow_format, (320, 200))


# --- uploads that do not decode -------------------------------------------------------------


def riff(chunks: bytes) -> bytes:
    """A RIFF/WEBP container around ``chunks``, its size field right."""
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def lossless_webp(width: int, height: int) -> bytes:
    picture = Image.new("RGB", (width, height), (200, 80, 40))
    buffer = io.BytesIO()
    picture.save(buffer, "WEBP", lossless=True)
    return buffer.getvalue()


def garbage_after(header: bytes) -> bytes:
    return header + bytes((index * 37 + 11) % 256 for index in range(600))


def webp_with_garbage_body() -> bytes:
    # The VP8L chunk keeps its header (signature and size), then the bitstream is garbage.
    real = lossless_webp(64, 64)
    body = garbage_after(real[20:25])
    return riff(b"VP8L" + struct.pack("<I", len(body)) + body)


def png_bomb(edge: int) -> bytes:
    """A small, valid PNG of ``edge`` x ``edge`` black 1-bit pixels: huge once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    compressor = zlib.compressobj(9)
    row = bytes(1 + -(-edge // 8))
    rows_at_once = 512
    pieces = [compressor.compress(row * rows_at_once) for _ in range(edge // rows_at_once)]
    pieces.append(compressor.compress(row * (edge % rows_at_once)) + compressor.flush())
    header = struct.pack(">IIBBBBB", edge, edge, 1, 0, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", b"".join(pieces)),
            chunk(b"IEND", b""),
        )
    )


def with_a_second_size_header(data: bytes, kind: bytes, edge: int) -> bytes:
    """``data`` with its first ``kind`` segment (JPEG ``SOF0``, PNG ``IHDR``) repeated
    after itself, the copy claiming ``edge`` x ``edge``: what Pillow goes by, not the first."""
    if kind == b"IHDR":
        header = bytearray(data[8:33])
        header[8:16] = struct.pack(">II", edge, edge)
        header[21:25] = struct.pack(">I", zlib.crc32(bytes(header[4:21])))
        return data[:33] + bytes(header) + data[33:]
    start = data.index(b"\xff\xc0")
    end = start + 2 + struct.unpack_from(">H", data, start + 2)[0]
    frame = bytearray(data[start:end])
    frame[5:9] = struct.pack(">HH", edge, edge)
    return data[:end] + bytes(frame) + data[end:]


UNDECODABLE = {
    "png-header-then-garbage": garbage_after(solid_png(64, 64)[:33]),
    "jpeg-header-then-garbage": garbage_after(jpeg_header_bytes(64, 64)[:-2]),
    "jpeg-cut-in-half": encoded_image(64, 64, "jpeg")[:300],
    "webp-header-then-garbage": webp_with_garbage_body(),
    "webp-cut-in-half": encoded_image(64, 64, "webp")[:60],
    "png-bomb-12000-squared": png_bomb(12_000),
    "jpeg-header-of-a-bomb": jpeg_header_bytes(60_000, 60_000),
    "jpeg-header-just-past-the-limit": jpeg_header_bytes(10_000, 5_001),
    # Past Pillow's warning limit (89 Mpx), under its error limit: open() only warns.
    "jpeg-second-frame-header-of-a-bomb": with_a_second_size_header(
        encoded_image(16, 16, "jpeg"), b"SOF0", 10_000
    ),
    "png-second-image-header-of-a-bomb": with_a_second_size_header(
        encoded_image(16, 16, "png"), b"IHDR", 10_000
    ),
}


@pytest.mark.parametrize("upload", UNDECODABLE.values(), ids=UNDECODABLE.keys())
async def test_an_upload_that_does_not_decode_is_a_400(client: AsyncImages, upload: bytes) -> None:
    with pytest.raises(BadRequestError) as caught:
        await client.edit(image=upload, prompt=PROMPT, model="gpt-image-1")
    assert (caught.value.status_code, caught.value.param, caught.value.code) == (
        400,
        "image",
        "invalid_image",
    )


async def test_real_jpeg_and_webp_uploads_are_accepted(client: AsyncImages) -> None:
    for upload in (encoded_image(96, 64, "jpeg"), encoded_image(96, 64, "webp", alpha=True)):
        response = await client.edit(image=upload, prompt=PROMPT, model="gpt-image-1")
        assert decoded(response.data[0].decode()).size == (1536, 1024)


# --- without Pillow -------------------------------------------------------------------------

WITHOUT_PILLOW = """
import sys
sys.modules["PIL"] = None  # as if Pillow were not installed
import images_async  # the client needs no Pillow
try:
    from images_async.testing import Emulator
except ImportError as error:
    print(error)
else:
    print("imported")
"""


def test_the_emulator_without_pillow_says_what_to_install() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", WITHOUT_PILLOW],
        capture_output=True,
        text=True,
        timeout=CHILD_SECONDS,
        check=True,
    )
    assert 'pip install "images-async[emulator]"' in result.stdout
    assert "Pillow" in result.stdout
