"""The emulator against damaged, hostile and unfamiliar input, over real loopback HTTP.

Damaged PNG uploads (a valid header in front of garbage, bad CRCs, truncated or undecodable
image data) are refused with 400 like the API does, while every kind of valid PNG still
passes. No request input makes the emulator answer 500: lone surrogates, non-UTF-8 forms,
unknown charsets, broken Content-Encoding, JSON nested past the parser's depth, huge numbers,
a Host header that is no URL host, plus a bounded hypothesis fuzz. Model names the emulator
does not know behave like their closest known family instead of being refused.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from images_async import AsyncImages, BadRequestError
from images_async.testing import Emulator, run_emulator_in_thread
from images_async.testing.sample_images import png_from_rows, solid_png

API_KEY = "sk-test-emulator-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
PROMPT = "a lighthouse at dusk"
#: Upper bound of one raw request of these tests.
REQUEST_SECONDS = 30.0


# --- PNG bytes, whole and damaged ---------------------------------------------------------


def chunk(kind: bytes, data: bytes, *, crc: int | None = None) -> bytes:
    """One PNG chunk; its CRC is the right one unless ``crc`` says otherwise."""
    good = zlib.crc32(data, zlib.crc32(kind))
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", good if crc is None else crc)
    )


def png(
    width: int,
    height: int,
    scanlines: bytes,
    *,
    depth: int = 8,
    colour_type: int = 6,
    interlace: int = 0,
    extra: Sequence[bytes] = (),
    compressed: bytes | None = None,
) -> bytes:
    """A PNG written chunk by chunk: ``scanlines`` is the inflated image data as is."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace)
    data = zlib.compress(scanlines) if compressed is None else compressed
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            *extra,
            chunk(b"IDAT", data),
            chunk(b"IEND", b""),
        )
    )


