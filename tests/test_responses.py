"""Response modes against the loopback API: parsed, raw, streaming, and image event streams."""

from __future__ import annotations

import base64
import datetime
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from plugins.api_server import API_KEY, TINY_PNG, FakeImagesAPI, Reply, stream_events
from plugins.leaks import acquired_connections

from images_async import (
    APIResponseValidationError,
    APITimeoutError,
    AsyncImages,
    CompletedImageEvent,
    Image,
    ImageEventStream,
    ImagesResponse,
    InvalidRequestError,
    NotFoundError,
    PartialImageEvent,
    RawResponse,
    StreamedResponse,
    Timeout,
    UnknownStreamEvent,
)

UPLOAD = ("input.png", TINY_PNG, "image/png")
GPT = "gpt-image-1"


async def call_endpoint(images: AsyncImages, endpoint: str, *, n: int) -> ImagesResponse:
    if endpoint == "generate":
        return await images.generate(prompt="a red square", n=n)
    if endpoint == "edit":
        return await images.edit(image=UPLOAD, prompt="make it blue", model=GPT, n=n)
    return await images.create_variation(image=UPLOAD, model="dall-e-2", n=n)


def file_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


ENDPOINT_PATHS = {
    "generate": "/v1/images/generations",
    "edit": "/v1/images/edits",
    "create_variation": "/v1/images/variations",
}
ENDPOINTS = list(ENDPOINT_PATHS)


# --- parsed mode ---------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_parsed_response_has_every_field(
    images: AsyncImages, fake_api: FakeImagesAPI, endpoint: str
) -> None:
    before = int(time.time())
    response = await call_endpoint(images, endpoint, n=2)

    assert fake_api.last.path == ENDPOINT_PATHS[endpoint]
    assert isinstance(response, ImagesResponse)
    assert before <= response.created <= int(time.time())
    assert (response.size, response.quality) == ("1024x1024", "high")
    assert (response.output_format, response.background) == ("png", "opaque")
    assert len(response.data) == 2
    for image in response.data:
        assert image.url is None
        assert image.revised_prompt == "a revised prompt"
        assert image.b64_payload == base64.b64encode(TINY_PNG)
        assert image.b64_json == base64.b64encode(TINY_PNG).decode()
        assert image.decode() == TINY_PNG
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (10, 20, 30)
    assert usage.input_tokens_details is not None
    assert usage.input_tokens_details.text_tokens == 10
    assert usage.input_tokens_details.image_tokens == 0
    assert usage.output_tokens_details is None


