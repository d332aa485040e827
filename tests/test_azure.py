"""Azure OpenAI clients against the emulator's Azure routes on 127.0.0.1.

Every test asserts on what reached the emulator (path, ``api-version``, which credential
header, the model sent), not only on what the client returned: the deployment in the URL,
``api-key`` or ``Authorization: Bearer`` and never both, tokens fetched per attempt, typed
errors raised before anything is sent, and no key or token in a repr, a message or a record.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from images_async import (
    AsyncAzureImages,
    AsyncImages,
    AttemptEvent,
    AuthenticationError,
    AzureImages,
    ConfigurationError,
    EditRequest,
    GenerateRequest,
    ImageRequest,
    InternalServerError,
    InvalidRequestError,
    MissingAPIKeyError,
    RetryPolicy,
    TokenProviderError,
    VariationRequest,
)
from images_async.testing import (
    Emulator,
    EmulatorConfig,
    FaultPlan,
    RecordedCall,
    run_emulator_in_thread,
)
from images_async.testing.sample_images import solid_png

API_VERSION = "2025-04-01-preview"
API_KEY = "azure-key-0123456789abcdef"
STATIC_TOKEN = "entra-static-token-0123456789"
#: What a token provider hands out, in order: one per attempt.
ISSUED_TOKENS = ("entra-issued-token-0001", "entra-issued-token-0002")
PICTURE = ("picture.png", solid_png(256, 256), "image/png")
AZURE_VARIABLES = (
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
)
#: One quick retry, so a 500 then a 200 takes two attempts and no noticeable time.
ONE_QUICK_RETRY = RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.001)


def masked(secret: str) -> str:
    """A credential as the emulator records it."""
    return f"{secret[:3]}***{secret[-4:]}"


def strict_config() -> EmulatorConfig:
    """Only our key, our tokens and our API version get through."""
    return EmulatorConfig(
        api_keys=frozenset({API_KEY}),
        azure_ad_tokens=frozenset({STATIC_TOKEN, *ISSUED_TOKENS}),
        azure_api_versions=frozenset({API_VERSION}),
    )


@pytest.fixture(autouse=True)
def no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own Azure settings must not leak into these tests."""
    for variable in AZURE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(strict_config()) as started:
        yield started


def azure_client(emulator: Emulator, **options: Any) -> AsyncAzureImages:
    options.setdefault("api_version", API_VERSION)
    if "retry_policy" not in options:
        options.setdefault("max_retries", 0)
    return AsyncAzureImages(azure_endpoint=emulator.azure_endpoint, **options)


def api_calls(emulator: Emulator) -> list[RecordedCall]:
    return [call for call in emulator.requests if call.method == "POST"]


def assert_no_secret_in(text: str) -> None:
    for secret in (API_KEY, STATIC_TOKEN, *ISSUED_TOKENS):
        assert secret not in text


async def generate_edit_and_vary(client: AsyncImages) -> None:
    await client.generate(prompt="a lighthouse", model="gpt-image-1", quality="low")
    await client.edit(image=PICTURE, prompt="add a hat", model="gpt-image-1", quality="low")
    await client.create_variation(image=PICTURE, model="dall-e-2", size="256x256")


# -- the three endpoints with each fixed credential -------------------------------------------


async def test_api_key_goes_in_an_api_key_header_to_each_deployment(emulator: Emulator) -> None:
    async with azure_client(emulator, api_key=API_KEY) as client:
        await generate_edit_and_vary(client)

    calls = api_calls(emulator)
    assert [(call.path, call.status) for call in calls] == [
        ("/openai/deployments/gpt-image-1/images/generations", 200),
        ("/openai/deployments/gpt-image-1/images/edits", 200),
        ("/openai/deployments/dall-e-2/images/variations", 200),
    ]
    for call in calls:
        assert call.api_version == API_VERSION
        assert call.headers["api-key"] == masked(API_KEY)
        assert "Authorization" not in call.headers
    assert [call.params["model"] for call in calls] == ["gpt-image-1", "gpt-image-1", "dall-e-2"]
    assert_no_secret_in(repr(emulator.requests))


