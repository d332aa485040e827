"""The emulator's Azure OpenAI routes, seen from raw HTTP and from the official SDK.

``POST /openai/deployments/{deployment}/images/...`` needs an accepted ``api-version``
(404 ``Resource not found`` otherwise, as Azure's gateway answers), an ``api-key`` header or
an Entra ID bearer token (401), and a deployment that exists when deployments are
configured (404 ``DeploymentNotFound``); refusals come in the gateway's
``{"error": {"code", "message"}}`` shape. Calls are recorded with their deployment and
API version, credentials masked. The official ``AsyncAzureOpenAI`` client must be served
as by Azure; the OpenAI routes keep their own rules.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest

from images_async.testing import Emulator, EmulatorConfig, RecordedCall
from images_async.testing.sample_images import solid_png

API_VERSION = "2024-10-21"
API_KEY = "azure-key-0123456789abcdef"
TOKEN = "entra-token-0123456789abcdef"
OPENAI_KEY = "sk-openai-0123456789abcdef"
PROMPT = "a lighthouse at dusk"
PICTURE = ("picture.png", solid_png(256, 256), "image/png")


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """An emulator that accepts any well-formed credential and any dated API version."""
    async with Emulator() as started:
        yield started


def generations_url(
    emulator: Emulator, deployment: str = "gpt-image-1", api_version: str | None = API_VERSION
) -> str:
    url = f"{emulator.azure_endpoint}/openai/deployments/{deployment}/images/generations"
    return url if api_version is None else f"{url}?api-version={api_version}"


async def post(
    url: str, *, headers: Mapping[str, str] | None = None, json_body: object = None
) -> tuple[int, Any, Mapping[str, str]]:
    """One raw request (with the API key unless ``headers`` are given)."""
    sent = {"api-key": API_KEY} if headers is None else dict(headers)
    body = {"prompt": PROMPT, "quality": "low"} if json_body is None else json_body
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=sent) as response,
    ):
        return response.status, json.loads(await response.read()), response.headers


def assert_azure_error(body: Any, code: str) -> None:
    """The gateway's shape: a code and a message, and nothing else."""
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


# -- api-version --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [None, "", "latest", "2024-10-21-beta"])
async def test_missing_or_undated_api_version_is_azures_404(
    emulator: Emulator, version: str | None
) -> None:
    status, body, headers = await post(generations_url(emulator, api_version=version))

    assert status == 404
    assert_azure_error(body, "404")
    assert body["error"]["message"] == "Resource not found"
    assert headers["x-request-id"].startswith("req_")
    [call] = emulator.requests
    assert (call.deployment, call.api_version, call.status) == ("gpt-image-1", version, 404)


async def test_only_configured_api_versions_are_served() -> None:
    config = EmulatorConfig(azure_api_versions=frozenset({"2025-04-01-preview"}))
    async with Emulator(config) as emulator:
        refused, body, _ = await post(generations_url(emulator, api_version=API_VERSION))
        served, _, _ = await post(generations_url(emulator, api_version="2025-04-01-preview"))

    assert (refused, served) == (404, 200)
    assert_azure_error(body, "404")
    assert [call.api_version for call in emulator.requests] == [API_VERSION, "2025-04-01-preview"]


async def test_paths_under_openai_that_are_no_route_are_azures_404(emulator: Emulator) -> None:
    base = f"{emulator.azure_endpoint}/openai"
    for path in ("/images/generations", "/deployments/a/b/images/generations"):
        status, body, _ = await post(f"{base}{path}?api-version={API_VERSION}")
        assert status == 404
        assert_azure_error(body, "404")


# -- credentials --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"api-key": API_KEY}, id="api-key"),
        pytest.param({"Authorization": f"Bearer {TOKEN}"}, id="bearer"),
    ],
)
async def test_an_api_key_or_a_bearer_token_is_accepted(
    emulator: Emulator, headers: dict[str, str]
) -> None:
    status, body, response_headers = await post(generations_url(emulator), headers=headers)

    assert status == 200
    assert len(body["data"]) == 1
    assert response_headers["apim-request-id"]
    assert response_headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="none"),
        pytest.param({"api-key": ""}, id="empty-key"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic"),
        pytest.param({"Authorization": "Bearer two words"}, id="malformed-bearer"),
    ],
)
async def test_a_missing_or_malformed_credential_is_401(
    emulator: Emulator, headers: dict[str, str]
) -> None:
    status, body, _ = await post(generations_url(emulator), headers=headers)

    assert status == 401
    assert_azure_error(body, "401")
    assert emulator.requests[0].status == 401


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"api-key": API_KEY}, 200, id="known-key"),
        pytest.param({"api-key": "azure-key-unknown-000000"}, 401, id="unknown-key"),
        pytest.param({"Authorization": f"Bearer {TOKEN}"}, 200, id="known-token"),
        pytest.param({"Authorization": "Bearer entra-unknown-00000"}, 401, id="unknown-token"),
        # On Azure a bearer credential is a token: a key there is not accepted.
        pytest.param({"Authorization": f"Bearer {API_KEY}"}, 401, id="key-as-bearer"),
        # The api-key header decides when both are sent.
        pytest.param(
            {"api-key": "azure-key-unknown-000000", "Authorization": f"Bearer {TOKEN}"},
            401,
            id="bad-key-good-token",
        ),
    ],
)
async def test_configured_keys_and_tokens_are_the_only_ones_accepted(
    headers: dict[str, str], status: int
) -> None:
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), azure_ad_tokens=frozenset({TOKEN}))
    async with Emulator(config) as emulator:
        answered, body, _ = await post(generations_url(emulator), headers=headers)

    assert answered == status
    if status == 401:
        assert_azure_error(body, "401")
        for secret in headers.values():
            assert secret.removeprefix("Bearer ") not in json.dumps(body)


