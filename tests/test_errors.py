"""Errors against the loopback API: status mapping, bad bodies, network failures, retries."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from aiohttp import web
from plugins.api_server import (
    API_KEY,
    TINY_PNG,
    FakeImagesAPI,
    Reply,
    serving,
    stream_events,
)

from images_async import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncImages,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    Image,
    ImagesError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    Timeout,
    UnprocessableEntityError,
)

ERROR_BODY = {
    "error": {
        "message": "Invalid value for 'size': '7x7'.",
        "type": "invalid_request_error",
        "param": "size",
        "code": "invalid_size",
    }
}


def error_reply(status: int, *, code: str = "invalid_size", **headers: str) -> Reply:
    body = {"error": {**ERROR_BODY["error"], "code": code}}
    return Reply(status=status, json=body, headers=headers)


#: Retry at once (no retries unless a call asks): the schedule is tested without a server.
NO_BACKOFF = RetryPolicy(max_retries=0, initial_delay=0.0, max_delay=0.0)


@pytest.fixture
def quick(images: AsyncImages) -> AsyncImages:
    """``images`` retrying at once when a call asks for retries."""
    return images.with_options(retry_policy=NO_BACKOFF)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- status codes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
async def test_status_maps_to_error_class(
    images: AsyncImages, fake_api: FakeImagesAPI, status: int, error_class: type[APIStatusError]
) -> None:
    fake_api.reply(
        Reply(
            status=status,
            json=ERROR_BODY,
            headers={"x-request-id": "req_abc123", "X-Extra": "kept"},
        )
    )

    with pytest.raises(APIStatusError) as caught:
        await images.generate(prompt="p")

    error = caught.value
    assert type(error) is error_class
    assert isinstance(error, APIError)
    assert isinstance(error, ImagesError)
    assert error.status_code == status
    assert error.request_id == "req_abc123"
    assert error.headers["x-extra"] == "kept"
    assert error.headers["X-EXTRA"] == "kept"
    assert error.body == ERROR_BODY
    assert error.message == "Invalid value for 'size': '7x7'."
    assert (error.code, error.param, error.type) == (
        "invalid_size",
        "size",
        "invalid_request_error",
    )
    assert error.retries_taken == 0
    text = str(error)
    assert "\n" not in text
    assert text.startswith(str(status))
    assert "Invalid value for 'size': '7x7'." in text
    assert "req_abc123" in text
    assert len(fake_api.requests) == 1


async def test_multi_line_api_message_still_gives_one_line(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(status=400, json={"error": {"message": "first line\nsecond line"}}))

    with pytest.raises(BadRequestError) as caught:
        await images.generate(prompt="p")

    assert str(caught.value) == "400 first line second line request_id=req_1"
    assert caught.value.message == "first line\nsecond line"  # kept as the API sent it


async def test_non_json_error_body(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    fake_api.reply(
        Reply(status=502, body=b"<html>bad gateway</html>", headers={"Content-Type": "text/html"})
    )

    with pytest.raises(InternalServerError) as caught:
        await images.generate(prompt="p")

    error = caught.value
    assert error.status_code == 502
    assert error.body == "<html>bad gateway</html>"
    assert (error.code, error.param, error.type) == (None, None, None)
    assert error.request_id == "req_1"
    assert str(error) == "502 Bad Gateway request_id=req_1"


async def test_error_body_without_error_object(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(status=404, json=["not", "an", "object"]))

    with pytest.raises(NotFoundError) as caught:
        await images.generate(prompt="p")

    assert caught.value.body == ["not", "an", "object"]
    assert caught.value.code is None
    assert str(caught.value) == "404 Not Found request_id=req_1"


async def test_status_error_in_streaming_mode(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    fake_api.reply(error_reply(400))

    with pytest.raises(BadRequestError):
        async with images.with_streaming_response.generate(prompt="p"):
            pytest.fail("the block must not run for an error status")


# --- 2xx bodies of the wrong shape ---------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": []}',
        b"this is not json",
        b'{"created": 1, "data": {}}',
        b'{"created": 1, "data": "abc"}',
        b'{"created": 1, "data": [1, 2]}',
        b'{"created": 1, "data": [{"b64_json": 5}]}',
        b'{"created": "yesterday", "data": []}',
        b"[]",
        b"",
    ],
    ids=[
        "missing-created",
        "not-json",
        "data-object",
        "data-string",
        "data-items-not-objects",
        "b64-not-text",
        "created-not-int",
        "not-an-object",
        "empty",
    ],
)
async def test_wrong_shape_is_a_validation_error(
    images: AsyncImages, fake_api: FakeImagesAPI, body: bytes
) -> None:
    fake_api.reply(Reply(body=body, headers={"Content-Type": "application/json"}))

    with pytest.raises(APIResponseValidationError) as caught:
        await images.generate(prompt="p")

    error = caught.value
    assert isinstance(error, APIError)
    assert error.status_code == 200
    assert error.body == body
    assert str(error).startswith("unexpected response body")
    assert "\n" not in str(error)


async def test_wrong_shape_in_raw_mode_raises_on_parse(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(body=b'{"data": []}'))

    raw = await images.with_raw_response.generate(prompt="p")

    assert raw.status_code == 200
    with pytest.raises(APIResponseValidationError, match="created"):
        raw.parse()


async def test_bad_stream_event_is_a_validation_error(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(events=[{"type": "image_generation.completed", "usage": "lots"}]))

    stream = await images.generate(prompt="p", model="gpt-image-1", stream=True)
    async with stream:
        with pytest.raises(APIResponseValidationError, match="usage"):
            await anext(aiter(stream))


# --- network failures ----------------------------------------------------------------------


async def test_connection_refused(closed_port: int) -> None:
    async with AsyncImages(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{closed_port}/v1", max_retries=0
    ) as images:
        with pytest.raises(APIConnectionError) as caught:
            await images.generate(prompt="p")

    error = caught.value
    assert not isinstance(error, aiohttp.ClientError)
    assert not isinstance(error, APITimeoutError)
    assert str(error).startswith("connection error")
    assert isinstance(error.__cause__, aiohttp.ClientError)  # kept for debugging


async def test_connection_refused_is_retried(closed_port: int) -> None:
    async with AsyncImages(
        api_key=API_KEY,
        base_url=f"http://127.0.0.1:{closed_port}/v1",
        retry_policy=NO_BACKOFF,
        max_retries=2,
    ) as images:
        with pytest.raises(APIConnectionError) as caught:
            await images.generate(prompt="p")
    assert caught.value.retries_taken == 2


async def test_timeout_waiting_for_headers(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    fake_api.reply(Reply(delay=0.6))

    with pytest.raises(APITimeoutError) as caught:
        await images.generate(prompt="p", timeout=0.2)

    error = caught.value
    assert isinstance(error, TimeoutError)
    assert isinstance(error, asyncio.TimeoutError)
    assert isinstance(error, APIConnectionError)
    assert not isinstance(error, aiohttp.ClientError)
    assert "timed out" in str(error)


async def test_structured_read_timeout(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    fake_api.reply(Reply(delay=0.6))

    with pytest.raises(TimeoutError) as caught:
        await images.with_options(timeout=Timeout(total=None, read=0.2)).generate(prompt="p")

    assert isinstance(caught.value, APITimeoutError)


async def test_read_timeout_in_the_middle_of_a_stream(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(events=stream_events("image_generation", 2), chunk_delay=0.6))

    stream = await images.generate(
        prompt="p",
        model="gpt-image-1",
        stream=True,
        partial_images=2,
        timeout=Timeout(total=None, read=0.2),
    )
    async with stream:
        first = await anext(aiter(stream))
        assert first.type == "image_generation.partial_image"
        with pytest.raises(APITimeoutError) as caught:
            await anext(aiter(stream))
    assert_timeout_message(caught.value, "POST /v1/images/generations", "read", 0.2)


# --- timeout messages ----------------------------------------------------------------------

SECRET = "sig-0123456789"


def assert_timeout_message(error: BaseException, where: str, limit: str, seconds: float) -> None:
    """The message names the call, which limit ran out and after how long; nothing secret."""
    message = str(error)
    assert message.startswith(f"{where} timed out"), message
    assert f"{seconds:g}s ({limit} timeout)" in message, message
    assert "()" not in message
    for secret in (API_KEY, SECRET, "?"):
        assert secret not in message


async def test_a_total_timeout_message(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    fake_api.reply(Reply(delay=0.6))

    with pytest.raises(APITimeoutError) as caught:
        await images.generate(prompt="p", timeout=0.2, extra_query={"sig": SECRET})

    assert_timeout_message(caught.value, "POST /v1/images/generations", "total", 0.2)


async def test_a_read_timeout_message(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    fake_api.reply(Reply(delay=0.6))

    with pytest.raises(APITimeoutError) as caught:
        await images.with_raw_response.edit(
            image=("a.png", TINY_PNG, "image/png"),
            prompt="p",
            timeout=Timeout(total=30, read=0.2),
            extra_query={"sig": SECRET},
        )

    assert_timeout_message(caught.value, "POST /v1/images/edits", "read", 0.2)


async def test_connect_timeout_messages(fake_api: FakeImagesAPI) -> None:
    # The only connection is held by an unread streamed response, so the next calls wait
    # for the pool until their connect limit runs out.
    fake_api.reply(Reply(events=stream_events("image_generation", 1), chunk_delay=1.0))
    wait = Timeout(total=30, connect=0.2)
    image = Image(url=f"{fake_api.base_url}/files/image-0.png?sig={SECRET}")
    async with (
        AsyncImages(
            api_key=API_KEY, base_url=f"{fake_api.base_url}/v1", max_retries=0, max_connections=1
        ) as images,
        images.with_streaming_response.generate(prompt="p", stream=True, model="gpt-image-1"),
    ):
        with pytest.raises(APITimeoutError) as call:
            await images.create_variation(image=("a.png", TINY_PNG, "image/png"), timeout=wait)
        with pytest.raises(APITimeoutError) as download:
            await images.read_image(image, timeout=wait)

    assert_timeout_message(call.value, "POST /v1/images/variations", "connect", 0.2)
    assert_timeout_message(download.value, "GET /files/image-0.png", "connect", 0.2)


# --- retries -------------------------------------------------------------------------------


async def test_retries_until_success(quick: AsyncImages, fake_api: FakeImagesAPI) -> None:
    fake_api.reply(error_reply(500), error_reply(500), Reply())

    raw = await quick.with_options(max_retries=2).with_raw_response.generate(prompt="p")

    assert raw.status_code == 200
    assert raw.retries_taken == 2
    assert raw.parse().data
    keys = {request.headers["Idempotency-Key"] for request in fake_api.requests}
    assert len(fake_api.requests) == 3
    assert len(keys) == 1
    assert keys.pop()


async def test_server_requested_wait_is_honoured(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(status=429, json=ERROR_BODY, headers={"Retry-After-Ms": "10"}), Reply())

    response = await images.generate(prompt="p", max_retries=1)

    assert response.data
    assert len(fake_api.requests) == 2


async def test_each_call_gets_its_own_idempotency_key(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.generate(prompt="p")
    await images.generate(prompt="p")
    first, second = (request.headers["Idempotency-Key"] for request in fake_api.requests)
    assert first != second


async def test_bad_request_is_not_retried(quick: AsyncImages, fake_api: FakeImagesAPI) -> None:
    fake_api.reply(error_reply(400), Reply())

    with pytest.raises(BadRequestError) as caught:
        await quick.generate(prompt="p", max_retries=2)

    assert caught.value.retries_taken == 0
    assert len(fake_api.requests) == 1


async def test_should_retry_false_stops_retrying(
    quick: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(status=503, json=ERROR_BODY, headers={"x-should-retry": "false"}))

    with pytest.raises(InternalServerError):
        await quick.generate(prompt="p", max_retries=2)

    assert len(fake_api.requests) == 1


async def test_should_retry_true_retries_a_bad_request(
    quick: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(Reply(status=400, json=ERROR_BODY, headers={"x-should-retry": "true"}), Reply())

    raw = await quick.with_raw_response.generate(prompt="p", max_retries=1)

    assert raw.retries_taken == 1


async def test_insufficient_quota_is_not_retried(
    quick: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(error_reply(429, code="insufficient_quota"), Reply())

    with pytest.raises(RateLimitError) as caught:
        await quick.generate(prompt="p", max_retries=2)

    assert caught.value.code == "insufficient_quota"
    assert len(fake_api.requests) == 1


async def test_retries_taken_on_the_raised_error(
    quick: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    fake_api.reply(error_reply(500), error_reply(502), error_reply(503), Reply())

    with pytest.raises(InternalServerError) as caught:
        await quick.with_options(max_retries=2).generate(prompt="p")

    assert caught.value.retries_taken == 2
    assert caught.value.status_code == 503
    assert len(fake_api.requests) == 3


# --- secrets, lifecycle, event loops -------------------------------------------------------


async def test_api_key_never_shows(
    images: AsyncImages, fake_api: FakeImagesAPI, closed_port: int
) -> None:
    errors: list[BaseException] = []
    fake_api.reply(
        error_reply(401),
        Reply(body=b"{}"),
        Reply(delay=0.5),
    )
    for call_timeout in (None, None, 0.1):
        with pytest.raises(APIError) as caught:
            await images.generate(prompt="p", timeout=call_timeout)
        errors.append(caught.value)
    async with AsyncImages(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{closed_port}/v1", max_retries=0
    ) as unreachable:
        with pytest.raises(APIConnectionError) as refused:
            await unreachable.generate(prompt="p")
        errors.append(refused.value)
        assert API_KEY not in repr(unreachable)
    await images.aclose()
    with pytest.raises(ClientClosedError) as closed:
        await images.generate(prompt="p")
    errors.append(closed.value)

    assert [type(error) for error in errors] == [
        AuthenticationError,
        APIResponseValidationError,
        APITimeoutError,
        APIConnectionError,
        ClientClosedError,
    ]
    assert API_KEY not in repr(images)
    assert API_KEY not in repr(images.with_raw_response)
    for error in errors:
        for text in (str(error), repr(error), repr(error.args), str(error.__cause__)):
            assert API_KEY not in text
            assert API_KEY[3:] not in text


async def test_calls_after_aclose_raise(images: AsyncImages) -> None:
    await images.generate(prompt="p")
    await images.aclose()

    assert images.is_closed
    with pytest.raises(ClientClosedError, match="closed"):
        await images.generate(prompt="p")
    with pytest.raises(ClientClosedError):
        await images.with_raw_response.generate(prompt="p")
    with pytest.raises(RuntimeError):  # ClientClosedError is also a RuntimeError
        async with images.with_streaming_response.generate(prompt="p"):
            pass
    await images.aclose()  # closing twice is fine


async def test_one_client_used_from_two_event_loops(images: AsyncImages) -> None:
    await images.generate(prompt="p")

    def call_in_a_fresh_loop() -> BaseException | None:
        try:
            asyncio.run(images.generate(prompt="p"))
        except Exception as exc:
            return exc
        return None

    error = await asyncio.to_thread(call_in_a_fresh_loop)

    assert isinstance(error, ImagesError)
    assert "event loop" in str(error)
    assert (await images.generate(prompt="p")).data  # still fine in its own loop


# --- signed URLs in messages ----------------------------------------------------------------

SIGNATURE = "sig=SECRET-signature-0123"


def shown_texts(error: BaseException) -> list[str]:
    """What a message or a traceback shows of ``error`` and the errors it chains (as Python
    prints them: the cause, else the context unless suppressed)."""
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current)]
        suppressed = current.__suppress_context__
        current = current.__cause__ or (None if suppressed else current.__context__)
    return texts


def assert_signature_not_shown(error: BaseException) -> None:
    assert isinstance(error, ImagesError), repr(error)
    for text in shown_texts(error):
        assert "SECRET" not in text, text


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://127.0.0.1/x.png?{SIGNATURE}",
        f"http:///x.png?{SIGNATURE}",
        f"/files/x.png?{SIGNATURE}",
        f"http://[::1/x.png?{SIGNATURE}",
        f"http://127.0.0.1:99999/x.png?{SIGNATURE}",
    ],
    ids=["ftp", "no-host", "relative", "broken-ipv6", "port-out-of-range"],
)
async def test_an_unusable_image_url_is_refused_without_showing_its_query(
    images: AsyncImages, fake_api: FakeImagesAPI, url: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await images.read_image(Image(url=url))

    assert caught.value.param == "image"
    assert str(caught.value).startswith("image.url "), str(caught.value)
    assert_signature_not_shown(caught.value)
    assert fake_api.requests == []


@pytest.mark.parametrize(
    "location",
    [f"ftp://127.0.0.1/x.png?{SIGNATURE}", f"http:///x.png?{SIGNATURE}", "/loop"],
    ids=["to-ftp", "to-no-host", "endless"],
)
async def test_a_bad_redirect_of_a_download_does_not_show_its_query(location: str) -> None:
    async def redirect(request: web.Request) -> web.Response:
        # Location is set as is: web.HTTPFound would parse and re-encode it.
        target = f"{location}?{SIGNATURE}" if location == "/loop" else location
        return web.Response(status=302, headers={"Location": target})

    app = web.Application()
    app.router.add_get("/files/x.png", redirect)
    app.router.add_get("/loop", redirect)
    async with (
        serving(app) as root,
        AsyncImages(api_key=API_KEY, base_url=f"{root}/v1", max_retries=0) as images,
    ):
        with pytest.raises(APIConnectionError) as caught:
            await images.read_image(Image(url=f"{root}/files/x.png?{SIGNATURE}"))

    assert str(caught.value).startswith("connection error: "), str(caught.value)
    assert "GET /files/x.png" in str(caught.value)
    assert_signature_not_shown(caught.value)
