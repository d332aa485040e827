"""Bodies kept as the chunks they arrived in: parsed alike however they were cut.

A response body is never joined before parsing: each base64 payload is copied out of the
chunks once and the chunks are dropped as they are used. These tests hold that path to
``json.loads`` of the joined body for arbitrary cuts (a key, an escape or a payload split
across chunks), check memory stays near the body's size, and check over HTTP that a large
body arriving in many pieces parses, decodes and stays whole for ``with_raw_response``.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from plugins.api_server import API_KEY, serving

from images_async import AsyncImages, ImageDecodeError, ImagesResponse
from images_async._converter import parse_images_chunks, parse_images_response

fast = settings(max_examples=200, deadline=None)

BASE64_TEXT = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=40
)
#: Prompt text that looks like the splitter's landmarks: keys, quotes, escapes, colons.
TRICKY_TEXT = st.lists(
    st.sampled_from(['"b64_json"', '"', "\\", ":", " ", "b64_json", "é", "\n", "x", "{"]),
    max_size=8,
).map("".join)


@st.composite
def images_documents(draw: st.DrawFn) -> dict[str, Any]:
    images = []
    for _ in range(draw(st.integers(0, 4))):
        image: dict[str, Any] = {}
        if draw(st.booleans()):
            image["revised_prompt"] = draw(TRICKY_TEXT)
        image["b64_json"] = draw(st.none() | BASE64_TEXT)
        if draw(st.booleans()):
            image["extra"] = {"b64_json": draw(BASE64_TEXT), "note": draw(TRICKY_TEXT)}
        images.append(image)
    return {"created": draw(st.integers(0, 2**40)), "data": images}


@st.composite
def layouts(draw: st.DrawFn, document: dict[str, Any]) -> bytes:
    """The document as some server could lay it out: spacing, escapes, key order."""
    text = json.dumps(
        document,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.none() | st.integers(0, 3)),
        separators=draw(st.sampled_from([None, (",", ":"), (" , ", " : ")])),
    )
    if draw(st.booleans()):
        text = text.replace("/", "\\/")  # an escape JSON allows inside any string
    return text.encode()


def cut(body: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted(cut % (len(body) + 1) for cut in cuts), len(body)]
    return [body[start:end] for start, end in itertools.pairwise(edges)]


def payloads_per_json_loads(body: bytes) -> list[bytes | None]:
    images = json.loads(body)["data"]
    return [None if image["b64_json"] is None else image["b64_json"].encode() for image in images]


@fast
@given(data=st.data(), document=images_documents())
def test_any_chunking_parses_like_json_loads_of_the_joined_body(
    data: st.DataObject, document: dict[str, Any]
) -> None:
    body = data.draw(layouts(document))
    chunks = cut(body, data.draw(st.lists(st.integers(0, 10**6), max_size=12)))

    response = parse_images_chunks(chunks)

    assert chunks == []  # taken over
    assert response == parse_images_response(body)
    assert [image.b64_payload for image in response.data] == payloads_per_json_loads(body)
    assert [image.revised_prompt for image in response.data] == [
        image.get("revised_prompt") for image in json.loads(body)["data"]
    ]


TRICKY_BODY = (
    b'{"created": 3, "data": [{"revised_prompt": "say \\"b64_json\\": \\"no\\"", '
    b'"b64_json"  :  "QUJD"}, {"b64_json": "RE\\/G"}, {"b64_json":"R0hJ"}], '
    b'"note": "\\"b64_json\\":\\"x\\""}'
)


def test_every_single_cut_of_a_tricky_body_parses_alike() -> None:
    expected = parse_images_response(TRICKY_BODY)
    assert [image.b64_payload for image in expected.data] == [b"QUJD", b"RE/G", b"R0hJ"]
    for position in range(len(TRICKY_BODY) + 1):
        chunks = [TRICKY_BODY[:position], TRICKY_BODY[position:]]
        assert parse_images_chunks(chunks) == expected, position


def test_one_byte_chunks_parse_alike() -> None:
    chunks = [TRICKY_BODY[i : i + 1] for i in range(len(TRICKY_BODY))]
    assert parse_images_chunks(chunks) == parse_images_response(TRICKY_BODY)


def large_body(seed: int = 0) -> tuple[bytes, bytes]:
    image = random.Random(seed).randbytes(1_179_648)
    document = {"created": 1, "data": [{"b64_json": base64.b64encode(image).decode()}]}
    return image, json.dumps(document).encode()


def test_a_chunked_large_body_is_parsed_in_about_its_own_size() -> None:
    image, body = large_body()
    tracemalloc.start()
    try:
        # The chunks are made while tracing, so dropping them shows in the count.
        chunks = [bytes(body[start : start + 65536]) for start in range(0, len(body), 65536)]
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        response = parse_images_chunks(chunks)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.data[0].decode() == image
    # Held at once: the chunks not yet copied from and the payload filled so far.
    assert peak - before < 0.2 * len(body), (peak - before, len(body))
    assert after - before < 0.1 * len(body)  # the payload replaced the chunks


def test_decode_rejects_what_strict_base64_rejects() -> None:
    for damaged in (b"QUJ", b"QU=D", b"QUJD\n", b"QUJD QUJD", b"=QUJ", b"QQ==QQ=="):
        document = {"created": 1, "data": [{"b64_json": damaged.decode()}]}
        (image,) = parse_images_response(json.dumps(document).encode()).data
        with pytest.raises(ImageDecodeError):
            image.decode()
    (image,) = parse_images_response(b'{"created": 1, "data": [{"b64_json": "QQ=="}]}').data
    assert image.decode() == b"A"


# --- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
async def trickling_api() -> AsyncIterator[tuple[str, bytes, bytes]]:
    """An API answering with a large body written in uneven pieces (chunked encoding)."""
    image, body = large_body(seed=1)

    async def generations(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        position, sizes = 0, random.Random(2)
        while position < len(body):
            step = sizes.choice([1, 7, 4093, 65536, 300_000])
            await response.write(body[position : position + step])
            position += step
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/images/generations", generations)
    async with serving(app) as root:
        yield f"{root}/v1", image, body


async def test_a_trickled_large_body_parses_decodes_and_stays_whole_raw(
    trickling_api: tuple[str, bytes, bytes],
) -> None:
    base_url, image, body = trickling_api
    async with AsyncImages(api_key=API_KEY, base_url=base_url, max_retries=0) as images:
        response = await images.generate(prompt="p", model="gpt-image-1")
        raw = await images.with_raw_response.generate(prompt="p", model="gpt-image-1")

    assert response.data[0].decode() == image
    parsed = raw.parse()
    assert isinstance(parsed, ImagesResponse)
    assert parsed == response
    assert raw.content == body  # parsing did not use the body up
    assert raw.json() == json.loads(body)