async def raw_post(emulator: Emulator, path: str, header_lines: list[str]) -> bytes:
    """A request written by hand, so header names keep the exact case given."""
    host, port = emulator.azure_endpoint.removeprefix("http://").rsplit(":", 1)
    body = json.dumps({"prompt": PROMPT, "quality": "low"}).encode()
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *header_lines,
    ]
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write("\r\n".join([*head, "", ""]).encode() + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
        await writer.wait_closed()


def header_values(call: RecordedCall, name: str) -> list[str]:
    """Every recorded value of the header ``name``, however its name was spelled."""
    return [value for key, value in call.headers.items() if key.lower() == name]


async def test_recorded_calls_mask_credentials_whatever_their_spelling(
    emulator: Emulator,
) -> None:
    path = f"/openai/deployments/gpt-image-1/images/generations?api-version={API_VERSION}"
    answers = [
        await raw_post(emulator, path, [f"API-KEY: {API_KEY}"]),
        await raw_post(emulator, path, [f"authorization: Bearer {TOKEN}"]),
    ]

    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)
    by_key, by_token = emulator.requests
    assert header_values(by_key, "api-key") == [f"{API_KEY[:3]}***{API_KEY[-4:]}"]
    assert header_values(by_token, "authorization") == [f"Bearer {TOKEN[:3]}***{TOKEN[-4:]}"]
    assert API_KEY not in repr(emulator.requests)
    assert TOKEN not in repr(emulator.requests)


async def test_openai_routes_keep_their_own_credential_rules(emulator: Emulator) -> None:
    url = f"{emulator.base_url}/images/generations"
    body = {"prompt": PROMPT, "model": "gpt-image-1", "quality": "low"}
    refused, error, _ = await post(url, headers={"api-key": API_KEY}, json_body=body)
    served, _, _ = await post(
        url, headers={"Authorization": f"Bearer {OPENAI_KEY}"}, json_body=body
    )

    assert (refused, served) == (401, 200)
    assert set(error["error"]) == {"message", "type", "param", "code"}  # OpenAI's shape
    assert [(call.deployment, call.api_version) for call in emulator.requests] == [
        (None, None),
        (None, None),
    ]


# -- deployments and their models ---------------------------------------------------------------


async def test_without_configured_deployments_the_name_is_the_model(emulator: Emulator) -> None:
    # No model in the body: the deployment's name says which model answers.
    status, body, _ = await post(
        generations_url(emulator, deployment="dall-e-3"), json_body={"prompt": PROMPT}
    )

    assert status == 200
    assert body["data"][0]["revised_prompt"]  # only dall-e-3 revises prompts
    [call] = emulator.requests
    assert call.deployment == "dall-e-3"
    assert "model" not in call.params  # recorded as sent


async def test_without_configured_deployments_the_requests_model_answers(
    emulator: Emulator,
) -> None:
    status, body, _ = await post(
        generations_url(emulator, deployment="my-images"),
        json_body={"prompt": PROMPT, "model": "dall-e-2", "size": "256x256"},
    )

    assert status == 200
    assert "usage" not in body  # dall-e-2 reports no token usage


async def test_configured_deployments_run_their_model_and_others_are_not_found() -> None:
    config = EmulatorConfig(azure_deployments={"painter": "dall-e-3"})
    async with Emulator(config) as emulator:
        served, body, _ = await post(
            generations_url(emulator, deployment="painter"),
            json_body={"prompt": PROMPT, "model": "gpt-image-1"},
        )
        refused, error, _ = await post(generations_url(emulator, deployment="gpt-image-1"))

    assert served == 200
    assert body["data"][0]["revised_prompt"]  # the deployment's model, not the body's
    assert refused == 404
    assert_azure_error(error, "DeploymentNotFound")
    assert "gpt-image-1" in error["error"]["message"]
    assert [call.params.get("model") for call in emulator.requests] == ["gpt-image-1", None]


