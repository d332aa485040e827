"""JSON image edits on the emulator: ``POST /images/edits`` with image references.

References are base64 data URLs, ids of files uploaded to the emulator's Files endpoints,
or URLs on a loopback test server (every other host is refused without being reached). A
JSON edit must draw exactly what a multipart edit of the same files draws, be refused where
the API refuses it (dall-e-2, 0 or 17 images, a mask of another size, broken images,
unknown ids), and its request and answer must match the vendored OpenAPI spec.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from openapi_schema import check_json_request, check_json_response, check_stream_event
from plugins.api_server import serving
from plugins.expected_pictures import expected_edit
from yarl import URL

from images_async.testing import Emulator, EmulatorConfig, run_emulator_in_thread
from images_async.testing.sample_images import image_size, solid_png

API_KEY = "sk-test-json-edits-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
PROMPT = "add a red hat"
PICTURE = solid_png(64, 64, (20, 120, 200, 255))
OTHER = solid_png(64, 64, (200, 40, 40, 255))
MASK = solid_png(64, 64, (0, 0, 0, 0))


def data_url(content: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode('ascii')}"


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(api_keys=frozenset({API_KEY}))) as emulator:
        yield emulator


async def json_edit(
    http: aiohttp.ClientSession, emulator: Emulator, **body: Any
) -> tuple[int, dict[str, Any]]:
    body = {"model": "gpt-image-1", "prompt": PROMPT, **body}
    async with http.post(f"{emulator.base_url}/images/edits", json=body, headers=AUTH) as response:
        return response.status, await response.json()


async def upload(http: aiohttp.ClientSession, emulator: Emulator, content: bytes) -> str:
    form = aiohttp.FormData({"purpose": "vision"})
    form.add_field("file", content, filename="upload.png", content_type="image/png")
    async with http.post(f"{emulator.base_url}/files", data=form, headers=AUTH) as response:
        assert response.status == 200
        file_id: str = (await response.json())["id"]
        return file_id


def first_image(body: dict[str, Any]) -> bytes:
    return base64.b64decode(body["data"][0]["b64_json"])


def error_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    return body["error"]["param"], body["error"]["code"]


# --- the same pictures as a multipart edit ---------------------------------------------------


async def test_a_data_url_edit_draws_what_a_multipart_edit_of_the_same_image_draws(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    request = {"images": [{"image_url": data_url(PICTURE)}], "size": "1024x1024", "n": 2}
    status, answer = await json_edit(http, emulator, **request)

    assert status == 200, answer
    check_json_request("createImageEdit", {"model": "gpt-image-1", "prompt": PROMPT, **request})
    check_json_response("createImageEdit", answer)
    call = emulator.requests[-1]
    assert (call.path, call.status) == ("/v1/images/edits", 200)
    assert call.params["images"] == request["images"]  # recorded as sent
    form = aiohttp.FormData({"model": "gpt-image-1", "prompt": PROMPT, "size": "1024x1024"})
    form.add_field("n", "2")
    form.add_field("image", PICTURE, filename="picture.png", content_type="image/png")
    async with http.post(f"{emulator.base_url}/images/edits", data=form, headers=AUTH) as r:
        multipart = await r.json()
    assert [item["b64_json"] for item in answer["data"]] == [
        item["b64_json"] for item in multipart["data"]
    ]
    assert answer["usage"] == multipart["usage"]
    assert first_image(answer) == expected_edit(PICTURE, PROMPT, 1024, 1024, mask=None, count=2)


async def test_file_ids_and_a_mask_resolve_from_the_files_store(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    image_id, other_id, mask_id = [await upload(http, emulator, c) for c in (PICTURE, OTHER, MASK)]
    request = {
        "images": [{"file_id": image_id}, {"file_id": other_id}],
        "mask": {"file_id": mask_id},
        "size": "1536x1024",
        "quality": "low",
    }
    status, answer = await json_edit(http, emulator, **request)

    assert status == 200, answer
    check_json_request("createImageEdit", {"model": "gpt-image-1", "prompt": PROMPT, **request})
    check_json_response("createImageEdit", answer)
    assert image_size(first_image(answer)) == (1536, 1024)
    assert first_image(answer) == expected_edit(
        PICTURE, PROMPT, 1536, 1024, mask=MASK, quality="low"
    )
    # Both images count as input, as in a multipart edit of two files.
    assert answer["usage"]["input_tokens_details"]["image_tokens"] == 2 * (65 + 129)


async def test_a_streamed_json_edit_sends_edit_events(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    body = {
        "model": "gpt-image-1",
        "prompt": PROMPT,
        "images": [{"image_url": data_url(PICTURE)}],
        "stream": True,
        "partial_images": 1,
    }
    check_json_request("createImageEdit", body)
    async with http.post(f"{emulator.base_url}/images/edits", json=body, headers=AUTH) as r:
        assert r.status == 200
        assert r.content_type == "text/event-stream"
        text = await r.text()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert [event["type"] for event in events] == [
        "image_edit.partial_image",
        "image_edit.completed",
    ]
    for event in events:
        check_stream_event("createImageEdit", event)


# --- URLs: loopback only -------------------------------------------------------------------


@pytest.fixture
async def picture_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server with a picture, a redirect and a 404; yields its root and its log."""
    seen: list[str] = []

    async def picture(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path == "/moved.png":
            raise web.HTTPFound("/picture.png")
        if request.path == "/picture.png":
            return web.Response(body=PICTURE, content_type="image/png")
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/{name}", picture)
    async with serving(app) as root:
        yield root, seen


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_loopback_url_is_downloaded(
    emulator: Emulator,
    http: aiohttp.ClientSession,
    picture_server: tuple[str, list[str]],
    host: str,
) -> None:
    root, seen = picture_server
    url = URL(f"{root}/picture.png").with_host(host)
    status, answer = await json_edit(
        http, emulator, images=[{"image_url": str(url)}], size="1024x1024"
    )

    assert status == 200, answer
    assert seen == ["/picture.png"]
    assert first_image(answer) == expected_edit(PICTURE, PROMPT, 1024, 1024, mask=None)


async def test_a_url_on_the_ipv6_loopback_is_downloaded(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    seen: list[str] = []

    async def picture(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(body=PICTURE, content_type="image/png")

    app = web.Application()
    app.router.add_get("/picture.png", picture)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "::1", 0)
        try:
            await site.start()
        except OSError:
            pytest.skip("no IPv6 loopback here")
        port = runner.addresses[0][1]
        status, answer = await json_edit(
            http, emulator, images=[{"image_url": f"http://[::1]:{port}/picture.png"}]
        )
    finally:
        await runner.cleanup()

    assert status == 200, answer
    assert seen == ["/picture.png"]


@pytest.mark.parametrize("path", ["/moved.png", "/missing.png"])
async def test_a_loopback_url_that_does_not_answer_200_is_refused(
    emulator: Emulator,
    http: aiohttp.ClientSession,
    picture_server: tuple[str, list[str]],
    path: str,
) -> None:
    root, seen = picture_server
    status, answer = await json_edit(http, emulator, images=[{"image_url": root + path}])

    assert status == 400
    assert error_of(answer) == ("images[0].image_url", "invalid_image_url")
    assert seen == [path]  # a redirect is not followed


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://images.invalid/picture.png", "downloads image URLs only from 127.0.0.1"),
        ("http://user:secret@images.invalid/a.png", "downloads image URLs only from 127.0.0.1"),
        ("http://127.0.0.2:9/picture.png", "downloads image URLs only from 127.0.0.1"),
        ("ftp://127.0.0.1/picture.png", "expected an http(s) URL or a base64 data URL"),
        ("not a url", "expected an http(s) URL or a base64 data URL"),
    ],
)
async def test_other_hosts_and_schemes_are_refused_without_a_download(
    emulator: Emulator, http: aiohttp.ClientSession, url: str, reason: str
) -> None:
    status, answer = await json_edit(http, emulator, images=[{"image_url": url}])

    assert status == 400
    assert error_of(answer) == ("images[0].image_url", "invalid_image_url")
    # Refused for the host itself, not because a download was tried and failed.
    assert reason in answer["error"]["message"]
    assert "secret" not in answer["error"]["message"]
    assert [call.path for call in emulator.requests] == ["/v1/images/edits"]


