"""The generated ``AzureImages`` against a recording server on 127.0.0.1, from sync code.

The server answers Azure OpenAI's URL layout (``/openai/deployments/{deployment}/images/...``)
from a thread of its own; each test asserts on what arrived there: path, ``api-version``,
the ``api-key`` or ``Authorization`` header. The parity of the class with
``AsyncAzureImages`` is checked member by member in ``test_sync_parity.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from plugins.api_server import FakeImagesAPI, Reply
from plugins.threaded_server import serving_in_thread

import images_async
from images_async import (
    AzureImages,
    ConfigurationError,
    Images,
    ImagesResponse,
    MissingAPIKeyError,
    RawResponse,
    TokenProviderError,
)
from images_async.testing.sample_images import solid_png

API_KEY = "azure-key-0123456789abcdef"
API_VERSION = "2025-04-01-preview"
TOKEN = "entra-token-0123456789"
AZURE_VARIABLES = (
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "OPENAI_API_VERSION",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, no_proxy_settings: None) -> None:
    """No Azure setting nor proxy from the machine running the tests."""
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def azure_api() -> Iterator[FakeImagesAPI]:
    """A recording Images API on Azure's routes, served from its own thread."""
    api = FakeImagesAPI()
    app = web.Application()
    app.router.add_post("/openai/deployments/{deployment}/images/{endpoint}", api.handle_images)
    with serving_in_thread(app) as api.base_url:
        yield api


def azure_client(endpoint: str, **options: object) -> AzureImages:
    settings: dict[str, object] = {
        "azure_endpoint": endpoint,
        "api_version": API_VERSION,
        "max_retries": 0,
        **options,
    }
    if not {"api_key", "azure_ad_token", "azure_ad_token_provider"} & set(options):
        settings["api_key"] = API_KEY
    return AzureImages(**settings)  # type: ignore[arg-type]


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.png"
    path.write_bytes(solid_png(8, 8))
    return path


def test_generate_edit_and_variation_go_to_the_deployment_with_the_api_key(
    azure_api: FakeImagesAPI, image_file: Path
) -> None:
    with azure_client(azure_api.base_url, azure_deployment="images-dep") as images:
        generated = images.generate(prompt="a lighthouse", model="gpt-image-1")
        edited = images.edit(image=image_file, prompt="at night", model="gpt-image-1")
        varied = images.create_variation(image=image_file, model="dall-e-2")

    assert all(isinstance(r, ImagesResponse) for r in (generated, edited, varied))
    paths = [request.path for request in azure_api.requests]
    assert paths == [
        f"/openai/deployments/images-dep/images/{endpoint}"
        for endpoint in ("generations", "edits", "variations")
    ]
    for request in azure_api.requests:
        assert dict(request.query) == {"api-version": API_VERSION}
        assert request.headers["api-key"] == API_KEY
        assert "Authorization" not in request.headers
    assert azure_api.requests[0].params["prompt"] == "a lighthouse"
    assert azure_api.requests[1].field("prompt") == "at night"


def test_model_names_the_deployment_when_the_client_has_none(azure_api: FakeImagesAPI) -> None:
    with azure_client(azure_api.base_url) as images:
        images.generate(prompt="a kite", model="my-gpt-image")
    assert azure_api.last.path == "/openai/deployments/my-gpt-image/images/generations"