async def test_static_token_goes_in_a_bearer_header_without_api_key(emulator: Emulator) -> None:
    async with azure_client(emulator, azure_ad_token=STATIC_TOKEN) as client:
        await generate_edit_and_vary(client)

    calls = api_calls(emulator)
    assert [call.status for call in calls] == [200, 200, 200]
    for call in calls:
        assert call.deployment in ("gpt-image-1", "dall-e-2")
        assert call.api_version == API_VERSION
        assert call.headers["Authorization"] == f"Bearer {masked(STATIC_TOKEN)}"
        assert "api-key" not in {name.lower() for name in call.headers}
    assert_no_secret_in(repr(emulator.requests))


# -- token providers ----------------------------------------------------------------------------


def token_provider(kind: str, handed_out: list[str]) -> Callable[[], Any]:
    """A sync or async provider handing out :data:`ISSUED_TOKENS` in order."""

    def next_token() -> str:
        handed_out.append(ISSUED_TOKENS[len(handed_out)])
        return handed_out[-1]

    async def next_token_later() -> str:
        await asyncio.sleep(0)
        return next_token()

    return next_token if kind == "sync" else next_token_later


#: One call of each endpoint, and the path (under the deployment) it goes to.
ENDPOINT_CALLS: dict[str, tuple[Callable[[AsyncImages], Awaitable[Any]], str]] = {
    "generate": (
        lambda client: client.generate(prompt="a kite", model="gpt-image-1", quality="low"),
        "/openai/deployments/gpt-image-1/images/generations",
    ),
    "edit": (
        lambda client: client.edit(
            image=PICTURE, prompt="add a hat", model="gpt-image-1", quality="low"
        ),
        "/openai/deployments/gpt-image-1/images/edits",
    ),
    "variation": (
        lambda client: client.create_variation(image=PICTURE, model="dall-e-2", size="256x256"),
        "/openai/deployments/dall-e-2/images/variations",
    ),
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINT_CALLS))
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_token_provider_is_asked_before_every_attempt(
    emulator: Emulator, kind: str, endpoint: str
) -> None:
    emulator.config.faults = FaultPlan.scripted("500")
    handed_out: list[str] = []
    provider = token_provider(kind, handed_out)
    call_endpoint, path = ENDPOINT_CALLS[endpoint]
    async with azure_client(
        emulator, azure_ad_token_provider=provider, retry_policy=ONE_QUICK_RETRY
    ) as client:
        response = await call_endpoint(client)

    assert len(response.data) == 1
    assert handed_out == list(ISSUED_TOKENS)
    calls = api_calls(emulator)
    assert [(call.path, call.status) for call in calls] == [(path, 500), (path, 200)]
    # Each attempt carried the token handed out for it, not the first one again.
    assert [call.headers["Authorization"] for call in calls] == [
        f"Bearer {masked(token)}" for token in ISSUED_TOKENS
    ]
    assert all("api-key" not in call.headers for call in calls)


@pytest.mark.parametrize(
    ("provider", "cause"),
    [
        pytest.param(lambda: 1 / 0, ZeroDivisionError, id="raises"),
        pytest.param(lambda: "", None, id="empty"),
        pytest.param(lambda: None, None, id="none"),
        pytest.param(lambda: b"token-as-bytes", None, id="bytes"),
        pytest.param(lambda: "two\nlines", None, id="control-character"),
    ],
)
async def test_failing_token_provider_is_a_typed_error_and_nothing_is_sent(
    emulator: Emulator, provider: Callable[[], object], cause: type[Exception] | None
) -> None:
    async with azure_client(emulator, azure_ad_token_provider=provider) as client:
        with pytest.raises(TokenProviderError) as caught:
            await client.generate(prompt="a kite", model="gpt-image-1")

    assert "azure_ad_token_provider" in str(caught.value)
    if cause is not None:
        assert isinstance(caught.value.__cause__, cause)
    assert emulator.requests == []


async def test_async_provider_failure_does_not_quote_what_it_said(emulator: Emulator) -> None:
    async def leaky_provider() -> str:
        raise RuntimeError(f"could not refresh {STATIC_TOKEN}")

    async with azure_client(emulator, azure_ad_token_provider=leaky_provider) as client:
        with pytest.raises(TokenProviderError) as caught:
            await client.generate(prompt="a kite", model="gpt-image-1")

    assert "RuntimeError" in str(caught.value)
    assert_no_secret_in(str(caught.value))
    assert emulator.requests == []


