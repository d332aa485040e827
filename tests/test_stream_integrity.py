"""A ``stream=True`` call never ends quietly without its image, against loopback servers.

A plain JSON answer (a proxy dropped ``stream``) is replayed as completed events; a stream
that ends before its ``*.completed`` event, and an ``error`` event, raise typed errors.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from plugins.api_server import TINY_PNG, FakeImagesAPI, Reply, images_body, serving, stream_events
from plugins.leaks import acquired_connections

from images_async import (
    APIError,
    APIResponseValidationError,
    APIStreamError,
    AsyncImages,
    CompletedImageEvent,
    ImageEventStream,
    ImagesResponse,
    IncompleteStreamError,
    PartialImageEvent,
)

GPT = "gpt-image-1"
UPLOAD = ("input.png", TINY_PNG, "image/png")


class JSONOnlyAPI:
    """Answers every call with a plain JSON body, as if ``stream`` had been dropped."""

    def __init__(self) -> None:
        self.body: dict[str, Any] = {}
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(self.body, headers={"x-request-id": "req_json"})


@pytest.fixture
async def json_api() -> AsyncIterator[JSONOnlyAPI]:
    api = JSONOnlyAPI()
    app = web.Application()
    app.router.add_post("/v1/images/{endpoint}", api.handle)
    async with serving(app) as root:
        api.url = f"{root}/v1"
        yield api


@pytest.fixture
async def json_images(json_api: JSONOnlyAPI) -> AsyncIterator[AsyncImages]:
    async with AsyncImages(api_key="sk-test", base_url=json_api.url, max_retries=0) as images:
        yield images


async def collect_into(stream: ImageEventStream, seen: list[Any]) -> None:
    """Iterate to the end (or the error), keeping what came before."""
    async with stream:
        async for event in stream:
            seen.append(event)


async def stream_of(images: AsyncImages, endpoint: str) -> list[Any]:
    if endpoint == "generate":
        stream = await images.generate(prompt="p", model=GPT, stream=True)
    else:
        stream = await images.edit(image=UPLOAD, prompt="p", model=GPT, stream=True)
    async with stream:
        return [event async for event in stream]


# --- a JSON answer to stream=True ----------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "kind"), [("generate", "image_generation"), ("edit", "image_edit")]
)
async def test_a_json_answer_is_replayed_as_completed_events(
    json_api: JSONOnlyAPI, json_images: AsyncImages, endpoint: str, kind: str
) -> None:
    json_api.body = images_body({"n": 2}, "")

    events = await stream_of(json_images, endpoint)

    assert [type(event) for event in events] == [CompletedImageEvent, CompletedImageEvent]
    assert all(event.type == f"{kind}.completed" for event in events)
    assert all(event.decode() == TINY_PNG for event in events)
    assert all(event.created_at == json_api.body["created"] for event in events)
    assert all((event.size, event.output_format) == ("1024x1024", "png") for event in events)
    assert all(event.usage is not None and event.usage.total_tokens == 30 for event in events)
    assert acquired_connections(json_images) == 0


async def test_a_json_answer_in_streaming_and_raw_modes(
    json_api: JSONOnlyAPI, json_images: AsyncImages
) -> None:
    json_api.body = images_body({}, "")

    async with json_images.with_streaming_response.generate(
        prompt="p", model=GPT, stream=True
    ) as response:
        streamed = [event async for event in response.iter_events()]
    raw = await json_images.with_raw_response.generate(prompt="p", model=GPT, stream=True)

    assert [type(event) for event in streamed] == [CompletedImageEvent]
    assert [type(event) for event in raw.events()] == [CompletedImageEvent]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"created": 1, "data": []}, id="no-images"),
        pytest.param({"created": 1, "data": [{"url": "https://x.test/a.png"}]}, id="url-image"),
    ],
)
async def test_a_json_answer_without_inline_images_raises_with_the_response(
    json_api: JSONOnlyAPI, json_images: AsyncImages, body: dict[str, Any]
) -> None:
    json_api.body = body

    with pytest.raises(IncompleteStreamError) as caught:
        await stream_of(json_images, "generate")

    error = caught.value
    assert isinstance(error, APIResponseValidationError)
    assert isinstance(error.response, ImagesResponse)
    assert [image.url for image in error.response.data] == [i["url"] for i in body["data"]]
    assert error.request_id == "req_json"
    assert "stream" in str(error)


async def test_a_json_answer_that_is_no_images_body_is_a_validation_error(
    json_api: JSONOnlyAPI, json_images: AsyncImages
) -> None:
    json_api.body = {"unexpected": True}

    with pytest.raises(APIResponseValidationError):
        await stream_of(json_images, "generate")


# --- an event stream that ends too early ---------------------------------------------------


def partials_only() -> list[dict[str, Any]]:
    return stream_events("image_generation", 2)[:-1]


async def test_a_stream_without_its_completed_event_raises_at_the_end(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(events=partials_only()))
    seen: list[Any] = []

    stream = await images.generate(prompt="p", model=GPT, stream=True, partial_images=2)
    with pytest.raises(IncompleteStreamError, match="completed") as caught:
        await collect_into(stream, seen)

    assert [type(event) for event in seen] == [PartialImageEvent, PartialImageEvent]
    assert caught.value.response is None
    assert caught.value.request_id == "req_1"
    assert acquired_connections(images) == 0


@pytest.mark.parametrize("events", [[], [{"type": "image_generation.thinking"}]])
async def test_a_stream_with_no_image_at_all_raises(
    images: AsyncImages, fake_api: FakeImagesAPI, events: list[dict[str, Any]]
) -> None:
    fake_api.reply(Reply(events=events))

    with pytest.raises(IncompleteStreamError):
        await stream_of(images, "generate")


async def test_an_incomplete_stream_raises_in_streaming_and_raw_modes(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(events=partials_only()), Reply(events=partials_only()))

    async with images.with_streaming_response.generate(
        prompt="p", model=GPT, stream=True
    ) as response:
        with pytest.raises(IncompleteStreamError):
            async for _event in response.iter_events():
                pass
    raw = await images.with_raw_response.generate(prompt="p", model=GPT, stream=True)
    with pytest.raises(IncompleteStreamError):
        raw.events()


async def test_a_non_event_body_is_no_silent_success(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(
        Reply(body=b"<html>gateway says hi</html>", headers={"Content-Type": "text/html"})
    )

    async with images.with_streaming_response.generate(prompt="p", model=GPT) as response:
        with pytest.raises(IncompleteStreamError):
            async for _event in response.iter_events():
                pass


# --- error events --------------------------------------------------------------------------


NESTED = {
    "type": "error",
    "error": {
        "type": "server_error",
        "code": "image_generation_failed",
        "message": "The image could not be generated.",
        "param": "prompt",
    },
}
FLAT = {  # the shape of the Responses API's error event
    "type": "error",
    "code": "image_generation_failed",
    "message": "The image could not be generated.",
    "param": "prompt",
    "sequence_number": 3,
}


def error_frames() -> list[Any]:
    return [
        pytest.param(NESTED, "server_error", id="nested"),
        pytest.param(FLAT, "error", id="flat"),
    ]


@pytest.mark.parametrize(("event", "error_type"), error_frames())
async def test_an_error_event_raises_an_api_error(
    images: AsyncImages, fake_api: FakeImagesAPI, event: dict[str, Any], error_type: str
) -> None:
    partial = stream_events("image_generation", 1)[0]
    fake_api.reply(Reply(events=[partial, event]))
    seen: list[Any] = []

    stream = await images.generate(prompt="p", model=GPT, stream=True, partial_images=1)
    with pytest.raises(APIError) as caught:
        await collect_into(stream, seen)

    error = caught.value
    assert isinstance(error, APIStreamError)
    assert not isinstance(error, APIResponseValidationError)
    assert error.message == "The image could not be generated."
    assert (error.code, error.param, error.type) == (
        "image_generation_failed",
        "prompt",
        error_type,
    )
    assert error.request_id == "req_1"
    assert "image_generation_failed" in str(error)
    assert [type(item) for item in seen] == [PartialImageEvent]
    assert acquired_connections(images) == 0


async def test_an_error_frame_named_by_its_event_field(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    # "event: error" with data that has no type at all: the SSE event name says it.
    frame = f"event: error\ndata: {json.dumps({'error': NESTED['error']})}\n\n".encode()
    fake_api.reply(Reply(body=frame, headers={"Content-Type": "text/event-stream"}))

    async with images.with_streaming_response.generate(prompt="p", model=GPT) as response:
        with pytest.raises(APIStreamError) as caught:
            async for _event in response.iter_events():
                pass

    assert caught.value.code == "image_generation_failed"


async def test_an_error_event_raises_in_raw_mode(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(events=[FLAT]))

    raw = await images.with_raw_response.generate(prompt="p", model=GPT, stream=True)

    with pytest.raises(APIStreamError, match="could not be generated"):
        raw.events()