def test_settings_come_from_the_environment(
    azure_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", azure_api.base_url)
    monkeypatch.setenv("OPENAI_API_VERSION", API_VERSION)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", API_KEY)
    with AzureImages(azure_deployment="from-env", max_retries=0) as images:
        images.generate(prompt="a kite", model="gpt-image-1")
    assert azure_api.last.path == "/openai/deployments/from-env/images/generations"
    assert azure_api.last.query["api-version"] == API_VERSION
    assert azure_api.last.headers["api-key"] == API_KEY


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_token_provider_is_called_for_every_attempt(azure_api: FakeImagesAPI, kind: str) -> None:
    issued: list[str] = []

    def sync_provider() -> str:
        issued.append(f"{TOKEN}-{len(issued) + 1}")
        return issued[-1]

    async def async_provider() -> str:
        await asyncio.sleep(0)
        return sync_provider()

    provider = sync_provider if kind == "sync" else async_provider
    azure_api.reply(Reply(status=500, json={"error": {"message": "try again"}}))
    with azure_client(
        azure_api.base_url, azure_ad_token_provider=provider, max_retries=1, max_retry_wait=0.01
    ) as images:
        images.generate(prompt="a kite", model="gpt-image-1")

    assert issued == [f"{TOKEN}-1", f"{TOKEN}-2"]
    sent = [request.headers["Authorization"] for request in azure_api.requests]
    assert sent == [f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-2"]
    assert all("api-key" not in request.headers for request in azure_api.requests)


def test_a_failing_token_provider_is_a_typed_error_and_nothing_is_sent(
    azure_api: FakeImagesAPI,
) -> None:
    def provider() -> str:
        raise RuntimeError(f"cannot reach the identity service with {TOKEN}")

    with (
        azure_client(azure_api.base_url, azure_ad_token_provider=provider) as images,
        pytest.raises(TokenProviderError) as raised,
    ):
        images.generate(prompt="a kite", model="gpt-image-1")
    assert TOKEN not in str(raised.value)
    assert azure_api.requests == []


def test_static_token_goes_in_the_authorization_header(azure_api: FakeImagesAPI) -> None:
    with azure_client(azure_api.base_url, azure_ad_token=TOKEN) as images:
        images.generate(prompt="a kite", model="gpt-image-1")
    assert azure_api.last.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in azure_api.last.headers


def test_missing_api_version_fails_before_anything_is_sent(azure_api: FakeImagesAPI) -> None:
    with pytest.raises(ConfigurationError, match="api_version") as raised:
        AzureImages(azure_endpoint=azure_api.base_url, api_key=API_KEY)
    assert raised.value.option == "api_version"
    assert azure_api.requests == []


def test_missing_credential_is_a_missing_api_key_error(azure_api: FakeImagesAPI) -> None:
    with pytest.raises(MissingAPIKeyError):
        AzureImages(azure_endpoint=azure_api.base_url, api_version=API_VERSION)


def test_with_options_gives_an_azure_client_on_the_same_route(azure_api: FakeImagesAPI) -> None:
    with azure_client(azure_api.base_url, azure_deployment="dep") as images:
        derived = images.with_options(max_retries=0, timeout=30)
        assert type(derived) is AzureImages
        derived.generate(prompt="a kite", model="gpt-image-1")
        raw = derived.with_raw_response.generate(prompt="a kite", model="gpt-image-1")
    assert isinstance(raw, RawResponse)
    assert raw.request_id == "req_2"
    assert [request.path for request in azure_api.requests] == [
        "/openai/deployments/dep/images/generations"
    ] * 2
    assert all(r.headers["api-key"] == API_KEY for r in azure_api.requests)


@pytest.mark.parametrize("credential", ["api_key", "azure_ad_token"])
def test_repr_shows_the_route_but_no_credential(azure_api: FakeImagesAPI, credential: str) -> None:
    secret = API_KEY if credential == "api_key" else TOKEN
    proxy = "http://user:proxy-secret-0123@127.0.0.1:9"
    options = {credential: secret, "proxy": proxy}
    with azure_client(azure_api.base_url, azure_deployment="dep", **options) as images:
        shown = [repr(images), repr(images.with_options(max_retries=1)), str(images)]
    for text in shown:
        assert text == (
            f"AzureImages(azure_endpoint={azure_api.base_url!r}, "
            f"api_version={API_VERSION!r}, azure_deployment='dep')"
        )
        assert secret not in text
        assert "proxy-secret" not in text


def test_azure_images_is_an_images_and_closes_like_one(azure_api: FakeImagesAPI) -> None:
    images = azure_client(azure_api.base_url)
    assert isinstance(images, Images)
    assert not images.is_closed
    images.close()
    assert images.is_closed


def test_azure_images_is_public_and_loaded_on_first_use() -> None:
    script = textwrap.dedent(
        """
        import sys
        import images_async
        assert "images_async._sync_azure" not in sys.modules
        assert "AzureImages" in images_async.__all__ and "AzureImages" in dir(images_async)
        cls = images_async.AzureImages
        assert "images_async._sync_azure" in sys.modules
        print(cls.__module__, cls.__qualname__)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["images_async", "AzureImages"]
    assert images_async.AzureImages is AzureImages