# -- deployments --------------------------------------------------------------------------------


async def test_client_deployment_names_the_path_and_model_still_travels(
    emulator: Emulator,
) -> None:
    async with azure_client(emulator, api_key=API_KEY, azure_deployment="gpt-image-1") as client:
        await client.generate(prompt="a kite", quality="low")
        await client.generate(prompt="a kite", model="gpt-image-1-mini", quality="low")

    first, second = api_calls(emulator)
    assert first.path == second.path == "/openai/deployments/gpt-image-1/images/generations"
    assert "model" not in first.params
    assert second.params["model"] == "gpt-image-1-mini"


async def test_model_names_the_deployment_when_the_client_has_none(emulator: Emulator) -> None:
    async with azure_client(emulator, api_key=API_KEY) as client:
        await client.generate(prompt="a kite", model="dall-e-3")

    [call] = api_calls(emulator)
    assert call.deployment == "dall-e-3"
    assert call.path == "/openai/deployments/dall-e-3/images/generations"
    assert call.params["model"] == "dall-e-3"


@pytest.mark.parametrize("model", [None, "a/b", "..", "name with spaces"])
async def test_without_a_usable_deployment_nothing_is_sent(
    emulator: Emulator, model: str | None
) -> None:
    async with azure_client(emulator, api_key=API_KEY) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.generate(prompt="a kite", model=model, quality="low")

    assert caught.value.param == "model"
    assert "azure_deployment" in str(caught.value)
    assert emulator.requests == []


@pytest.mark.parametrize("deployment", ["", "a/b", "..", "dall e", 3])
def test_a_bad_azure_deployment_is_a_configuration_error(deployment: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncAzureImages(
            azure_endpoint="http://images.invalid",
            api_version=API_VERSION,
            api_key=API_KEY,
            azure_deployment=deployment,
        )
    assert caught.value.option == "azure_deployment"


# -- configuration and the environment -------------------------------------------------------


async def test_settings_come_from_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emulator.azure_endpoint)
    monkeypatch.setenv("OPENAI_API_VERSION", API_VERSION)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", API_KEY)
    async with AsyncAzureImages(max_retries=0) as client:
        await client.generate(prompt="a kite", model="gpt-image-1", quality="low")
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", STATIC_TOKEN)
    async with AsyncAzureImages(max_retries=0) as client:
        # Both in the environment: the token, as the official SDK chooses.
        await client.generate(prompt="a kite", model="gpt-image-1", quality="low")

    by_key, by_token = api_calls(emulator)
    assert (by_key.api_version, by_key.status) == (API_VERSION, 200)
    assert by_key.headers["api-key"] == masked(API_KEY)
    assert "Authorization" not in by_key.headers
    assert by_token.headers["Authorization"] == f"Bearer {masked(STATIC_TOKEN)}"
    assert "api-key" not in by_token.headers


async def test_arguments_win_over_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "http://from-the-environment.invalid")
    monkeypatch.setenv("OPENAI_API_VERSION", "1999-01-01")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-from-the-environment")
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "entra-token-from-the-environment")
    async with azure_client(emulator, api_key=API_KEY) as client:
        await client.generate(prompt="a kite", model="gpt-image-1", quality="low")
    async with azure_client(emulator, azure_ad_token=STATIC_TOKEN) as client:
        await client.generate(prompt="a kite", model="gpt-image-1", quality="low")

    by_key, by_token = api_calls(emulator)
    assert (by_key.api_version, by_key.status, by_token.status) == (API_VERSION, 200, 200)
    assert by_key.headers["api-key"] == masked(API_KEY)
    assert "Authorization" not in by_key.headers
    assert by_token.headers["Authorization"] == f"Bearer {masked(STATIC_TOKEN)}"
    assert "api-key" not in by_token.headers


