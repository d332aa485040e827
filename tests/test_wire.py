"""The requests the client puts on the wire: bodies checked against the OpenAPI spec, and
the URL, query and headers every request carries.

Bodies are taken from the recording server exactly as they arrived and checked with
``openapi_schema``, which also rejects fields the spec does not define.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openapi_schema import MultipartField, check_json_request, check_multipart_request
from plugins.api_server import API_KEY, FakeImagesAPI, RecordedRequest

from images_async import AsyncImages, MissingAPIKeyError
from images_async.testing.sample_images import solid_png

PROMPT = "a sea otter wearing a beret"
IMAGE = solid_png(8, 8)
MASK = solid_png(8, 8, (0, 0, 0, 0))
ENV_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OPENAI_* variable of the machine running the tests leaks into a request."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def fields(request: RecordedRequest) -> list[MultipartField]:
    return [(part.name, part.value, part.filename) for part in request.parts]


def text_fields(request: RecordedRequest) -> dict[str, str | bytes]:
    return {part.name: part.value for part in request.parts if part.filename is None}


async def drain(events: AsyncIterator[object]) -> int:
    count = 0
    async for _ in events:
        count += 1
    return count


# --- generations: JSON -------------------------------------------------------------------


async def test_generate_with_prompt_only(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    await images.generate(prompt=PROMPT)
    request = fake_api.last
    assert (request.method, request.path) == ("POST", "/v1/images/generations")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {"prompt": PROMPT}
    check_json_request("createImage", request.json)


GENERATE_EVERY_PARAMETER = {
    "gpt-image-1": {
        "model": "gpt-image-1",
        "n": 2,
        "quality": "high",
        "size": "1536x1024",
        "user": "user-1234",
        "background": "transparent",
        "moderation": "low",
        "output_compression": 80,
        "output_format": "webp",
        "partial_images": 2,
        "stream": False,
    },
    "dall-e-3": {
        "model": "dall-e-3",
        "n": 1,
        "quality": "hd",
        "response_format": "b64_json",
        "size": "1792x1024",
        "style": "natural",
        "user": "user-1234",
    },
    "dall-e-2": {
        "model": "dall-e-2",
        "n": 3,
        "quality": "standard",
        "response_format": "url",
        "size": "512x512",
        "user": "user-1234",
    },
}


@pytest.mark.parametrize("model", GENERATE_EVERY_PARAMETER)
async def test_generate_with_every_parameter(
    images: AsyncImages, fake_api: FakeImagesAPI, model: str
) -> None:
    params: dict[str, Any] = GENERATE_EVERY_PARAMETER[model]
    await images.generate(prompt=PROMPT, **params)
    body = fake_api.last.json
    assert body == {"prompt": PROMPT, **params}
    check_json_request("createImage", body)


async def test_generate_stream(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    async with await images.generate(
        prompt=PROMPT, model="gpt-image-1", stream=True, partial_images=2
    ) as events:
        assert await drain(events) == 3
    request = fake_api.last
    assert request.json == {
        "prompt": PROMPT,
        "model": "gpt-image-1",
        "stream": True,
        "partial_images": 2,
    }
    assert request.headers["Accept"] == "text/event-stream"
    check_json_request("createImage", request.json)


async def test_json_sends_only_given_params_with_json_types(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.generate(
        prompt=PROMPT,
        model="gpt-image-1",
        n=2,
        quality=None,
        size=None,
        output_compression=0,
        output_format="jpeg",
        stream=False,
        user=None,
    )
    request = fake_api.last
    assert request.headers["Accept"] == "application/json"
    raw = json.loads(request.body)
    assert raw == {
        "prompt": PROMPT,
        "model": "gpt-image-1",
        "n": 2,
        "output_compression": 0,  # falsy but given: sent
        "output_format": "jpeg",
        "stream": False,
    }
    assert type(raw["n"]) is int
    assert type(raw["output_compression"]) is int
    assert raw["stream"] is False
    assert b'"n":2' in request.body
    assert b'"stream":false' in request.body
    check_json_request("createImage", raw)


async def test_extra_body_is_merged_into_json_unchecked(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.generate(
        prompt=PROMPT, n=1, extra_body={"n": 2, "experimental": {"seed": 7, "fast": True}}
    )
    body = fake_api.last.json
    assert body == {"prompt": PROMPT, "n": 2, "experimental": {"seed": 7, "fast": True}}
    # extra_body is sent as given: neither the client nor the spec vouches for its fields.
    with pytest.raises(AssertionError, match="experimental: unknown field"):
        check_json_request("createImage", body)
    check_json_request("createImage", {"prompt": PROMPT, "n": 2})


# --- edits: multipart ---------------------------------------------------------------------


async def test_edit_with_one_image(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    await images.edit(image=IMAGE, prompt=PROMPT)
    request = fake_api.last
    assert (request.method, request.path) == ("POST", "/v1/images/edits")
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.json is None
    assert fields(request) == [("prompt", PROMPT, None), ("image", IMAGE, "image.png")]
    check_multipart_request("createImageEdit", fields(request))


async def test_edit_with_sixteen_images(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    uploads = [solid_png(8, 8, (index * 16, 0, 0, 255)) for index in range(16)]
    await images.edit(image=uploads, prompt=PROMPT, model="gpt-image-1")
    request = fake_api.last
    sent = [(part.name, part.value) for part in request.parts if part.filename is not None]
    assert sent == [("image[]", upload) for upload in uploads]
    check_multipart_request("createImageEdit", fields(request))


async def test_edit_with_mask(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    await images.edit(image=IMAGE, mask=MASK, prompt=PROMPT)
    request = fake_api.last
    assert request.field("mask") == MASK
    check_multipart_request("createImageEdit", fields(request))


async def test_edit_gpt_image_1_with_every_parameter(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    async with await images.edit(
        image=[IMAGE, solid_png(8, 8, (1, 2, 3, 255))],
        mask=MASK,
        prompt=PROMPT,
        model="gpt-image-1",
        n=2,
        quality="high",
        size="1024x1536",
        user="user-1234",
        background="transparent",
        input_fidelity="high",
        output_compression=55,
        output_format="webp",
        partial_images=1,
        stream=True,
    ) as events:
        assert await drain(events) == 2
    request = fake_api.last
    assert text_fields(request) == {
        "prompt": PROMPT,
        "model": "gpt-image-1",
        "n": "2",
        "quality": "high",
        "size": "1024x1536",
        "user": "user-1234",
        "background": "transparent",
        "input_fidelity": "high",
        "output_compression": "55",
        "output_format": "webp",
        "partial_images": "1",
        "stream": "true",
    }
    check_multipart_request("createImageEdit", fields(request))


async def test_edit_dall_e_2_with_every_parameter(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.edit(
        image=("otter.png", IMAGE),
        mask=("mask.png", MASK),
        prompt=PROMPT,
        model="dall-e-2",
        n=2,
        quality="standard",
        response_format="b64_json",
        size="512x512",
        user="user-1234",
    )
    request = fake_api.last
    assert text_fields(request) == {
        "prompt": PROMPT,
        "model": "dall-e-2",
        "n": "2",
        "quality": "standard",
        "response_format": "b64_json",
        "size": "512x512",
        "user": "user-1234",
    }
    check_multipart_request("createImageEdit", fields(request))


async def test_multipart_booleans_are_true_and_false(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.edit(image=IMAGE, prompt=PROMPT, model="gpt-image-1", stream=False)
    assert fake_api.last.field("stream") == "false"
    async with await images.edit(
        image=IMAGE, prompt=PROMPT, model="gpt-image-1", stream=True
    ) as events:
        await drain(events)
    assert fake_api.last.field("stream") == "true"
    check_multipart_request("createImageEdit", fields(fake_api.last))


async def test_multipart_sends_only_given_params(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.edit(image=IMAGE, prompt=PROMPT, model=None, n=None, size=None, user=None)
    assert [part.name for part in fake_api.last.parts] == ["prompt", "image"]


async def test_extra_body_adds_text_parts(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    await images.edit(image=IMAGE, prompt=PROMPT, n=1, extra_body={"n": 3, "experimental": "on"})
    request = fake_api.last
    assert text_fields(request) == {"prompt": PROMPT, "n": "3", "experimental": "on"}
    with pytest.raises(AssertionError, match="experimental: unknown field"):
        check_multipart_request("createImageEdit", fields(request))


# --- variations ---------------------------------------------------------------------------


async def test_variation_with_every_parameter(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    await images.create_variation(
        image=IMAGE,
        model="dall-e-2",
        n=3,
        response_format="b64_json",
        size="256x256",
        user="user-1234",
    )
    request = fake_api.last
    assert (request.method, request.path) == ("POST", "/v1/images/variations")
    assert fields(request) == [
        ("model", "dall-e-2", None),
        ("n", "3", None),
        ("response_format", "b64_json", None),
        ("size", "256x256", None),
        ("user", "user-1234", None),
        ("image", IMAGE, "image.png"),
    ]
    check_multipart_request("createImageVariation", fields(request))


async def test_variation_with_image_only(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    await images.create_variation(image=IMAGE)
    assert fields(fake_api.last) == [("image", IMAGE, "image.png")]
    check_multipart_request("createImageVariation", fields(fake_api.last))


# --- URL, query and headers ---------------------------------------------------------------


async def call_every_endpoint(client: AsyncImages, **options: Any) -> None:
    await client.generate(prompt=PROMPT, **options)
    await client.edit(image=IMAGE, prompt=PROMPT, **options)
    await client.create_variation(image=IMAGE, **options)


async def test_extra_headers_and_query_arrive(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    await call_every_endpoint(
        images,
        extra_headers={"X-Trace": "abc", "OpenAI-Beta": "images=v2"},
        extra_query={"debug": "1"},
    )
    assert len(fake_api.requests) == 3
    for request in fake_api.requests:
        assert request.headers["X-Trace"] == "abc"
        assert request.headers["OpenAI-Beta"] == "images=v2"
        assert dict(request.query) == {"debug": "1"}


async def test_standard_headers(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    await call_every_endpoint(images)
    keys = set()
    for request in fake_api.requests:
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        assert request.headers["User-Agent"].startswith("images-async/")
        assert request.headers["Idempotency-Key"]
        keys.add(request.headers["Idempotency-Key"])
        assert "OpenAI-Organization" not in request.headers
        assert "OpenAI-Project" not in request.headers
        assert not request.query
    assert len(keys) == 3  # one key per call


async def test_organization_and_project_arguments(fake_api: FakeImagesAPI) -> None:
    async with AsyncImages(
        api_key=API_KEY,
        base_url=f"{fake_api.base_url}/v1",
        organization="org-123",
        project="proj_456",
    ) as client:
        await call_every_endpoint(client)
    for request in fake_api.requests:
        assert request.headers["OpenAI-Organization"] == "org-123"
        assert request.headers["OpenAI-Project"] == "proj_456"


async def test_organization_and_project_from_environment(
    fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_env")
    async with AsyncImages(api_key=API_KEY, base_url=f"{fake_api.base_url}/v1") as client:
        await client.generate(prompt=PROMPT)
    headers = fake_api.last.headers
    assert headers["OpenAI-Organization"] == "org-env"
    assert headers["OpenAI-Project"] == "proj_env"


async def test_api_key_and_base_url_from_environment(
    fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake_api.base_url}/v1")
    async with AsyncImages() as client:
        await client.generate(prompt=PROMPT)
    assert fake_api.last.path == "/v1/images/generations"
    assert fake_api.last.headers["Authorization"] == "Bearer sk-from-env"


async def test_base_url_with_trailing_slash(fake_api: FakeImagesAPI) -> None:
    async with AsyncImages(api_key=API_KEY, base_url=f"{fake_api.base_url}/v1/") as client:
        await call_every_endpoint(client)
    assert [request.path for request in fake_api.requests] == [
        "/v1/images/generations",
        "/v1/images/edits",
        "/v1/images/variations",
    ]


async def test_default_headers_and_query_on_every_request(fake_api: FakeImagesAPI) -> None:
    async with AsyncImages(
        api_key=API_KEY,
        base_url=f"{fake_api.base_url}/v1",
        default_headers={"X-Team": "imaging"},
        default_query={"api-version": "2025-01"},
    ) as client:
        await call_every_endpoint(client)
        await call_every_endpoint(client, extra_query={"debug": "1"})
    assert len(fake_api.requests) == 6
    for request in fake_api.requests:
        assert request.headers["X-Team"] == "imaging"
        assert request.query["api-version"] == "2025-01"
    assert [request.query.get("debug") for request in fake_api.requests] == [None] * 3 + ["1"] * 3


def test_missing_api_key_raises() -> None:
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        AsyncImages()
    with pytest.raises(MissingAPIKeyError):
        AsyncImages(api_key="")