async def test_validation_follows_the_deployments_model_in_forms_too() -> None:
    config = EmulatorConfig(azure_deployments={"editor": "gpt-image-1"})
    async with Emulator(config) as emulator:
        form = aiohttp.FormData()
        form.add_field("prompt", "add a hat")
        form.add_field("model", "dall-e-2")
        form.add_field("quality", "low")  # gpt-image-1 takes it; dall-e-2 would not
        form.add_field("image", PICTURE[1], filename=PICTURE[0], content_type=PICTURE[2])
        url = f"{emulator.azure_endpoint}/openai/deployments/editor/images/edits"
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                url, params={"api-version": API_VERSION}, data=form, headers={"api-key": API_KEY}
            ) as response,
        ):
            body = await response.json()

    assert response.status == 200, body
    assert body["usage"]["total_tokens"] > 0  # a GPT image model answered
    [call] = emulator.requests
    assert (call.deployment, call.params["model"]) == ("editor", "dall-e-2")


# -- the official SDK ---------------------------------------------------------------------------


@pytest.fixture
def openai_module() -> Any:
    return pytest.importorskip("openai")


def azure_sdk_client(openai: Any, emulator: Emulator, **options: Any) -> Any:
    return openai.AsyncAzureOpenAI(
        azure_endpoint=emulator.azure_endpoint,
        api_version=API_VERSION,
        max_retries=0,
        timeout=30.0,
        **options,
    )


def api_calls(emulator: Emulator) -> list[RecordedCall]:
    return [call for call in emulator.requests if call.method == "POST"]


async def test_the_official_sdk_generates_and_edits_with_an_api_key(openai_module: Any) -> None:
    config = EmulatorConfig(
        api_keys=frozenset({API_KEY}), azure_api_versions=frozenset({API_VERSION})
    )
    async with (
        Emulator(config) as emulator,
        azure_sdk_client(openai_module, emulator, api_key=API_KEY) as client,
    ):
        generated = await client.images.generate(
            prompt=PROMPT, model="gpt-image-1", size="1024x1536", quality="low"
        )
        edited = await client.images.edit(image=PICTURE, prompt="add a hat", model="gpt-image-1")

    assert generated.data[0].b64_json
    assert (generated.size, generated.quality) == ("1024x1536", "low")
    assert edited.usage.total_tokens > 0
    calls = api_calls(emulator)
    assert [call.path for call in calls] == [
        "/openai/deployments/gpt-image-1/images/generations",
        "/openai/deployments/gpt-image-1/images/edits",
    ]
    for call in calls:
        assert (call.api_version, call.status) == (API_VERSION, 200)
        assert call.headers["api-key"] == f"{API_KEY[:3]}***{API_KEY[-4:]}"
        assert "Authorization" not in call.headers


async def test_the_official_sdk_with_a_token_provider_and_a_deployment(
    openai_module: Any,
) -> None:
    handed_out: list[str] = []

    async def provider() -> str:
        handed_out.append(TOKEN)
        return TOKEN

    config = EmulatorConfig(azure_ad_tokens=frozenset({TOKEN}))
    async with (
        Emulator(config) as emulator,
        azure_sdk_client(
            openai_module, emulator, azure_ad_token_provider=provider, azure_deployment="dalle"
        ) as client,
    ):
        response = await client.images.generate(prompt=PROMPT, model="dall-e-3")

    assert response.data[0].revised_prompt
    assert handed_out == [TOKEN]
    [call] = api_calls(emulator)
    assert call.path == "/openai/deployments/dalle/images/generations"
    assert call.headers["Authorization"] == f"Bearer {TOKEN[:3]}***{TOKEN[-4:]}"
    assert "api-key" not in call.headers


async def test_the_official_sdk_reads_azures_refusals(openai_module: Any) -> None:
    config = EmulatorConfig(
        api_keys=frozenset({API_KEY}), azure_deployments={"gpt-image-1": "gpt-image-1"}
    )
    async with Emulator(config) as emulator:
        async with azure_sdk_client(openai_module, emulator, api_key=API_KEY) as client:
            with pytest.raises(openai_module.NotFoundError) as not_found:
                await client.images.generate(prompt=PROMPT, model="no-such-deployment")
        async with azure_sdk_client(
            openai_module, emulator, api_key="azure-key-unknown-000000"
        ) as client:
            with pytest.raises(openai_module.AuthenticationError) as denied:
                await client.images.generate(prompt=PROMPT, model="gpt-image-1")

    assert not_found.value.code == "DeploymentNotFound"
    assert denied.value.code == "401"
    assert "azure-key-unknown-000000" not in str(denied.value)
