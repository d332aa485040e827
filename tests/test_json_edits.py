"""Edits by reference: images named by URL or file id are sent as a JSON body.

Against the recording server on 127.0.0.1: the exact JSON that arrived, its content type,
that an edit of local files is still the same multipart body, and that every rule an edit
by reference breaks is reported before anything is sent.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest
import yaml
from openapi_schema import SPEC_PATH, check_json_request
from plugins.api_server import API_KEY, TINY_PNG, FakeImagesAPI, Reply
from plugins.expected_pictures import expected_edit
from plugins.threaded_server import ThreadedImagesAPI

from images_async import (
    AsyncImages,
    EditRequest,
    FileID,
    ImageInput,
    Images,
    ImageURL,
    InvalidFileError,
    InvalidRequestError,
    RetryPolicy,
    UnsupportedFileInputError,
)
from images_async._endpoints import ENDPOINTS
from images_async.testing import Emulator, EmulatorConfig
from images_async.testing.sample_images import jpeg_header_bytes, solid_png, webp_header_bytes

URL = "https://images.example.invalid/cat.png"
SQUARE = solid_png(8, 8)
OTHER_SQUARE = solid_png(16, 16)


def data_url(media_type: str, content: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode()}"


@contextlib.asynccontextmanager
async def client_of(api: FakeImagesAPI, **options: Any) -> AsyncIterator[AsyncImages]:
    async with AsyncImages(
        api_key=API_KEY, base_url=f"{api.base_url}/v1", **{"max_retries": 0, **options}
    ) as images:
        yield images


# -- the JSON body -------------------------------------------------------------------------


async def test_references_and_parameters_arrive_as_the_json_body(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    response = await images.edit(
        image=[ImageURL(URL), FileID("file-abc"), {"image_url": URL}, {"file_id": "file-def"}],
        mask=FileID("file-mask"),
        prompt="add a hat",
        model="gpt-image-1.5",
        n=2,
        quality="high",
        size="1024x1536",
        background="opaque",
        input_fidelity="high",
        output_format="webp",
        output_compression=80,
        user="user-1",
        extra_body={"moderation": "low"},
    )
    request = fake_api.last
    assert (request.method, request.path) == ("POST", "/v1/images/edits")
    assert request.headers["Content-Type"] == "application/json"
    assert request.parts == []
    assert request.json == {
        "images": [
            {"image_url": URL},
            {"file_id": "file-abc"},
            {"image_url": URL},
            {"file_id": "file-def"},
        ],
        "mask": {"file_id": "file-mask"},
        "prompt": "add a hat",
        "model": "gpt-image-1.5",
        "n": 2,
        "quality": "high",
        "size": "1024x1536",
        "background": "opaque",
        "input_fidelity": "high",
        "output_format": "webp",
        "output_compression": 80,
        "user": "user-1",
        "moderation": "low",
    }
    check_json_request("createImageEdit", request.json)
    assert len(response.data) == 2


@pytest.mark.parametrize(
    ("image", "sent"),
    [
        (ImageURL(URL), {"image_url": URL}),
        ({"image_url": URL}, {"image_url": URL}),
        (FileID("file-1"), {"file_id": "file-1"}),
        ({"file_id": "file-1"}, {"file_id": "file-1"}),
        ((FileID("file-1"), ImageURL(URL)), None),
    ],
    ids=["ImageURL", "image_url dict", "FileID", "file_id dict", "tuple of two"],
)
async def test_each_spelling_of_a_reference_is_sent_as_the_spec_writes_it(
    images: AsyncImages, fake_api: FakeImagesAPI, image: Any, sent: dict[str, str] | None
) -> None:
    await images.edit(image=image, prompt="p")
    expected = [sent] if sent else [{"file_id": "file-1"}, {"image_url": URL}]
    assert fake_api.last.json == {"images": expected, "prompt": "p"}
    check_json_request("createImageEdit", fake_api.last.json)


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (SQUARE, "image/png"),
        (jpeg_header_bytes(8, 8), "image/jpeg"),
        (webp_header_bytes(8, 8, alpha=False), "image/webp"),
    ],
    ids=["png", "jpeg", "webp"],
)
async def test_a_data_url_from_bytes_is_typed_from_the_bytes(
    images: AsyncImages, fake_api: FakeImagesAPI, content: bytes, media_type: str
) -> None:
    reference = ImageURL.from_bytes(bytearray(content), content_type="image/gif")
    assert reference.url == data_url(media_type, content)
    await images.edit(image=reference, prompt="p", model="gpt-image-1")
    assert fake_api.last.json == {
        "images": [{"image_url": data_url(media_type, content)}],
        "prompt": "p",
        "model": "gpt-image-1",
    }


def test_bytes_of_an_unknown_type_need_a_content_type() -> None:
    with pytest.raises(InvalidFileError, match="not a PNG, JPEG or WEBP"):
        ImageURL.from_bytes(b"GIF89a....")
    assert ImageURL.from_bytes(b"GIF89a", content_type="image/gif").url == data_url(
        "image/gif", b"GIF89a"
    )


def test_a_long_data_url_shows_only_its_start_in_a_repr() -> None:
    reference = ImageURL.from_bytes(solid_png(64, 64) + bytes(4000))
    assert len(repr(reference)) < 150
    assert f"{len(reference.url):,} characters" in repr(reference)
    assert repr(ImageURL(URL)) == f"ImageURL(url={URL!r})"


def test_no_credential_of_a_url_shows_in_a_repr_or_an_error() -> None:
    presigned = ImageURL("https://user:hunter2@images.example.invalid/a.png?sig=s3cr3t#top")
    assert repr(presigned) == "ImageURL(url='https://images.example.invalid/a.png?...')"
    with pytest.raises(InvalidRequestError) as caught:
        EditRequest(image=ImageURL("ftp://user:hunter2@x.invalid/a.png?sig=s3cr3t"), prompt="p")
    assert "an https URL or a base64 data URL" in str(caught.value)
    assert "'ftp' URL" in str(caught.value)
    for text in (repr(presigned), str(caught.value)):
        assert "hunter2" not in text
        assert "s3cr3t" not in text


def test_references_are_frozen_values() -> None:
    assert ImageURL(URL) == ImageURL(URL)
    assert hash(FileID("file-1")) == hash(FileID("file-1"))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        FileID("file-1").id = "file-2"  # type: ignore[misc]
    with pytest.raises(UnsupportedFileInputError, match="must be a string"):
        ImageURL(b"https://x")  # type: ignore[arg-type]


async def test_a_streamed_edit_by_reference_asks_for_events_in_json(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    async with await images.edit(
        image=FileID("file-1"), prompt="p", stream=True, partial_images=2
    ) as stream:
        events = [event async for event in stream]
    assert [event.type for event in events] == [
        "image_edit.partial_image",
        "image_edit.partial_image",
        "image_edit.completed",
    ]
    assert fake_api.last.json == {
        "images": [{"file_id": "file-1"}],
        "prompt": "p",
        "partial_images": 2,
        "stream": True,
    }
    assert fake_api.last.headers["Accept"] == "text/event-stream"
    check_json_request("createImageEdit", fake_api.last.json)


async def test_the_raw_and_streaming_views_send_references_as_json(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    raw = await images.with_raw_response.edit(image=ImageURL(URL), prompt="p")
    assert raw.parse().data
    async with images.with_streaming_response.edit(image={"file_id": "file-9"}, prompt="q") as r:
        assert r.status_code == 200
    first, second = fake_api.requests
    assert first.json == {"images": [{"image_url": URL}], "prompt": "p"}
    assert second.json == {"images": [{"file_id": "file-9"}], "prompt": "q"}
    assert {first.headers["Content-Type"], second.headers["Content-Type"]} == {"application/json"}


async def test_a_retry_sends_the_same_json_again(fake_api: FakeImagesAPI) -> None:
    fake_api.reply(Reply(status=500, json={"error": {"message": "boom"}}))
    policy = RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.001)
    async with client_of(fake_api, retry_policy=policy, max_retries=1) as images:
        await images.edit(image=ImageURL.from_bytes(SQUARE), prompt="p")
    first, second = fake_api.requests
    assert first.body == second.body
    assert first.json == {"images": [{"image_url": data_url("image/png", SQUARE)}], "prompt": "p"}
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


async def test_an_edit_of_local_files_is_the_same_multipart_body(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.edit(image=[SQUARE, ("b.png", SQUARE)], mask=SQUARE, prompt="p", n=2)
    request = fake_api.last
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.json is None
    assert [(part.name, part.filename, part.content_type) for part in request.parts] == [
        ("prompt", None, "text/plain; charset=utf-8"),
        ("n", None, "text/plain; charset=utf-8"),
        ("image[]", "image.png", "image/png"),
        ("image[]", "b.png", "image/png"),
        ("mask", "mask.png", "image/png"),
    ]
    assert request.field("n") == "2"
    assert [part.value for part in request.parts[2:]] == [SQUARE] * 3


# -- one kind of input per request -----------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "mask", "param"),
    [
        ([SQUARE, FileID("file-1")], None, "image[1]"),
        ([ImageURL(URL), SQUARE], None, "image[1]"),
        ([{"file_id": "file-1"}, {"file_id": "file-2"}, SQUARE], None, "image[2]"),
        (FileID("file-1"), SQUARE, "mask"),
        (SQUARE, {"image_url": URL}, "mask"),
    ],
    ids=["file then reference", "reference then file", "dicts then file", "file mask", "ref mask"],
)
async def test_references_mixed_with_files_are_refused_naming_the_input(
    images: AsyncImages,
    fake_api: FakeImagesAPI,
    image: ImageInput | list[ImageInput],
    mask: ImageInput | None,
    param: str,
) -> None:
    with pytest.raises(InvalidRequestError, match="not both") as caught:
        await images.edit(image=image, mask=mask, prompt="p")
    assert caught.value.param == param
    assert caught.value.message.startswith(f"{param}: ")
    assert "ImageURL.from_bytes" in str(caught.value)
    with pytest.raises(InvalidRequestError, match="not both"):
        EditRequest(image=image, mask=mask, prompt="p")
    assert fake_api.requests == []


@pytest.mark.parametrize(
    "bad",
    [{"image_url": URL, "file_id": "file-1"}, {"url": URL}, {}],
    ids=["both keys", "other key", "empty"],
)
async def test_a_malformed_reference_dict_is_refused_even_unvalidated(
    fake_api: FakeImagesAPI, bad: Any
) -> None:
    async with client_of(fake_api, validate_requests=False) as images:
        with pytest.raises(UnsupportedFileInputError, match="'image_url' or 'file_id'") as caught:
            await images.edit(image=[FileID("file-1"), bad], prompt="p")
    assert caught.value.param == "image[1]"
    assert fake_api.requests == []


# -- validation ------------------------------------------------------------------------------

TOO_LONG_URL = "data:image/png;base64," + "A" * 20_971_520
REJECTED: list[tuple[str, dict[str, Any], str, str]] = [
    ("dall-e-2", {"model": "dall-e-2"}, "model", "dall-e-2 cannot edit images given by ref"),
    ("17 images", {"image": [FileID("file-1")] * 17}, "image", "17 images given"),
    ("http", {"image": ImageURL("http://images.example.invalid/a.png")}, "image", "https URL"),
    ("relative", {"image": ImageURL("cat.png")}, "image", "an https URL or a base64 data URL"),
    ("no host", {"image": ImageURL("https://")}, "image", "an https URL"),
    ("gif", {"image": ImageURL(data_url("image/gif", b"GIF89a"))}, "image", "'image/gif'"),
    ("not base64", {"image": ImageURL("data:image/png,abc")}, "image", "data:image/png;base64"),
    ("damaged", {"image": ImageURL("data:image/png;base64,a$b=")}, "image", "base64 is damaged"),
    ("not an image", {"image": ImageURL(data_url("image/png", b"hello"))}, "image", "is not a"),
    (
        "mislabelled",
        {"image": [FileID("f"), ImageURL(data_url("image/png", jpeg_header_bytes(8, 8)))]},
        "image[1]",
        "says image/png but holds a JPEG",
    ),
    ("too long", {"image": ImageURL(TOO_LONG_URL)}, "image", "the limit is 20,971,520"),
    ("empty file id", {"image": FileID("")}, "image", "file_id must not be empty"),
    (
        "jpeg mask",
        {"mask": ImageURL(data_url("image/jpeg", jpeg_header_bytes(8, 8)))},
        "mask",
        "a PNG is required",
    ),
    (
        "mask size",
        {"image": ImageURL.from_bytes(SQUARE), "mask": ImageURL.from_bytes(OTHER_SQUARE)},
        "mask",
        "is 16x16 but the image",
    ),
    ("response_format", {"response_format": "url"}, "response_format", "always return b64"),
    ("n", {"n": 11}, "n", "between 1 and 10"),
    (
        "compression",
        {"model": "gpt-image-1", "output_compression": 5, "output_format": "png"},
        "output_compression",
        "jpeg and webp",
    ),
    ("fidelity", {"model": "gpt-image-1-mini", "input_fidelity": "low"}, "input_fidelity", "not"),
    ("size", {"model": "gpt-image-1", "size": "256x256"}, "size", "not accepted by gpt-image-1"),
    ("partial", {"partial_images": 4, "stream": True}, "partial_images", "between 0 and 3"),
]


@pytest.mark.parametrize(
    ("overrides", "param", "message"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
async def test_every_rule_is_checked_before_anything_is_sent(
    images: AsyncImages,
    fake_api: FakeImagesAPI,
    overrides: dict[str, Any],
    param: str,
    message: str,
) -> None:
    arguments: dict[str, Any] = {"image": FileID("file-1"), "prompt": "p", **overrides}
    with pytest.raises(InvalidRequestError, match=message) as caught:
        await images.edit(**arguments)
    assert caught.value.param == param
    arguments.pop("stream", None)
    arguments.pop("partial_images", None)
    if "partial_images" not in overrides:
        with pytest.raises(InvalidRequestError, match=message):
            EditRequest(**arguments)
    assert fake_api.requests == []


async def test_a_mask_checked_alone_when_the_image_is_not_a_data_url(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.edit(image=ImageURL(URL), mask=ImageURL.from_bytes(OTHER_SQUARE), prompt="p")
    assert fake_api.last.json == {
        "images": [{"image_url": URL}],
        "mask": {"image_url": data_url("image/png", OTHER_SQUARE)},
        "prompt": "p",
    }


async def test_an_unknown_model_passes_with_its_contents_unchecked(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    odd = ImageURL(data_url("image/png", b"not really a png"))
    await images.edit(image=odd, prompt="p", model="gpt-image-9", response_format="b64_json")
    assert fake_api.last.json == {
        "images": [{"image_url": odd.url}],
        "prompt": "p",
        "model": "gpt-image-9",
        "response_format": "b64_json",
    }
    with pytest.raises(InvalidRequestError, match="https URL") as caught:
        await images.edit(image=ImageURL("ftp://x.invalid/a.png"), prompt="p", model="gpt-image-9")
    assert caught.value.param == "image"
    assert len(fake_api.requests) == 1


async def test_without_validation_a_dall_e_2_edit_by_reference_is_sent(
    fake_api: FakeImagesAPI,
) -> None:
    async with client_of(fake_api, validate_requests=False) as images:
        await images.edit(image=ImageURL("http://a.invalid/x.png"), prompt="p", model="dall-e-2")
    assert fake_api.last.json == {
        "images": [{"image_url": "http://a.invalid/x.png"}],
        "prompt": "p",
        "model": "dall-e-2",
    }


# -- fan-outs and the sync facade ------------------------------------------------------------


async def test_edit_requests_with_references_run_through_run_many(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    requests = [
        EditRequest(image=ImageURL(URL), prompt="zero"),
        EditRequest(image=[{"file_id": "file-1"}, FileID("file-2")], prompt="one", n=2),
        EditRequest(image=ImageURL.from_bytes(SQUARE), mask={"file_id": "m"}, prompt="two"),
        EditRequest(image=SQUARE, prompt="three"),
    ]
    outcomes = [outcome async for outcome in images.run_many(requests, concurrency=1)]
    assert [outcome.ok for outcome in outcomes] == [True] * 4
    received = {request.params["prompt"]: request for request in fake_api.requests}
    assert received["zero"].json == {"images": [{"image_url": URL}], "prompt": "zero"}
    assert received["one"].json == {
        "images": [{"file_id": "file-1"}, {"file_id": "file-2"}],
        "prompt": "one",
        "n": 2,
    }
    assert received["two"].json == {
        "images": [{"image_url": data_url("image/png", SQUARE)}],
        "mask": {"file_id": "m"},
        "prompt": "two",
    }
    assert received["three"].json is None
    assert received["three"].field("image") == SQUARE


def test_the_sync_facade_sends_references_as_json(
    sync_images: Images, threaded_api: ThreadedImagesAPI
) -> None:
    response = sync_images.edit(image=[FileID("file-1"), ImageURL(URL)], prompt="p", n=1)
    assert response.data[0].decode() == TINY_PNG
    assert threaded_api.last.headers["Content-Type"] == "application/json"
    assert threaded_api.last.json == {
        "images": [{"file_id": "file-1"}, {"image_url": URL}],
        "prompt": "p",
        "n": 1,
    }
    with pytest.raises(InvalidRequestError, match="not both"):
        sync_images.edit(image=[FileID("file-1"), SQUARE], prompt="p")
    assert len(threaded_api.requests) == 1


# -- the endpoint table ----------------------------------------------------------------------


def test_the_reference_form_of_an_edit_lists_the_specs_json_parameters() -> None:
    spec = yaml.load(SPEC_PATH.read_bytes(), Loader=yaml.CSafeLoader)
    schema = spec["components"]["schemas"]["EditImageBodyJsonParam"]
    parameters = ENDPOINTS["edit"].reference_parameters
    assert {parameter.name for parameter in parameters} == set(schema["properties"])
    assert {p.name for p in parameters if p.required} == set(schema["required"])
    kinds = {parameter.name: parameter.kind for parameter in parameters}
    assert (kinds["images"], kinds["mask"]) == ("references", "reference")
    assert [ENDPOINTS[name].reference_parameters for name in ("generate", "variation")] == [(), ()]


# -- end to end, against the emulator --------------------------------------------------------

EMULATOR_KEY = "sk-test-json-edits-emulated-0123"
PICTURE = solid_png(64, 64, (20, 120, 200, 255))
MASK = solid_png(64, 64, (0, 0, 0, 0))


@pytest.fixture
async def emulated() -> AsyncIterator[tuple[Emulator, AsyncImages]]:
    """An emulator that knows one key, and a client of it."""
    config = EmulatorConfig(api_keys=frozenset({EMULATOR_KEY}))
    async with (
        Emulator(config) as emulator,
        AsyncImages(api_key=EMULATOR_KEY, base_url=emulator.base_url, max_retries=0) as images,
    ):
        yield emulator, images


async def test_an_edit_by_data_url_draws_what_the_same_files_draw(
    emulated: tuple[Emulator, AsyncImages],
) -> None:
    emulator, images = emulated
    arguments: dict[str, Any] = {"prompt": "a red hat", "model": "gpt-image-1", "n": 2}
    by_reference = await images.edit(
        image=ImageURL.from_bytes(PICTURE), mask=ImageURL.from_bytes(MASK), **arguments
    )
    sent = emulator.requests[-1]
    assert (sent.path, sent.status) == ("/v1/images/edits", 200)
    assert sent.params["images"] == [{"image_url": data_url("image/png", PICTURE)}]
    by_upload = await images.edit(image=PICTURE, mask=MASK, **arguments)
    pictures = [image.decode() for image in by_reference.data]
    assert pictures == [image.decode() for image in by_upload.data]
    assert pictures[0] == expected_edit(PICTURE, "a red hat", 1024, 1024, mask=MASK, count=2)


async def test_file_ids_of_files_uploaded_to_the_emulator_are_edited(
    emulated: tuple[Emulator, AsyncImages],
) -> None:
    emulator, images = emulated
    file_ids = []
    async with aiohttp.ClientSession() as http:
        for content in (PICTURE, MASK):
            form = aiohttp.FormData({"purpose": "vision"})
            form.add_field("file", content, filename="upload.png", content_type="image/png")
            headers = {"Authorization": f"Bearer {EMULATOR_KEY}"}
            async with http.post(f"{emulator.base_url}/files", data=form, headers=headers) as r:
                assert r.status == 200
                file_ids.append((await r.json())["id"])
    image_id, mask_id = file_ids
    response = await images.edit(
        image={"file_id": image_id}, mask=FileID(mask_id), prompt="p", size="1536x1024"
    )
    assert emulator.requests[-1].params["mask"] == {"file_id": mask_id}
    expected = expected_edit(PICTURE, "p", 1536, 1024, mask=MASK)
    assert response.data[0].decode() == expected


async def test_run_many_edits_by_reference_on_the_emulator(
    emulated: tuple[Emulator, AsyncImages],
) -> None:
    emulator, images = emulated
    reference = ImageURL.from_bytes(PICTURE)
    requests = [
        EditRequest(image=reference, prompt=f"hat {i}", model="gpt-image-1") for i in range(3)
    ]
    outcomes = [o async for o in images.run_many(requests, ordered=True, concurrency=2)]
    assert [o.unwrap().data[0].decode() for o in outcomes] == [
        expected_edit(PICTURE, f"hat {i}", 1024, 1024, mask=None) for i in range(3)
    ]
    edits = [r for r in emulator.requests if r.path == "/v1/images/edits"]
    assert sorted(str(r.params["prompt"]) for r in edits) == ["hat 0", "hat 1", "hat 2"]
    assert all(r.params["images"] == [{"image_url": reference.url}] for r in edits)