async def test_an_image_url_the_emulator_itself_serves_can_be_edited(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    body = {"model": "dall-e-2", "prompt": "a cat", "size": "256x256"}
    async with http.post(f"{emulator.base_url}/images/generations", json=body, headers=AUTH) as r:
        url = (await r.json())["data"][0]["url"]

    status, answer = await json_edit(http, emulator, images=[{"image_url": url}])

    assert status == 200, answer
    # The edit is recorded when it arrives; the download it makes comes after it.
    generate, edit, download = emulator.requests
    assert (edit.path, edit.status) == ("/v1/images/edits", 200)
    assert (download.method, download.path, download.status) == ("GET", URL(url).path, 200)
    assert generate.path == "/v1/images/generations"


# --- what the API refuses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "dall-e-2"}, "model", "invalid_value"),
        ({"model": "dall-e-2-custom"}, "model", "invalid_value"),
        ({"images": []}, "images", "invalid_value"),
        ({"images": [{"image_url": data_url(PICTURE)}] * 17}, "images", "invalid_value"),
        ({"images": None}, "images", "missing_required_parameter"),
        ({"images": {"image_url": data_url(PICTURE)}}, "images", "invalid_type"),
        ({"images": ["picture.png"]}, "images[0]", "invalid_type"),
        ({"images": [{}]}, "images[0]", "invalid_value"),
        ({"images": [{"image_url": data_url(PICTURE), "file_id": "file-x"}]}, "images[0]",
         "invalid_value"),
        ({"images": [{"url": "x"}]}, "images[0].url", "unknown_parameter"),
        ({"images": [{"file_id": 7}]}, "images[0].file_id", "invalid_type"),
        ({"images": [{"file_id": "file-unknown"}]}, "images[0].file_id", "invalid_file_id"),
        ({"images": [{"image_url": "data:image/png;base64,%%%"}]}, "images[0].image_url",
         "invalid_image_url"),
        ({"images": [{"image_url": "data:image/png,plain"}]}, "images[0].image_url",
         "invalid_image_url"),
        ({"response_format": "b64_json"}, "response_format", "unknown_parameter"),
        ({"style": "vivid"}, "style", "unknown_parameter"),
        ({"prompt": None}, "prompt", "missing_required_parameter"),
        ({"n": 11}, "n", "invalid_value"),
        ({"mask": {"image_url": data_url(solid_png(32, 32, (0, 0, 0, 0)))}}, "mask",
         "invalid_image"),
        ({"images": [{"image_url": data_url(PICTURE[:-20])}]}, "image", "invalid_image"),
        ({"images": [{"image_url": data_url(b"GIF89a not really")}]}, "image", "invalid_image"),
    ],
    ids=["dall-e-2", "dall-e-2-family", "no-images", "17-images", "images-absent",
         "images-object", "reference-string", "empty-reference", "both-kinds", "unknown-kind",
         "file-id-number", "unknown-file-id", "bad-base64", "not-base64", "response-format",
         "style", "no-prompt", "n-11", "mask-size", "truncated-png", "not-an-image"],
)  # fmt: skip
async def test_what_the_api_refuses_is_a_400(
    emulator: Emulator,
    http: aiohttp.ClientSession,
    body: dict[str, Any],
    param: str,
    code: str,
) -> None:
    request = {
        "model": "gpt-image-1",
        "prompt": PROMPT,
        "images": [{"image_url": data_url(PICTURE)}],
    }
    request.update(body)
    request = {name: value for name, value in request.items() if value is not None}
    async with http.post(f"{emulator.base_url}/images/edits", json=request, headers=AUTH) as r:
        status, answer = r.status, await r.json()

    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"
    assert error_of(answer) == (param, code), answer["error"]["message"]
    assert emulator.requests[-1].status == 400