def rgba_scanlines(width: int, height: int) -> bytes:
    """Filter-0 RGBA rows: transparent on the left half, so dall-e-2 can edit it too."""
    row = bytes((10, 200, 30, 0)) * (width // 2) + bytes((10, 200, 30, 255)) * (width - width // 2)
    return (b"\x00" + row) * height


SIZE = 64
GOOD = png(SIZE, SIZE, rgba_scanlines(SIZE, SIZE))
SIGNATURE_AND_IHDR = GOOD[:33]
IDAT_START = 33  # the IDAT chunk follows IHDR directly in GOOD
IEND = chunk(b"IEND", b"")


def with_bad_crc(data: bytes, kind: bytes) -> bytes:
    """``data`` with the CRC of its first ``kind`` chunk changed."""
    at = data.index(kind) - 4
    (length,) = struct.unpack_from(">I", data, at)
    crc_at = at + 8 + length
    (crc,) = struct.unpack_from(">I", data, crc_at)
    return data[:crc_at] + struct.pack(">I", crc ^ 1) + data[crc_at + 4 :]


DAMAGED_PNGS = {
    "garbage-after-the-header": SIGNATURE_AND_IHDR + b"garbage" * 50,
    "garbage-image-data": SIGNATURE_AND_IHDR + chunk(b"IDAT", b"not zlib at all" * 20) + IEND,
    "bad-crc-in-IDAT": with_bad_crc(GOOD, b"IDAT"),
    "bad-crc-in-IHDR": with_bad_crc(GOOD, b"IHDR"),
    "truncated-in-IDAT": GOOD[: IDAT_START + 40],
    "no-IEND": GOOD[: -len(IEND)],
    "no-IDAT": SIGNATURE_AND_IHDR + IEND,
    "zlib-stream-cut-short": png(
        SIZE, SIZE, b"", compressed=zlib.compress(rgba_scanlines(SIZE, SIZE))[:-30]
    ),
    "fewer-rows-than-the-header": png(SIZE, SIZE, rgba_scanlines(SIZE, SIZE // 2)),
    "unknown-filter-type": png(SIZE, SIZE, b"\x07" + rgba_scanlines(SIZE, SIZE)[1:]),
    "palette-without-PLTE": png(SIZE, SIZE, (b"\x00" + bytes(SIZE)) * SIZE, colour_type=3),
    "impossible-bit-depth": png(SIZE, SIZE, rgba_scanlines(SIZE, SIZE), depth=7),
    "too-large-to-decode": png(20_000, 20_000, rgba_scanlines(SIZE, SIZE)),
}


def adam7_scanlines(width: int, height: int, bytes_per_pixel: int) -> bytes:
    """Filter-0 zero rows for each of the seven passes of an interlaced image."""
    # (first column, first row, column step, row step) of each pass.
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4)]
    passes += [(0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    out = b""
    for x0, y0, dx, dy in passes:
        columns = len(range(x0, width, dx))
        rows = len(range(y0, height, dy))
        if columns and rows:
            out += (b"\x00" + bytes(columns * bytes_per_pixel)) * rows
    return out


VALID_PNGS = {
    "rgba": GOOD,
    "rgb": solid_png(SIZE, SIZE, alpha=False),
    "grey": png(SIZE, SIZE, (b"\x00" + bytes(range(SIZE))) * SIZE, colour_type=0),
    "palette": png(
        SIZE,
        SIZE,
        (b"\x00" + bytes(SIZE)) * SIZE,
        colour_type=3,
        extra=[chunk(b"PLTE", bytes((255, 0, 0)))],
    ),
    "16-bit-rgba": png(SIZE, SIZE, (b"\x00" + bytes(SIZE * 8)) * SIZE, depth=16),
    "1-bit-grey": png(SIZE, SIZE, (b"\x00" + bytes(SIZE // 8)) * SIZE, depth=1, colour_type=0),
    "interlaced": png(SIZE, SIZE, adam7_scanlines(SIZE, SIZE, 4), interlace=1),
    "with-ancillary-chunks": png(
        SIZE,
        SIZE,
        rgba_scanlines(SIZE, SIZE),
        extra=[chunk(b"tEXt", b"Comment\x00made by hand"), chunk(b"gAMA", bytes(4))],
    ),
    "split-IDAT": SIGNATURE_AND_IHDR
    + chunk(b"IDAT", zlib.compress(rgba_scanlines(SIZE, SIZE))[:10])
    + chunk(b"IDAT", zlib.compress(rgba_scanlines(SIZE, SIZE))[10:])
    + IEND,
}


# --- serving ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve() -> AsyncIterator[tuple[Emulator, AsyncImages]]:
    """An emulator and a client of it that leaves every check to the emulator."""
    async with (
        Emulator() as emulator,
        AsyncImages(
            api_key=API_KEY, base_url=emulator.base_url, max_retries=0, validate_requests=False
        ) as client,
    ):
        yield emulator, client


@pytest.fixture(scope="module")
def served_in_thread() -> Iterator[str]:
    """One emulator for the module's synchronous tests (hypothesis), on a thread of its own."""
    with run_emulator_in_thread() as base_url:
        yield base_url


def raw_request(base_url: str, path: str, body: bytes, content_type: str) -> tuple[int, str]:
    """One POST with the standard library, so no proxy setting can reroute it."""
    url = urlsplit(base_url)
    assert url.hostname == "127.0.0.1"
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_SECONDS)
    try:
        connection.request(
            "POST", url.path + path, body=body, headers={**AUTH, "Content-Type": content_type}
        )
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def assert_strict_json(text: str) -> Any:
    """``text`` parsed, after checking every string in it is encodable Unicode."""
    document = json.loads(text)

    def walk(value: object) -> None:
        if isinstance(value, str):
            value.encode("utf-8")  # a lone surrogate (escaped as \\udXXX) raises here
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    return document


def assert_api_error(status: int, text: str, *, param: str | None = None) -> dict[str, Any]:
    """A 4xx in the API's ``{"error": {...}}`` shape; returns the ``error`` object."""
    assert 400 <= status < 500, (status, text[:300])
    document = assert_strict_json(text)
    assert set(document) == {"error"}
    error: dict[str, Any] = document["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str)
    assert error["message"]
    if param is not None:
        assert error["param"] == param, error
    return error


async def post(
    url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """One raw POST; returns the status and the body as text."""
    sent = {**AUTH, "Content-Type": content_type, **(headers or {})}
    timeout = aiohttp.ClientTimeout(total=REQUEST_SECONDS)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=body, headers=sent) as response,
    ):
        return response.status, await response.text()


def multipart(*parts: tuple[bytes, bytes], boundary: str = "emulator-test-boundary") -> bytes:
    """A raw multipart/form-data body: each part is (its header lines, its content)."""
    out = b""
    for headers, content in parts:
        out += f"--{boundary}\r\n".encode() + headers + b"\r\n\r\n" + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


MULTIPART = "multipart/form-data; boundary=emulator-test-boundary"


def text_part(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    return b'Content-Disposition: form-data; name="' + name + b'"', value


def file_part(name: bytes, content: bytes, filename: bytes = b"a.png") -> tuple[bytes, bytes]:
    disposition = b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename
    return disposition + b'"\r\nContent-Type: image/png', content


# --- damaged uploads ----------------------------------------------------------------------


@pytest.mark.parametrize("damaged", DAMAGED_PNGS.values(), ids=DAMAGED_PNGS.keys())
async def test_a_damaged_png_image_is_refused_like_the_api_does(damaged: bytes) -> None:
    async with serve() as (emulator, client):
        with pytest.raises(BadRequestError) as caught:
            await client.edit(image=damaged, prompt=PROMPT, model="gpt-image-1")
        assert (caught.value.param, caught.value.code) == ("image", "invalid_image")
        assert_api_error(400, json.dumps(caught.value.body), param="image")
        with pytest.raises(BadRequestError) as caught:
            await client.create_variation(image=damaged, response_format="b64_json")
        assert caught.value.param == "image"
        assert [call.status for call in emulator.requests] == [400, 400]


@pytest.mark.parametrize("damaged", DAMAGED_PNGS.values(), ids=DAMAGED_PNGS.keys())
async def test_a_damaged_png_mask_is_refused_naming_the_mask(damaged: bytes) -> None:
    async with serve() as (_emulator, client):
        with pytest.raises(BadRequestError) as caught:
            await client.edit(image=GOOD, mask=damaged, prompt=PROMPT, model="gpt-image-1")
    assert (caught.value.param, caught.value.code) == ("mask", "invalid_image")


async def test_a_damaged_second_image_is_named_by_its_index() -> None:
    damaged = DAMAGED_PNGS["garbage-image-data"]
    async with serve() as (_emulator, client):
        with pytest.raises(BadRequestError) as caught:
            await client.edit(image=[GOOD, damaged], prompt=PROMPT, model="gpt-image-1")
    assert caught.value.param == "image[1]"


async def test_a_damaged_png_sent_raw_gets_an_api_shaped_400() -> None:
    body = multipart(
        text_part(b"prompt", PROMPT.encode()),
        text_part(b"model", b"gpt-image-1"),
        file_part(b"image", SIGNATURE_AND_IHDR + b"garbage" * 50),
    )
    async with Emulator() as emulator:
        status, text = await post(f"{emulator.base_url}/images/edits", body, MULTIPART)
    error = assert_api_error(status, text, param="image")
    assert status == 400
    assert error["code"] == "invalid_image"


@pytest.mark.parametrize("valid", VALID_PNGS.values(), ids=VALID_PNGS.keys())
async def test_every_kind_of_valid_png_is_still_accepted(valid: bytes) -> None:
    async with serve() as (_emulator, client):
        edited = await client.edit(
            image=valid, prompt=PROMPT, model="gpt-image-1", size="1024x1024"
        )
        varied = await client.create_variation(image=valid, response_format="b64_json")
    assert len(edited.data) == len(varied.data) == 1


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_single_byte_change_or_cut_of_a_png_is_refused(
    served_in_thread: str, data: st.DataObject
) -> None:
    original = png_from_rows(8, 8, [bytes(range(32))] * 8)
    if data.draw(st.booleans(), label="cut"):
        damaged = original[: data.draw(st.integers(0, len(original) - 1), label="length")]
    else:
        at = data.draw(st.integers(0, len(original) - 1), label="at")
        flip = data.draw(st.integers(1, 255), label="xor")
        damaged = original[:at] + bytes((original[at] ^ flip,)) + original[at + 1 :]
    body = multipart(
        text_part(b"prompt", b"x"),
        text_part(b"model", b"gpt-image-1"),
        file_part(b"image", damaged),
    )
    status, text = raw_request(served_in_thread, "/images/edits", body, MULTIPART)
    assert status == 400, text[:300]
    assert_api_error(status, text)


# --- hostile input ------------------------------------------------------------------------


async def test_a_lone_surrogate_in_a_json_prompt_is_a_400_naming_it() -> None:
    async with Emulator() as emulator:
        status, text = await post(
            f"{emulator.base_url}/images/generations",
            b'{"prompt": "a cat \\ud800", "size": "256x256"}',
            "application/json",
        )
    error = assert_api_error(status, text, param="prompt")
    assert status == 400
    assert error["code"] == "invalid_value"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"prompt": "x", "user": "\\udc00"}', id="low-surrogate-elsewhere"),
        pytest.param(b'{"prompt": "x", "\\ud800": 1}', id="surrogate-in-a-key"),
        pytest.param(b"[" * 100_000, id="nested-past-the-parser"),
        pytest.param(b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="deep-prompt"),
    ],
)
async def test_hostile_json_is_a_400(body: bytes) -> None:
    async with Emulator() as emulator:
        status, text = await post(
            f"{emulator.base_url}/images/generations", body, "application/json"
        )
    assert status == 400
    assert_api_error(status, text)


PNG_PART = file_part(b"image", GOOD)


@pytest.mark.parametrize(
    ("body", "content_type", "param"),
    [
        pytest.param(
            multipart(text_part(b"prompt", b"\xff\xfe"), PNG_PART), MULTIPART, "prompt", id="text"
        ),
        pytest.param(
            multipart(text_part(b"pr\xffompt", b"x"), PNG_PART), MULTIPART, None, id="field-name"
        ),
        pytest.param(
            multipart(text_part(b"prompt", b"x"), file_part(b"image", GOOD, b"a\xff.png")),
            MULTIPART,
            None,
            id="file-name",
        ),
        pytest.param(
            b"prompt=\xff", "application/x-www-form-urlencoded", None, id="urlencoded-raw"
        ),
        pytest.param(
            b"prompt=%ff%fe", "application/x-www-form-urlencoded", None, id="urlencoded-escaped"
        ),
    ],
)
async def test_a_form_that_is_not_utf8_is_a_400(
    body: bytes, content_type: str, param: str | None
) -> None:
    async with Emulator() as emulator:
        status, text = await post(f"{emulator.base_url}/images/edits", body, content_type)
    assert status == 400
    assert_api_error(status, text, param=param)


@pytest.mark.parametrize(
    ("path", "body", "content_type", "headers"),
    [
        pytest.param(
            "edits",
            b"prompt=x",
            "application/x-www-form-urlencoded; charset=no-such-charset",
            {},
            id="unknown-charset",
        ),
        pytest.param(
            "generations",
            b"this is not gzip",
            "application/json",
            {"Content-Encoding": "gzip"},
            id="broken-gzip",
        ),
        pytest.param(
            "edits",
            multipart(text_part(b"prompt", b"x"), text_part(b"n", b"1" * 5000), PNG_PART),
            MULTIPART,
            {},
            id="5000-digit-n",
        ),
        pytest.param(
            "edits",
            multipart(
                text_part(b"prompt", b"x"),
                (b"Content-Disposition: form-data; name=\"image\"; filename*=utf-8''a%ff", GOOD),
            ),
            MULTIPART,
            {},
            id="bad-content-disposition",
        ),
        pytest.param(
            "edits",
            multipart(text_part(b"prompt", b"x"), PNG_PART)[:-10],
            MULTIPART,
            {},
            id="multipart-cut-short",  # aiohttp 3.9's reader asserts here
        ),
    ],
)
async def test_bodies_that_cannot_be_read_are_a_400(
    path: str, body: bytes, content_type: str, headers: dict[str, str]
) -> None:
    async with Emulator() as emulator:
        status, text = await post(f"{emulator.base_url}/images/{path}", body, content_type, headers)
    assert status == 400
    assert_api_error(status, text)


@pytest.mark.parametrize(
    "digits", ["\u0661", "\uff11", "\u00b9"], ids=["arabic", "fullwidth", "sup"]
)
async def test_form_integers_are_ascii_digits_only(digits: str) -> None:
    body = multipart(text_part(b"prompt", b"x"), text_part(b"n", digits.encode()), PNG_PART)
    async with Emulator() as emulator:
        status, text = await post(f"{emulator.base_url}/images/edits", body, MULTIPART)
    assert status == 400
    assert assert_api_error(status, text, param="n")["code"] == "invalid_type"


# --- fuzzing ------------------------------------------------------------------------------


#: Any text, lone surrogates included (the JSON encoder escapes them).
ANY_TEXT = st.text(
    st.characters(exclude_categories=()) | st.sampled_from("\ud800\udc00"), max_size=20
)
FIELD_NAMES = st.sampled_from(
    ["prompt", "model", "n", "size", "quality", "style", "response_format", "background",
     "output_format", "output_compression", "stream", "partial_images", "moderation", "user",
     "input_fidelity"]
)  # fmt: skip
MODELS = st.sampled_from(["dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-2", "gpt-image-9"])
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False)
    | ANY_TEXT
    | MODELS
    | st.sampled_from(["256x256", "1024x1024", "auto", "b64_json", "url", "high", "png"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=st.dictionaries(FIELD_NAMES | ANY_TEXT, JSON_VALUES, max_size=5)
    | JSON_VALUES.filter(lambda value: not isinstance(value, dict))
)
def test_no_json_body_makes_the_emulator_fail(served_in_thread: str, document: object) -> None:
    if isinstance(document, dict) and "n" in document:
        document["n"] = 1  # the point is the shape of the request, not drawing ten pictures
    body = json.dumps(document).encode()
    status, text = raw_request(served_in_thread, "/images/generations", body, "application/json")
    if status != 200:
        assert_api_error(status, text)


PART_VALUES = st.binary(max_size=12) | ANY_TEXT.map(lambda text: text.encode("utf-8", "replace"))


PART_NAMES = st.sampled_from(["image", "image[]", "mask", "prompt", "x"])
PART_FILES = st.sampled_from([GOOD, GOOD[:60], b"GIF89a", b""]) | st.binary(max_size=40)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(
        st.tuples(FIELD_NAMES | ANY_TEXT, PART_VALUES | MODELS.map(str.encode)), max_size=5
    ),
    files=st.lists(st.tuples(PART_NAMES, PART_FILES), max_size=3),
    path=st.sampled_from(["/images/edits", "/images/variations"]),
)
def test_no_multipart_body_makes_the_emulator_fail(
    served_in_thread: str,
    texts: list[tuple[str, bytes]],
    files: list[tuple[str, bytes]],
    path: str,
) -> None:
    parts = [
        text_part(name.encode("utf-8", "replace").replace(b'"', b"'"), value)
        for name, value in texts
        if name != "n"
    ]
    parts += [file_part(name.encode(), content) for name, content in files]
    status, text = raw_request(served_in_thread, path, multipart(*parts), MULTIPART)
    if status != 200:
        assert_api_error(status, text)


# --- models the emulator does not know ----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "gpt_like"),
    [
        ("gpt-image-3", True),
        ("gpt-image-1-mini-2027-01-01", True),
        ("chatgpt-image-2030", True),
        ("some-future-model", True),
        ("dall-e-2-preview", False),
        ("dall-e-3-hd-2026", False),
    ],
)
async def test_an_unknown_model_behaves_like_its_closest_family(model: str, gpt_like: bool) -> None:
    async with serve() as (emulator, client):
        if gpt_like:
            response = await client.generate(prompt=PROMPT, model=model, quality="low")
            assert response.usage is not None
            assert response.data[0].b64_json is not None
        else:
            response = await client.generate(prompt=PROMPT, model=model, response_format="url")
            assert response.usage is None
            assert response.data[0].url is not None
        assert emulator.requests[-1].status == 200


async def test_an_unknown_model_gets_its_familys_rules() -> None:
    async with serve() as (_emulator, client):
        revised = await client.generate(prompt=PROMPT, model="dall-e-3-next", response_format="url")
        assert revised.data[0].revised_prompt
        with pytest.raises(BadRequestError) as caught:
            await client.generate(prompt=PROMPT, model="dall-e-3-next", n=2)
        assert caught.value.param == "n"
        assert "dall-e-3-next" in caught.value.message
        with pytest.raises(BadRequestError) as caught:
            await client.generate(prompt=PROMPT, model="gpt-image-3", response_format="url")
        assert caught.value.param == "response_format"
        edited = await client.edit(image=GOOD, prompt=PROMPT, model="gpt-image-3")
        assert edited.usage is not None
        varied = await client.create_variation(
            image=GOOD, model="dall-e-2-next", response_format="b64_json"
        )
        assert len(varied.data) == 1


async def test_an_empty_model_name_is_still_refused() -> None:
    async with serve() as (_emulator, client):
        with pytest.raises(BadRequestError) as caught:
            await client.generate(prompt=PROMPT, model="")
    assert caught.value.param == "model"


# --- the Host header ----------------------------------------------------------------------


def generate_with_host(base_url: str, host: bytes) -> tuple[int, str]:
    """A URL-mode generation whose Host header is ``host``, byte for byte."""
    url = urlsplit(base_url)
    assert url.hostname == "127.0.0.1"
    body = json.dumps({"prompt": PROMPT, "size": "256x256"}).encode()
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_SECONDS)
    try:
        connection.putrequest("POST", f"{url.path}/images/generations", skip_host=True)
        connection.putheader("Host", host)
        for name, value in [*AUTH.items(), ("Content-Type", "application/json")]:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


@pytest.mark.parametrize("host", [b"", b"h:99999", b"h:port", b"@", b"a b", b"h/p", b"[::1"])
def test_image_urls_survive_a_bad_host_header(served_in_thread: str, host: bytes) -> None:
    status, text = generate_with_host(served_in_thread, host)
    assert status == 200, text
    image_url = json.loads(text)["data"][0]["url"]
    served = urlsplit(served_in_thread)
    assert urlsplit(image_url).netloc == served.netloc  # where the emulator really listens


def test_image_urls_follow_a_good_host_header(served_in_thread: str) -> None:
    port = urlsplit(served_in_thread).port
    status, text = generate_with_host(served_in_thread, f"localhost:{port}".encode())
    assert status == 200, text
    image_url = json.loads(text)["data"][0]["url"]
    assert image_url.startswith(f"http://localhost:{port}/v1/emulator/files/")
