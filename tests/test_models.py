"""The models and the converter: large bodies, unknown fields, escapes, memory, round trips."""

from __future__ import annotations

import base64
import json
import random
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from plugins.api_server import FakeImagesAPI, Reply

from images_async import (
    AsyncImages,
    CompletedImageEvent,
    Image,
    ImageDecodeError,
    ImagesError,
    ImagesResponse,
    InputTokensDetails,
    PartialImageEvent,
    UnknownStreamEvent,
    Usage,
)
from images_async._converter import (
    ResponseShapeError,
    parse_images_response,
    parse_stream_event,
    response_to_json,
    split_base64_payloads,
)

LARGE_RAW_SIZE = 1_179_648  # 1.125 MiB of image bytes: 1.5 MiB of base64


def image_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def body_of(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


@pytest.fixture(scope="module")
def large_image() -> bytes:
    return image_bytes(LARGE_RAW_SIZE)


@pytest.fixture(scope="module")
def large_body(large_image: bytes) -> bytes:
    return body_of(
        {
            "created": 1_700_000_000,
            "data": [{"b64_json": base64.b64encode(large_image).decode()}],
            "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        }
    )


# --- the large-body path -------------------------------------------------------------------


def test_large_payload_parses_to_the_same_bytes(large_image: bytes, large_body: bytes) -> None:
    response = parse_images_response(large_body)

    (image,) = response.data
    payload = base64.b64encode(large_image)
    assert len(payload) == 1_572_864
    assert image.b64_payload == payload
    assert isinstance(image.b64_payload, bytes)
    assert image.decode() == large_image
    assert image.b64_json == payload.decode()
    assert response.created == 1_700_000_000


def test_splitter_cuts_the_payload_out(large_body: bytes) -> None:
    skeleton, payloads = split_base64_payloads(large_body)

    assert len(skeleton) < 200
    assert json.loads(skeleton)["data"] == [{"b64_json": 0}]
    assert [len(payload) for payload in payloads] == [1_572_864]


def test_several_images_keep_their_order() -> None:
    images = [image_bytes(1000 + i, seed=i) for i in range(4)]
    body = body_of(
        {
            "created": 1,
            "data": [
                {"revised_prompt": f"prompt {i}", "b64_json": base64.b64encode(raw).decode()}
                for i, raw in enumerate(images)
            ],
        }
    )

    response = parse_images_response(body)

    assert [image.decode() for image in response.data] == images
    assert [image.revised_prompt for image in response.data] == [f"prompt {i}" for i in range(4)]


def test_compact_and_spaced_layouts_parse_alike() -> None:
    document = {"created": 5, "data": [{"b64_json": "QUJD"}, {"b64_json": "REVG"}]}
    compact = json.dumps(document, separators=(",", ":")).encode()
    spaced = json.dumps(document, indent=4).encode().replace(b'":', b'" \t\r\n :')

    assert parse_images_response(compact) == parse_images_response(spaced)
    assert [image.decode() for image in parse_images_response(spaced).data] == [b"ABC", b"DEF"]


# --- wire tolerance ------------------------------------------------------------------------


def test_unknown_fields_are_ignored() -> None:
    body = body_of(
        {
            "created": 7,
            "future_top_level": {"nested": [1, 2, {"b64_json": "Zm9v"}]},
            "data": [
                {
                    "b64_json": base64.b64encode(b"img").decode(),
                    "content_filter": {"flagged": False},
                    "seed": 42,
                }
            ],
            "usage": {
                "input_tokens": 1,
                "output_tokens": 2,
                "total_tokens": 3,
                "cached_tokens": 9,
                "input_tokens_details": {"text_tokens": 1, "image_tokens": 0, "audio": 5},
            },
            "moderation_result": None,
        }
    )

    response = parse_images_response(body)

    assert response.data[0].decode() == b"img"
    assert response.usage == Usage(
        input_tokens=1,
        output_tokens=2,
        total_tokens=3,
        input_tokens_details=InputTokensDetails(text_tokens=1, image_tokens=0),
    )


def test_escaped_payload_falls_back_to_json_loads() -> None:
    raw = b"\xff\xfe\xfd" * 100  # base64 full of "/" characters
    payload = base64.b64encode(raw)
    assert b"/" in payload
    escaped = payload.replace(b"/", b"\\/")  # legal JSON: "\/" means "/"
    plain = base64.b64encode(b"second image")
    body = (
        b'{"created": 3, "data": [{"b64_json": "'
        + escaped
        + b'"}, {"b64_json": "'
        + plain
        + b'"}]}'
    )

    response = parse_images_response(body)

    assert response.data[0].b64_payload == payload
    assert response.data[0].decode() == raw
    assert response.data[1].decode() == b"second image"


def test_b64_json_text_inside_a_prompt_does_not_confuse_the_splitter() -> None:
    prompt = 'write "b64_json": "AAAA" on a sign, then a backslash \\'
    raw = image_bytes(3000)
    body = body_of(
        {
            "created": 4,
            "data": [
                {"revised_prompt": prompt, "b64_json": base64.b64encode(raw).decode()},
                {"b64_json": base64.b64encode(b"two").decode(), "revised_prompt": prompt},
            ],
        }
    )
    assert body.count(b"b64_json") == 4

    response = parse_images_response(body)

    assert [image.revised_prompt for image in response.data] == [prompt, prompt]
    assert [image.decode() for image in response.data] == [raw, b"two"]


def test_json_null_data_and_payload() -> None:
    response = parse_images_response(b'{"created": 1, "data": null}')
    assert response.data == ()

    response = parse_images_response(b'{"created": 1, "data": [{"b64_json": null, "url": "u"}]}')
    assert response.data == (Image(url="u"),)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": []}',
        b"not json",
        b"[1]",
        b'{"created": 1, "data": {}}',
        b'{"created": 1, "data": ""}',
        b'{"created": 1, "data": ["an image?"]}',
        b'{"created": 1, "usage": [1, 2]}',
        b'{"created": 1, "data": [{"b64_json": 1}]}',
        b'{"created": 1, "data": [{"b64_json": "\\u00ff"}]}',
    ],
)
def test_wrong_shapes_raise(body: bytes) -> None:
    with pytest.raises(ResponseShapeError):
        parse_images_response(body)


