"""The official ``openai`` package pointed at the emulator: it must not tell the difference.

Every call goes through the SDK's own request building, response parsing and error mapping,
so these tests check the emulator's wire format against the reference client (sync
``OpenAI`` with ``max_retries=0``, the emulator served from a thread).
"""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import Iterator

import pytest

from images_async.testing import Emulator, EmulatorConfig, RecordedCall, run_emulator_in_thread
from images_async.testing.sample_images import image_size, solid_png

# Imported after the skip, so that a missing SDK skips this module instead of failing it.
pytest.importorskip("openai")
import openai

API_KEY = "sk-compat-test-0123456789abcdef"
TIMEOUT = 30.0
PICTURE = ("picture.png", solid_png(256, 256), "image/png")
OTHER_PICTURE = ("other.png", solid_png(256, 256, (30, 30, 220, 255)), "image/png")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emulator = Emulator(EmulatorConfig(api_keys=frozenset({API_KEY})))
    with run_emulator_in_thread(emulator):
        yield emulator


@pytest.fixture
def client(emulator: Emulator) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(
        api_key=API_KEY, base_url=emulator.base_url, max_retries=0, timeout=TIMEOUT
    )
    with client:  # closes its HTTP client: no unclosed-socket warning
        yield client


def api_calls(emulator: Emulator) -> list[RecordedCall]:
    return [call for call in emulator.requests if call.method == "POST"]


def test_generate_b64_with_a_gpt_image_model(client: openai.OpenAI, emulator: Emulator) -> None:
    result = client.images.generate(
        prompt="a sea otter", model="gpt-image-1", size="1536x1024", quality="low"
    )

    [image] = result.data or []
    assert image.b64_json is not None
    assert image_size(base64.b64decode(image.b64_json)) == (1536, 1024)
    assert (result.size, result.quality, result.output_format) == ("1536x1024", "low", "png")
    assert result.usage is not None
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    [call] = api_calls(emulator)
    assert call.headers["Authorization"] != f"Bearer {API_KEY}"  # recorded masked


def test_generate_url_with_dall_e_2(client: openai.OpenAI) -> None:
    result = client.images.generate(prompt="a lighthouse", model="dall-e-2", size="256x256", n=2)

    assert len(result.data or []) == 2
    for image in result.data or []:
        assert image.url is not None
        assert image.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(image.url, timeout=TIMEOUT) as response:
            assert image_size(response.read()) == (256, 256)


def test_edit_one_image(client: openai.OpenAI, emulator: Emulator) -> None:
    result = client.images.edit(image=PICTURE, prompt="add a hat", model="gpt-image-1")

    [image] = result.data or []
    assert image.b64_json is not None
    assert image_size(base64.b64decode(image.b64_json)) == (1024, 1024)
    [call] = api_calls(emulator)
    assert [(f.field, f.filename, f.content_type) for f in call.files] == [
        ("image", "picture.png", "image/png")
    ]


def test_edit_several_images_with_a_mask(client: openai.OpenAI, emulator: Emulator) -> None:
    mask = ("mask.png", solid_png(256, 256, (0, 0, 0, 0)), "image/png")
    result = client.images.edit(
        image=[PICTURE, OTHER_PICTURE],
        mask=mask,
        prompt="put them together",
        model="gpt-image-1",
        n=2,
    )

    assert len(result.data or []) == 2
    [call] = api_calls(emulator)
    assert [(f.field, f.filename) for f in call.files] == [
        ("image[]", "picture.png"),
        ("image[]", "other.png"),
        ("mask", "mask.png"),
    ]
    assert call.params == {"prompt": "put them together", "model": "gpt-image-1", "n": "2"}


# Recent SDKs mark create_variation (dall-e-2 only) deprecated; the endpoint still exists.
@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
def test_create_variation(client: openai.OpenAI) -> None:
    result = client.images.create_variation(
        image=PICTURE, n=2, size="256x256", response_format="b64_json"
    )

    assert len(result.data or []) == 2
    for image in result.data or []:
        assert image.b64_json is not None
        assert image_size(base64.b64decode(image.b64_json)) == (256, 256)


def test_streamed_generation_with_a_partial_image(client: openai.OpenAI) -> None:
    stream = client.images.generate(
        prompt="a fox in the snow", model="gpt-image-1", stream=True, partial_images=1
    )
    with stream:
        events = list(stream)

    assert [event.type for event in events] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    for event in events:
        assert image_size(base64.b64decode(event.b64_json)) == (1024, 1024)
    partial, completed = events
    assert isinstance(partial, openai.types.ImageGenPartialImageEvent)
    assert partial.partial_image_index == 0
    assert isinstance(completed, openai.types.ImageGenCompletedEvent)
    assert completed.usage.total_tokens > 0


def test_server_side_validation_is_a_bad_request_error(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    # The SDK sends any n; the API (and so the emulator) takes 1 to 10.
    with pytest.raises(openai.BadRequestError) as error_info:
        client.images.generate(prompt="a cat", model="dall-e-2", n=11)

    error = error_info.value
    assert error.status_code == 400
    assert error.param == "n"
    assert error.code == "invalid_value"
    [call] = api_calls(emulator)
    assert error.request_id == call.request_id


def test_wrong_key_is_an_authentication_error(emulator: Emulator) -> None:
    intruder = openai.OpenAI(
        api_key="sk-wrong-0123456789abcdef", base_url=emulator.base_url, max_retries=0
    )
    with intruder, pytest.raises(openai.AuthenticationError) as error_info:
        intruder.images.generate(prompt="a cat")

    assert error_info.value.status_code == 401
    assert error_info.value.code == "invalid_api_key"