async def test_output_token_details_and_revised_prompt(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    body = {
        "created": 1_700_000_000,
        "data": [{"b64_json": base64.b64encode(b"x").decode(), "revised_prompt": "a cat, oil"}],
        "usage": {
            "input_tokens": 1,
            "output_tokens": 2,
            "total_tokens": 3,
            "input_tokens_details": {"text_tokens": 1, "image_tokens": 0},
            "output_tokens_details": {"text_tokens": 0, "image_tokens": 2},
        },
    }
    fake_api.reply(Reply(json=body))

    response = await images.generate(prompt="a cat", model="dall-e-3")

    assert response.created == 1_700_000_000
    assert response.data[0].revised_prompt == "a cat, oil"
    assert response.usage is not None
    assert response.usage.output_tokens_details is not None
    assert response.usage.output_tokens_details.image_tokens == 2
    assert response.size is None  # absent from the body


async def test_url_images(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    response = await images.generate(prompt="p", model="dall-e-2", response_format="url", n=2)

    assert [image.url for image in response.data] == [
        f"{fake_api.base_url}/files/image-{i}.png" for i in range(2)
    ]
    assert all(image.b64_payload is None and image.b64_json is None for image in response.data)
    with pytest.raises(ValueError, match="no b64_json"):
        response.data[0].decode()


# --- read_image / save_image ---------------------------------------------------------------


async def test_read_image_inline(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    response = await images.generate(prompt="p")

    assert await images.read_image(response.data[0]) == TINY_PNG
    assert len(fake_api.requests) == 1  # decoded locally: nothing was downloaded


async def test_read_image_from_url_sends_no_credentials(fake_api: FakeImagesAPI) -> None:
    async with AsyncImages(
        api_key=API_KEY,
        base_url=f"{fake_api.base_url}/v1",
        organization="org-secret",
        project="proj-secret",
        max_retries=0,
    ) as images:
        response = await images.generate(prompt="p", model="dall-e-2", response_format="url")
        assert fake_api.last.headers["Authorization"] == f"Bearer {API_KEY}"

        content = await images.read_image(response.data[0])

    assert content == TINY_PNG
    download = fake_api.last
    assert (download.method, download.path) == ("GET", "/files/image-0.png")
    for header in ("Authorization", "OpenAI-Organization", "OpenAI-Project", "Idempotency-Key"):
        assert header not in download.headers
    assert all(API_KEY not in value for value in download.headers.values())


async def test_read_image_missing_url_raises_status_error(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await images.read_image(Image(url=f"{fake_api.base_url}/files/missing.png"))
    assert caught.value.status_code == 404


async def test_read_image_without_content_raises(images: AsyncImages) -> None:
    with pytest.raises(ValueError, match="neither"):
        await images.read_image(Image(revised_prompt="only text"))


@pytest.mark.parametrize("response_format", ["b64_json", "url"])
async def test_save_image_writes_exact_bytes(
    images: AsyncImages, tmp_path: Path, response_format: str
) -> None:
    response = await images.generate(prompt="p", model="dall-e-2", response_format=response_format)
    target = tmp_path / "out.png"
    target.write_bytes(b"an older file")

    saved = await images.save_image(response.data[0], target)

    assert saved == target
    assert target.read_bytes() == TINY_PNG
    assert file_names(tmp_path) == ["out.png"]  # no temporary left behind


async def test_save_image_failure_keeps_old_file(
    images: AsyncImages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = await images.generate(prompt="p")
    target = tmp_path / "out.png"
    target.write_bytes(b"an older file")

    def refuse(source: object, destination: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        await images.save_image(response.data[0], str(target))

    assert target.read_bytes() == b"an older file"
    assert file_names(tmp_path) == ["out.png"]


# --- raw mode ------------------------------------------------------------------------------


def check_raw(raw: RawResponse, fake_api: FakeImagesAPI) -> None:
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 200
    assert raw.request_id == f"req_{len(fake_api.requests)}"
    assert raw.headers["X-Request-ID"] == raw.headers["x-request-id"] == raw.request_id
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.headers["Content-Type"] == raw.headers["CONTENT-TYPE"]
    assert raw.elapsed > datetime.timedelta(0)
    assert raw.retries_taken == 0
    assert raw.content_type == "application/json"
    document = json.loads(raw.content)
    assert raw.json() == document
    parsed = raw.parse()
    assert parsed.created == document["created"]
    assert [image.b64_json for image in parsed.data] == [i["b64_json"] for i in document["data"]]
    assert parsed.data[0].decode() == TINY_PNG


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_raw_response_awaited(
    images: AsyncImages, fake_api: FakeImagesAPI, endpoint: str
) -> None:
    raw_images = images.with_raw_response
    if endpoint == "generate":
        raw = await raw_images.generate(prompt="p")
    elif endpoint == "edit":
        raw = await raw_images.edit(image=UPLOAD, prompt="p", model=GPT)
    else:
        raw = await raw_images.create_variation(image=UPLOAD)

    assert fake_api.last.path == ENDPOINT_PATHS[endpoint]
    check_raw(raw, fake_api)
    assert acquired_connections(images) == 0


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_raw_response_as_context_manager(
    images: AsyncImages, fake_api: FakeImagesAPI, endpoint: str
) -> None:
    raw_images = images.with_raw_response
    if endpoint == "generate":
        context = raw_images.generate(prompt="p")
    elif endpoint == "edit":
        context = raw_images.edit(image=UPLOAD, prompt="p", model=GPT)
    else:
        context = raw_images.create_variation(image=UPLOAD)

    async with context as raw:
        check_raw(raw, fake_api)
    assert fake_api.last.path == ENDPOINT_PATHS[endpoint]
    assert acquired_connections(images) == 0


async def test_raw_response_keeps_custom_headers(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(headers={"X-Ratelimit-Remaining-Requests": "41"}))

    raw = await images.with_raw_response.generate(prompt="p")

    assert raw.headers["x-ratelimit-remaining-requests"] == "41"
    assert "41" in raw.headers.getall("X-RATELIMIT-REMAINING-REQUESTS")
    assert "req_1" in repr(raw)


async def test_raw_response_events(images: AsyncImages) -> None:
    raw = await images.with_raw_response.generate(
        prompt="p", model=GPT, stream=True, partial_images=2
    )

    assert raw.content_type == "text/event-stream"
    events = raw.events()
    assert [type(event) for event in events] == [
        PartialImageEvent,
        PartialImageEvent,
        CompletedImageEvent,
    ]
    partials = [event for event in events if isinstance(event, PartialImageEvent)]
    assert [event.partial_image_index for event in partials] == [0, 1]
    assert all(event.decode() == TINY_PNG for event in partials)


# --- streaming mode ------------------------------------------------------------------------


async def test_streaming_iter_bytes(images: AsyncImages) -> None:
    async with images.with_streaming_response.generate(prompt="p") as response:
        assert response.status_code == 200
        assert response.request_id == "req_1"
        assert response.headers["CONTENT-TYPE"].startswith("application/json")
        chunks = [chunk async for chunk in response.iter_bytes()]
        assert acquired_connections(images) == 0  # released as soon as the body ended

    document = json.loads(b"".join(chunks))
    assert base64.b64decode(document["data"][0]["b64_json"]) == TINY_PNG


async def test_streaming_iter_bytes_with_chunk_size(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    events = stream_events("image_generation", 2)
    # A pause after every event makes the network deliver the body in uneven pieces.
    fake_api.reply(Reply(events=events, chunk_delay=0.02))

    async with images.with_streaming_response.generate(
        prompt="p", model=GPT, stream=True, partial_images=2
    ) as response:
        chunks = [chunk async for chunk in response.iter_bytes(chunk_size=7)]

    assert len(chunks) > 1
    assert all(len(chunk) == 7 for chunk in chunks[:-1])
    assert 1 <= len(chunks[-1]) <= 7
    body = b"".join(chunks)
    assert body.count(b"data: ") == len(events)


async def test_streaming_iter_lines(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    fake_api.reply(Reply(body=b"first\r\nsecond\n\nthird"))

    async with images.with_streaming_response.create_variation(image=UPLOAD) as response:
        lines = [line async for line in response.iter_lines()]

    assert lines == ["first", "second", "", "third"]


async def test_streaming_iter_lines_of_events(images: AsyncImages) -> None:
    async with images.with_streaming_response.edit(
        image=UPLOAD, prompt="p", model=GPT, stream=True, partial_images=1
    ) as response:
        lines = [line async for line in response.iter_lines()]

    assert lines[0] == "event: image_edit.partial_image"
    assert json.loads(lines[1].removeprefix("data: "))["partial_image_index"] == 0
    assert lines[2] == ""
    assert lines[3] == "event: image_edit.completed"


async def test_streaming_iter_text_decodes_split_characters(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    text = "déjà vu — 画像 🖼"
    fake_api.reply(Reply(body=text.encode()))

    async with images.with_streaming_response.generate(prompt="p") as response:
        # One byte at a time splits every multi-byte character.
        pieces = [piece async for piece in response.iter_text(chunk_size=1)]

    assert "".join(pieces) == text
    assert "\ufffd" not in "".join(pieces)


async def test_streaming_read_and_parse(images: AsyncImages) -> None:
    async with images.with_streaming_response.generate(prompt="p", n=2) as response:
        content = await response.read()
    assert len(json.loads(content)["data"]) == 2

    async with images.with_streaming_response.edit(image=UPLOAD, prompt="p") as response:
        parsed = await response.parse()
    assert parsed.data[0].decode() == TINY_PNG
    assert acquired_connections(images) == 0


async def read_again(response: StreamedResponse, how: str) -> None:
    if how == "read":
        await response.read()
    elif how == "parse":
        await response.parse()
    else:
        async for _ in response.iter_lines():
            pass


@pytest.mark.parametrize("second", ["read", "iter_lines", "parse"])
async def test_streaming_body_can_only_be_read_once(images: AsyncImages, second: str) -> None:
    async with images.with_streaming_response.generate(prompt="p") as response:
        await response.read()
        with pytest.raises(RuntimeError, match="only be read once"):
            await read_again(response, second)


async def test_streaming_body_is_not_read_eagerly(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    delay = 0.4
    fake_api.reply(Reply(events=stream_events("image_generation", 1), chunk_delay=delay))
    started = time.monotonic()

    async with images.with_streaming_response.generate(
        prompt="p", model=GPT, stream=True, partial_images=1
    ) as response:
        entered = time.monotonic() - started
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        first_line = await anext(aiter(response.iter_lines()))
        assert first_line == "event: image_generation.partial_image"
        assert acquired_connections(images) == 1

    # The server pauses after each of its two events; the headers came before either pause.
    assert entered < delay
    assert acquired_connections(images) == 0


async def test_streaming_body_finishes_after_the_headers(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    delay = 0.3
    fake_api.reply(Reply(events=stream_events("image_generation", 1), chunk_delay=delay))
    started = time.monotonic()

    async with images.with_streaming_response.generate(
        prompt="p", model=GPT, stream=True, partial_images=1
    ) as response:
        entered = time.monotonic() - started
        events = [event async for event in response.iter_events()]
        finished = time.monotonic() - started

    assert [type(event) for event in events] == [PartialImageEvent, CompletedImageEvent]
    assert entered < delay <= finished - entered + 0.05


async def test_streaming_releases_connection_without_reading(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(events=stream_events("image_generation", 1), chunk_delay=0.1))

    async with images.with_streaming_response.generate(
        prompt="p", model=GPT, stream=True, partial_images=1
    ) as response:
        assert acquired_connections(images) == 1
        assert response.status_code == 200
    assert acquired_connections(images) == 0


async def test_streaming_releases_connection_after_break(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(body=b"line\n" * 400_000))  # 2 MB: more than the socket buffers

    async with images.with_streaming_response.generate(prompt="p") as response:
        async for line in response.iter_lines():
            assert line == "line"
            break
        assert acquired_connections(images) == 1
    assert acquired_connections(images) == 0

    # The pool still works afterwards.
    assert (await images.generate(prompt="p")).data


async def test_streaming_releases_connection_after_exception(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(events=stream_events("image_generation", 2), chunk_delay=0.1))

    held: list[int] = []

    async def fail_while_reading() -> None:
        async with images.with_streaming_response.generate(
            prompt="p", model=GPT, stream=True, partial_images=2
        ) as response:
            async for _ in response.iter_bytes(chunk_size=16):
                held.append(acquired_connections(images))
                raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        await fail_while_reading()
    assert held == [1]
    assert acquired_connections(images) == 0


async def test_too_large_body_releases_connection_at_once(fake_api: FakeImagesAPI) -> None:
    fake_api.reply(Reply(body=b"x" * 3_000_000))
    async with AsyncImages(
        api_key=API_KEY,
        base_url=f"{fake_api.base_url}/v1",
        max_retries=0,
        max_response_bytes=100_000,
    ) as images:
        with pytest.raises(APIResponseValidationError, match="max_response_bytes"):
            await images.generate(prompt="p")
        assert acquired_connections(images) == 0


async def test_timeout_mid_body_releases_connection_at_once(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(events=stream_events("image_generation", 2), chunk_delay=0.5))

    with pytest.raises(APITimeoutError):
        await images.with_raw_response.generate(
            prompt="p", model=GPT, stream=True, partial_images=2, timeout=Timeout(read=0.1)
        )
    assert acquired_connections(images) == 0


async def test_streaming_repr(images: AsyncImages) -> None:
    async with images.with_streaming_response.create_variation(image=UPLOAD) as response:
        assert repr(response) == "<StreamedResponse status_code=200 request_id='req_1'>"
        assert response.elapsed > datetime.timedelta(0)


# --- stream=True: image events -------------------------------------------------------------


async def collect(stream: ImageEventStream) -> list[Any]:
    return [event async for event in stream]


@pytest.mark.parametrize("endpoint", ["generate", "edit"])
async def test_image_event_stream(
    images: AsyncImages, fake_api: FakeImagesAPI, endpoint: str
) -> None:
    if endpoint == "generate":
        stream = await images.generate(prompt="p", model=GPT, stream=True, partial_images=2)
        kind = "image_generation"
    else:
        stream = await images.edit(
            image=UPLOAD, prompt="p", model=GPT, stream=True, partial_images=2
        )
        kind = "image_edit"
    assert isinstance(stream, ImageEventStream)
    assert fake_api.last.headers["Accept"] == "text/event-stream"
    assert str(fake_api.last.params["stream"]).lower() == "true"
    assert stream.response.status_code == 200

    async with stream:
        events = await collect(stream)

    *partials, completed = events
    assert [type(event) for event in partials] == [PartialImageEvent, PartialImageEvent]
    assert [event.partial_image_index for event in partials] == [0, 1]
    assert all(event.type == f"{kind}.partial_image" for event in partials)
    assert all(event.decode() == TINY_PNG for event in partials)
    assert isinstance(completed, CompletedImageEvent)
    assert completed.type == f"{kind}.completed"
    assert completed.decode() == TINY_PNG
    assert completed.decode().startswith(b"\x89PNG\r\n\x1a\n")
    assert (completed.size, completed.output_format) == ("1024x1024", "png")
    assert completed.usage is not None
    assert (completed.usage.input_tokens, completed.usage.total_tokens) == (5, 12)
    assert acquired_connections(images) == 0


async def test_unknown_event_type(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    novel = {"type": "image_generation.thinking", "progress": 0.5, "note": {"k": [1, 2]}}
    fake_api.reply(Reply(events=[novel, *stream_events("image_generation", 0)]))

    stream = await images.generate(prompt="p", model=GPT, stream=True)
    async with stream:
        first, last = await collect(stream)

    assert isinstance(first, UnknownStreamEvent)
    assert first.type == "image_generation.thinking"
    assert first.data == novel
    assert isinstance(last, CompletedImageEvent)


async def test_event_stream_break_and_aclose_release_connection(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(events=stream_events("image_generation", 3), chunk_delay=0.1))

    stream = await images.generate(prompt="p", model=GPT, stream=True, partial_images=3)
    async for event in stream:
        assert isinstance(event, PartialImageEvent)
        break
    assert acquired_connections(images) == 1
    await stream.aclose()
    assert acquired_connections(images) == 0


async def test_event_stream_context_manager_releases_on_early_exit(
    images: AsyncImages,
) -> None:
    stream = await images.generate(prompt="p", model=GPT, stream=True, partial_images=2)
    async with stream:
        event = await anext(aiter(stream))
        assert isinstance(event, PartialImageEvent)
    assert acquired_connections(images) == 0


async def test_event_stream_aclose_before_iterating(images: AsyncImages) -> None:
    stream = await images.generate(prompt="p", model=GPT, stream=True)
    await stream.aclose()
    assert acquired_connections(images) == 0


async def test_streaming_response_iter_events(images: AsyncImages) -> None:
    async with images.with_streaming_response.generate(
        prompt="p", model=GPT, stream=True, partial_images=1
    ) as response:
        events: AsyncIterator[Any] = response.iter_events()
        kinds = [type(event) async for event in events]
    assert kinds == [PartialImageEvent, CompletedImageEvent]


async def test_saved_images_get_the_mode_open_would_give(
    images: AsyncImages, tmp_path: Path
) -> None:
    response = await images.generate(prompt="p")
    previous = os.umask(0o022)
    try:
        saved = await images.save_image(response.data[0], tmp_path / "out.png")
    finally:
        os.umask(previous)
    assert saved.stat().st_mode & 0o777 == 0o644


async def test_raw_events_with_a_bad_event_raise_a_validation_error(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(
        Reply(events=[{"type": "image_generation.partial_image", "partial_image_index": "x"}])
    )
    raw = await images.with_raw_response.generate(prompt="p", model="gpt-image-1", stream=True)
    with pytest.raises(APIResponseValidationError, match="stream event"):
        raw.events()


async def test_bad_call_options_are_refused_before_sending(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    with pytest.raises(InvalidRequestError) as retries:
        await images.generate(prompt="p", max_retries="2")  # type: ignore[call-overload]
    assert retries.value.param == "max_retries"
    with pytest.raises(InvalidRequestError) as timeout:
        await images.generate(prompt="p", timeout=-1)
    assert timeout.value.param == "timeout"
    # A client option: refused as a ValueError (its exact class belongs to the options).
    with pytest.raises(ValueError, match="timeout"):
        AsyncImages(api_key=API_KEY, timeout="ten")  # type: ignore[arg-type]
    assert fake_api.requests == []


async def test_closing_a_with_options_client_leaves_its_parent_open(
    images: AsyncImages,
) -> None:
    async with images.with_options(max_retries=1) as derived:
        await derived.generate(prompt="p")
    assert not images.is_closed
    assert (await images.generate(prompt="p")).data