def test_malformed_base64_is_a_value_error_on_decode() -> None:
    image = Image(b64_payload=b"not base64!")
    with pytest.raises(ValueError, match="malformed base64"):
        image.decode()
    with pytest.raises(ValueError, match="no b64_json"):
        Image(url="https://example.invalid/a.png").decode()


# Base64 a decoder must refuse: a character outside the alphabet, padding in the middle, a
# length that is not a multiple of four, non-ASCII bytes (as cut out of a UTF-8 body).
DAMAGED_PAYLOADS = [b"not base64!", b"QUJD=x", b"QUJ", "é".encode()]
PAYLOAD_HOLDERS: list[Callable[[bytes | None], Image | PartialImageEvent | CompletedImageEvent]] = [
    lambda payload: Image(b64_payload=payload),
    lambda payload: PartialImageEvent(type="image_edit.partial_image", b64_payload=payload),
    lambda payload: CompletedImageEvent(type="image_generation.completed", b64_payload=payload),
]


@pytest.mark.parametrize("holder", PAYLOAD_HOLDERS, ids=["Image", "partial", "completed"])
@pytest.mark.parametrize("payload", [*DAMAGED_PAYLOADS, None], ids=repr)
def test_decoding_a_missing_or_damaged_payload_is_an_image_decode_error(
    holder: Callable[[bytes | None], Image | PartialImageEvent | CompletedImageEvent],
    payload: bytes | None,
) -> None:
    with pytest.raises(ImageDecodeError) as caught:
        holder(payload).decode()
    assert isinstance(caught.value, ImagesError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.__cause__ is None  # binascii's error says nothing more
    assert ("no b64_json" if payload is None else "malformed base64") in str(caught.value)


def test_b64_json_of_a_damaged_payload_is_still_text() -> None:
    (image,) = parse_images_response('{"created": 1, "data": [{"b64_json": "éé"}]}'.encode()).data
    assert image.b64_json == "éé"
    with pytest.raises(ImageDecodeError):
        image.decode()


async def test_read_image_of_damaged_or_empty_images_is_an_image_decode_error(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(json={"created": 1, "data": [{"b64_json": "not base64!"}]}))
    (damaged,) = (await images.generate(prompt="p")).data
    for image in (damaged, Image(), Image(revised_prompt="p")):
        with pytest.raises(ImageDecodeError):
            await images.read_image(image)
    assert len(fake_api.requests) == 1  # nothing was fetched for the image without a URL


async def test_a_stream_event_with_a_damaged_payload_is_an_image_decode_error(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    events: list[dict[str, Any]] = [
        {"type": "image_generation.partial_image", "partial_image_index": 0, "b64_json": "!!"},
        {"type": "image_generation.completed", "b64_json": "QUJ"},
    ]
    fake_api.reply(Reply(events=events))
    async with await images.generate(prompt="p", model="gpt-image-1", stream=True) as stream:
        received = [event async for event in stream]
    assert len(received) == 2
    for event in received:
        assert isinstance(event, (PartialImageEvent, CompletedImageEvent))
        with pytest.raises(ImageDecodeError):
            event.decode()


def test_image_repr_hides_the_payload() -> None:
    image = Image(b64_payload=b"QUJD" * 1000, revised_prompt="p")
    assert "QUJD" not in repr(image)
    assert "4000 base64 chars" in repr(image)


# --- stream events -------------------------------------------------------------------------


def test_stream_events() -> None:
    payload = base64.b64encode(b"partial").decode()
    partial = parse_stream_event(
        body_of(
            {
                "type": "image_edit.partial_image",
                "partial_image_index": 2,
                "b64_json": payload,
                "size": "1024x1024",
                "brand_new": True,
            }
        )
    )
    completed = parse_stream_event(
        body_of(
            {
                "type": "image_generation.completed",
                "b64_json": payload,
                "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
            }
        )
    )

    assert isinstance(partial, PartialImageEvent)
    assert (partial.partial_image_index, partial.size) == (2, "1024x1024")
    assert partial.decode() == b"partial"
    assert isinstance(completed, CompletedImageEvent)
    assert completed.usage == Usage(input_tokens=1, output_tokens=1, total_tokens=2)


def test_unknown_stream_event_keeps_its_json() -> None:
    document: dict[str, object] = {
        "type": "image_generation.preview",
        "b64_json": "QUJD",
        "extra": [1, None],
    }

    event = parse_stream_event(body_of(document))

    assert event == UnknownStreamEvent(type="image_generation.preview", data=document)


@pytest.mark.parametrize("data", [b'{"no_type": 1}', b'{"type": 5}', b"[]", b"nope"])
def test_bad_stream_events_raise(data: bytes) -> None:
    with pytest.raises(ResponseShapeError):
        parse_stream_event(data)


# --- memory --------------------------------------------------------------------------------


def peak_memory(parse: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = parse()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def parse_naively(body: bytes) -> list[bytes]:
    document = json.loads(body)
    return [base64.b64decode(image["b64_json"]) for image in document["data"]]


def test_large_body_parses_in_little_memory(large_body: bytes) -> None:
    payload_size = 1_572_864

    ours = peak_memory(lambda: parse_images_response(large_body))
    naive = peak_memory(lambda: parse_naively(large_body))

    # Our path makes one copy of the payload (bytes sliced out of the body); json.loads
    # alone makes two (the decoded body text, then the string value).
    assert ours < 1.5 * payload_size, f"ours={ours} naive={naive} payload={payload_size}"
    print(f"peak memory: ours {ours / payload_size:.2f}x, json+base64 {naive / payload_size:.2f}x")


# --- round trip ----------------------------------------------------------------------------


def test_response_to_json_round_trips(large_body: bytes) -> None:
    body = body_of(
        {
            "created": 9,
            "data": [
                {"b64_json": "QUJD", "revised_prompt": "r", "unknown": 1},
                {"url": "https://files.example/1.png"},
            ],
            "size": "1024x1536",
            "quality": "low",
            "usage": {
                "input_tokens": 4,
                "output_tokens": 5,
                "total_tokens": 9,
                "output_tokens_details": {"image_tokens": 5, "text_tokens": 0},
            },
        }
    )
    response = parse_images_response(body)

    document = response_to_json(response)

    assert document == {
        "created": 9,
        "data": [
            {"b64_json": "QUJD", "revised_prompt": "r"},
            {"url": "https://files.example/1.png"},
        ],
        "size": "1024x1536",
        "quality": "low",
        "usage": {
            "input_tokens": 4,
            "output_tokens": 5,
            "total_tokens": 9,
            "output_tokens_details": {"image_tokens": 5, "text_tokens": 0},
        },
    }
    assert parse_images_response(json.dumps(document).encode()) == response
    large = parse_images_response(large_body)
    assert parse_images_response(json.dumps(response_to_json(large)).encode()) == large


def test_models_are_frozen_and_keyword_only() -> None:
    response = ImagesResponse(created=1)
    with pytest.raises(AttributeError):
        response.created = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Image("https://example.invalid")  # type: ignore[call-arg]