async def test_a_deleted_file_can_no_longer_be_referenced(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    file_id = await upload(http, emulator, PICTURE)
    assert (await json_edit(http, emulator, images=[{"file_id": file_id}]))[0] == 200
    async with http.delete(f"{emulator.base_url}/files/{file_id}", headers=AUTH) as response:
        assert response.status == 200

    status, answer = await json_edit(http, emulator, images=[{"file_id": file_id}])

    assert status == 400
    assert error_of(answer) == ("images[0].file_id", "invalid_file_id")


async def test_multipart_edits_with_dall_e_2_still_work(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData({"model": "dall-e-2", "prompt": PROMPT, "size": "256x256"})
    form.add_field("image", MASK, filename="clear.png", content_type="image/png")
    async with http.post(f"{emulator.base_url}/images/edits", data=form, headers=AUTH) as r:
        assert r.status == 200, await r.text()


async def test_without_validation_references_are_still_resolved(
    http: aiohttp.ClientSession,
) -> None:
    async with Emulator(EmulatorConfig(validate=False)) as emulator:
        body = {"model": "dall-e-2", "images": [{"image_url": data_url(PICTURE)}], "x": 1}
        async with http.post(f"{emulator.base_url}/images/edits", json=body, headers=AUTH) as r:
            assert r.status == 200
        body = {"images": [{"file_id": "file-unknown"}]}
        async with http.post(f"{emulator.base_url}/images/edits", json=body, headers=AUTH) as r:
            assert r.status == 400


# --- the official SDK ------------------------------------------------------------------------


@pytest.fixture
def sdk_emulator() -> Iterator[Emulator]:
    emulator = Emulator(EmulatorConfig(api_keys=frozenset({API_KEY})))
    with run_emulator_in_thread(emulator):
        yield emulator


def test_the_openai_sdk_posts_a_json_edit_of_an_uploaded_file(sdk_emulator: Emulator) -> None:
    # The installed SDK's images.edit() only sends multipart, so the JSON body goes through
    # its generic post(), which still builds, sends and parses like any other call.
    openai = pytest.importorskip("openai")
    from openai.types import ImagesResponse

    with openai.OpenAI(api_key=API_KEY, base_url=sdk_emulator.base_url, max_retries=0) as client:
        uploaded = client.files.create(file=("picture.png", PICTURE), purpose="vision")
        body = {"model": "gpt-image-1", "prompt": PROMPT, "images": [{"file_id": uploaded.id}]}
        result = client.post("/images/edits", body=body, cast_to=ImagesResponse)
        with pytest.raises(openai.BadRequestError) as refused:
            client.post("/images/edits", body={**body, "model": "dall-e-2"}, cast_to=ImagesResponse)

    [image] = result.data or []
    assert image.b64_json is not None
    assert base64.b64decode(image.b64_json) == expected_edit(PICTURE, PROMPT, 1024, 1024, mask=None)
    assert refused.value.status_code == 400
    edit = sdk_emulator.requests[1]
    assert edit.headers["Content-Type"].startswith("application/json")
    assert edit.params == body