async def test_missing_api_version_is_a_configuration_error_naming_it(
    emulator: Emulator,
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncAzureImages(azure_endpoint=emulator.azure_endpoint, api_key=API_KEY)

    assert caught.value.option == "api_version"
    assert "api_version" in str(caught.value)
    assert "OPENAI_API_VERSION" in str(caught.value)
    assert emulator.requests == []


@pytest.mark.parametrize("version", ["2025-04-01 preview", "2025/04/01", "v1&x=y"])
def test_an_api_version_that_cannot_be_one_is_refused(version: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncAzureImages(
            azure_endpoint="http://images.invalid", api_version=version, api_key=API_KEY
        )
    assert caught.value.option == "api_version"


def test_missing_endpoint_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncAzureImages(api_version=API_VERSION, api_key=API_KEY)
    assert caught.value.option == "azure_endpoint"
    assert "AZURE_OPENAI_ENDPOINT" in str(caught.value)


@pytest.mark.parametrize(
    "credentials",
    [
        {"api_key": API_KEY, "azure_ad_token": STATIC_TOKEN},
        {"api_key": API_KEY, "azure_ad_token_provider": lambda: STATIC_TOKEN},
        {"azure_ad_token": STATIC_TOKEN, "azure_ad_token_provider": lambda: STATIC_TOKEN},
    ],
    ids=["key-and-token", "key-and-provider", "token-and-provider"],
)
def test_two_credentials_are_a_configuration_error(credentials: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncAzureImages(
            azure_endpoint="http://images.invalid", api_version=API_VERSION, **credentials
        )
    assert "one credential" in str(caught.value)
    assert_no_secret_in(str(caught.value))


def test_no_credential_is_a_missing_api_key_error() -> None:
    with pytest.raises(MissingAPIKeyError) as caught:
        AsyncAzureImages(azure_endpoint="http://images.invalid", api_version=API_VERSION)
    assert "AZURE_OPENAI_API_KEY" in str(caught.value)


def test_a_provider_that_is_not_callable_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncAzureImages(
            azure_endpoint="http://images.invalid",
            api_version=API_VERSION,
            azure_ad_token_provider=STATIC_TOKEN,  # type: ignore[arg-type]
        )
    assert caught.value.option == "azure_ad_token_provider"
    assert_no_secret_in(str(caught.value))


# -- response modes, fan-outs, derived clients ---------------------------------------------------


async def test_raw_and_streaming_responses_take_the_azure_route(emulator: Emulator) -> None:
    async with azure_client(emulator, api_key=API_KEY, azure_deployment="gpt-image-1") as client:
        raw = await client.with_raw_response.generate(prompt="a kite", quality="low")
        async with client.with_streaming_response.edit(
            image=PICTURE, prompt="a hat", quality="low"
        ) as streamed:
            body = b"".join([chunk async for chunk in streamed.iter_bytes()])
        stream = await client.generate(
            prompt="a kite", quality="low", stream=True, partial_images=1
        )
        events = [event.type async for event in stream]

    assert raw.status_code == 200
    assert len(raw.parse().data) == 1
    assert b'"b64_json"' in body
    assert events == ["image_generation.partial_image", "image_generation.completed"]
    calls = api_calls(emulator)
    assert [call.path for call in calls] == [
        "/openai/deployments/gpt-image-1/images/generations",
        "/openai/deployments/gpt-image-1/images/edits",
        "/openai/deployments/gpt-image-1/images/generations",
    ]
    assert {call.api_version for call in calls} == {API_VERSION}
    assert all(call.headers["api-key"] == masked(API_KEY) for call in calls)


async def test_run_many_sends_every_request_to_its_deployment(emulator: Emulator) -> None:
    requests: list[ImageRequest] = [
        GenerateRequest(prompt="a kite", model="gpt-image-1", quality="low"),
        EditRequest(image=PICTURE, prompt="a hat", model="gpt-image-1-mini", quality="low"),
        VariationRequest(image=PICTURE, model="dall-e-2", size="256x256"),
    ]
    async with azure_client(emulator, azure_ad_token=STATIC_TOKEN) as client:
        outcomes = [outcome async for outcome in client.run_many(requests, ordered=True)]

    assert [outcome.ok for outcome in outcomes] == [True, True, True]
    assert sorted(call.path for call in api_calls(emulator)) == [
        "/openai/deployments/dall-e-2/images/variations",
        "/openai/deployments/gpt-image-1-mini/images/edits",
        "/openai/deployments/gpt-image-1/images/generations",
    ]
    assert {call.headers["Authorization"] for call in api_calls(emulator)} == {
        f"Bearer {masked(STATIC_TOKEN)}"
    }


async def test_with_options_keeps_the_route_and_the_token_provider(emulator: Emulator) -> None:
    emulator.config.faults = FaultPlan.scripted("500")
    handed_out: list[str] = []
    provider = token_provider("async", handed_out)
    async with azure_client(emulator, azure_ad_token_provider=provider) as client:
        retrying = client.with_options(retry_policy=ONE_QUICK_RETRY)
        await retrying.generate(prompt="a kite", model="gpt-image-1", quality="low")

    assert isinstance(retrying, AsyncAzureImages)
    assert repr(retrying) == repr(client)
    assert handed_out == list(ISSUED_TOKENS)
    assert [(call.deployment, call.api_version, call.status) for call in api_calls(emulator)] == [
        ("gpt-image-1", API_VERSION, 500),
        ("gpt-image-1", API_VERSION, 200),
    ]


# -- credentials stay secret --------------------------------------------------------------------


@pytest.mark.parametrize(
    "credential",
    [{"api_key": API_KEY}, {"azure_ad_token": STATIC_TOKEN}],
    ids=["api-key", "token"],
)
async def test_credentials_appear_in_no_repr_and_no_error(
    credential: dict[str, str],
) -> None:
    # An emulator that knows neither credential: every call is refused.
    config = EmulatorConfig(
        api_keys=frozenset({"another-key-0000000000"}),
        azure_ad_tokens=frozenset({"another-token-0000000000"}),
    )
    async with Emulator(config) as emulator:
        async with azure_client(emulator, azure_deployment="gpt-image-1", **credential) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.generate(prompt="a kite")
            shown = repr(client)

        assert caught.value.status_code == 401
        assert_no_secret_in(" ".join([shown, str(caught.value), repr(caught.value)]))
        assert_no_secret_in(repr(emulator.requests))
        assert emulator.azure_endpoint in shown
        assert "gpt-image-1" in shown
        assert API_VERSION in shown


CREDENTIAL_KINDS = ["api-key", "static-token", "sync-provider", "async-provider"]


def credential_options(kind: str, handed_out: list[str]) -> dict[str, Any]:
    """The constructor argument of one credential kind (providers hand out into ``handed_out``)."""
    if kind == "api-key":
        return {"api_key": API_KEY}
    if kind == "static-token":
        return {"azure_ad_token": STATIC_TOKEN}
    return {"azure_ad_token_provider": token_provider(kind.split("-")[0], handed_out)}


def credential_sent(call: RecordedCall) -> str:
    """The credential header a call arrived with, as the emulator recorded it."""
    if "api-key" in call.headers:
        return f"api-key: {call.headers['api-key']}"
    return f"Authorization: {call.headers['Authorization']}"


def everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record formatted with every attribute it has (its event too), tracebacks included."""
    formatter = logging.Formatter()
    return "\n".join(
        f"{formatter.format(record)}\n{sorted(vars(record).items(), key=lambda item: item[0])!r}"
        for record in records
    )


def error_text(error: BaseException) -> str:
    """All an error shows: its message, repr and traceback, with the errors chained to it."""
    return " ".join([str(error), repr(error), *traceback.format_exception(error)])


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
async def test_no_credential_in_log_records_events_or_errors_of_a_retried_call(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="images_async")
    emulator.config.faults = FaultPlan.scripted("500")
    events: list[AttemptEvent] = []
    handed_out: list[str] = []
    async with azure_client(
        emulator,
        retry_policy=ONE_QUICK_RETRY,
        on_attempt=events.append,
        **credential_options(kind, handed_out),
    ) as client:
        await client.generate(prompt="a kite", model="gpt-image-1", quality="low")

    calls = api_calls(emulator)
    assert [call.status for call in calls] == [500, 200]
    # Each attempt carried the credential (as the emulator masks it): there was one to leak.
    expected = {
        "api-key": [f"api-key: {masked(API_KEY)}"] * 2,
        "static-token": [f"Authorization: Bearer {masked(STATIC_TOKEN)}"] * 2,
    }.get(kind, [f"Authorization: Bearer {masked(token)}" for token in ISSUED_TOKENS])
    assert [credential_sent(call) for call in calls] == expected
    records = [record for record in caplog.records if record.name == "images_async"]
    assert [record.levelname for record in records] == ["DEBUG", "WARNING", "DEBUG"]
    first, second = events
    assert isinstance(first.error, InternalServerError)
    assert second.error is None
    assert_no_secret_in(everything_logged(caplog.records))
    assert_no_secret_in(repr(events))
    assert_no_secret_in(error_text(first.error))


@pytest.mark.parametrize("kind", ["sync-provider", "async-provider"])
async def test_a_failing_provider_leaks_no_token_into_records_events_or_errors(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="images_async")

    def leaky() -> str:
        raise RuntimeError(f"could not refresh {STATIC_TOKEN}")

    async def leaky_later() -> str:
        return leaky()

    events: list[AttemptEvent] = []
    provider = leaky if kind == "sync-provider" else leaky_later
    async with azure_client(
        emulator, azure_ad_token_provider=provider, on_attempt=events.append
    ) as client:
        with pytest.raises(TokenProviderError) as caught:
            await client.generate(prompt="a kite", model="gpt-image-1")

    assert emulator.requests == []
    (event,) = events
    assert event.error is caught.value
    assert isinstance(caught.value.__cause__, RuntimeError)  # kept, for the traceback
    assert_no_secret_in(str(caught.value))
    assert_no_secret_in(repr(caught.value))
    assert_no_secret_in(everything_logged(caplog.records))
    assert_no_secret_in(repr(events))


# -- the sync twin ------------------------------------------------------------------------------


@pytest.fixture
def threaded_emulator() -> Iterator[Emulator]:
    """The emulator on a thread of its own: a sync client blocks this one."""
    emulator = Emulator(strict_config())
    with run_emulator_in_thread(emulator):
        yield emulator


def sync_client(emulator: Emulator, **options: Any) -> AzureImages:
    return AzureImages(azure_endpoint=emulator.azure_endpoint, api_version=API_VERSION, **options)


def test_sync_client_with_an_api_key(threaded_emulator: Emulator) -> None:
    with sync_client(threaded_emulator, api_key=API_KEY, max_retries=0) as images:
        images.generate(prompt="a kite", model="gpt-image-1", quality="low")
        images.create_variation(image=PICTURE, model="dall-e-2", size="256x256")
        shown = repr(images)

    assert [(call.path, call.status) for call in api_calls(threaded_emulator)] == [
        ("/openai/deployments/gpt-image-1/images/generations", 200),
        ("/openai/deployments/dall-e-2/images/variations", 200),
    ]
    for call in api_calls(threaded_emulator):
        assert call.api_version == API_VERSION
        assert call.headers["api-key"] == masked(API_KEY)
        assert "Authorization" not in call.headers
    assert_no_secret_in(shown)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_sync_client_asks_the_token_provider_every_attempt(
    threaded_emulator: Emulator, kind: str
) -> None:
    threaded_emulator.config.faults = FaultPlan.scripted("500")
    handed_out: list[str] = []
    provider = token_provider(kind, handed_out)
    with sync_client(
        threaded_emulator, azure_ad_token_provider=provider, retry_policy=ONE_QUICK_RETRY
    ) as images:
        images.generate(prompt="a kite", model="gpt-image-1", quality="low")

    assert handed_out == list(ISSUED_TOKENS)
    calls = api_calls(threaded_emulator)
    assert [call.status for call in calls] == [500, 200]
    assert [call.headers["Authorization"] for call in calls] == [
        f"Bearer {masked(token)}" for token in ISSUED_TOKENS
    ]


def test_sync_client_takes_the_deployment_from_the_model(threaded_emulator: Emulator) -> None:
    with sync_client(threaded_emulator, azure_ad_token=STATIC_TOKEN, max_retries=0) as images:
        images.edit(image=PICTURE, prompt="a hat", model="gpt-image-1-mini", quality="low")
        with pytest.raises(InvalidRequestError):
            images.generate(prompt="a kite")

    [call] = api_calls(threaded_emulator)
    assert call.path == "/openai/deployments/gpt-image-1-mini/images/edits"
    assert call.params["model"] == "gpt-image-1-mini"
    assert call.headers["Authorization"] == f"Bearer {masked(STATIC_TOKEN)}"
