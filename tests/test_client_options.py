"""Client options are checked when a client is made or derived, with typed errors.

Every rejected option raises :class:`ConfigurationError` (an :class:`ImagesError` and a
``ValueError``) naming it, before any connection exists; no credential ever shows in the
error. Accepted values are shown to work against the loopback API.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any

import pytest
from plugins.api_server import API_KEY, TINY_PNG, FakeImagesAPI, Reply
from plugins.leaks import until
from yarl import URL

from images_async import (
    AsyncImages,
    ConfigurationError,
    Images,
    ImagesError,
    ImagesResponse,
    InvalidRequestError,
    MissingAPIKeyError,
    PoolStats,
    RetryPolicy,
    Timeout,
)

SECRET = "sk-secret-0123456789abcdef"
ENVIRONMENT = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def configuration_error(build: Callable[[], object], option: str) -> ConfigurationError:
    """The error ``build`` raises, after checking it is typed, one line and names ``option``."""
    with pytest.raises(ConfigurationError) as caught:
        build()
    error = caught.value
    assert isinstance(error, ImagesError)
    assert isinstance(error, ValueError)
    assert error.option == option
    assert str(error).startswith(f"{option}: "), str(error)
    assert "\n" not in str(error)
    return error


def texts_of(error: BaseException) -> list[str]:
    """Everything a user or a log could see of ``error`` and the errors chained to it."""
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


def assert_not_shown(secret: str, error: BaseException) -> None:
    for text in texts_of(error):
        assert secret not in text, text


def client(**options: Any) -> AsyncImages:
    return AsyncImages(**{"api_key": API_KEY, **options})


# --- numeric options -----------------------------------------------------------------------


NUMBERS_REJECTED = [
    *(("max_connections", value) for value in (-5, 0, True, 1.5, "10")),
    *(("max_response_bytes", value) for value in (0, -1, True, 2.5, None, "100")),
    *(("max_retries", value) for value in (-1, True, 1.5, "2")),
    *(("max_retry_wait", value) for value in (-1, -0.5, math.nan, math.inf, True, "5")),
    *(
        ("retry_policy", value)
        for value in (
            2,
            {"max_retries": 2},
            RetryPolicy(max_retries=-1),
            RetryPolicy(max_retries=True),
            RetryPolicy(max_retries=1.5),  # type: ignore[arg-type]
            RetryPolicy(initial_delay=-0.5),
            RetryPolicy(max_delay=math.inf),
            RetryPolicy(max_retry_wait=math.nan),
            RetryPolicy(initial_delay="1"),  # type: ignore[arg-type]
        )
    ),
    *(
        ("timeout", value)
        for value in (
            0,
            -1,
            math.nan,
            math.inf,
            True,
            "5",
            Timeout(total=-1),
            Timeout(total=math.inf),
            Timeout(total=None, connect=0),
            Timeout(total=None, read=math.nan),
            Timeout(total=None, connect=True),
        )
    ),
    *(("validate_requests", value) for value in ("no", 0, None)),
]


@pytest.mark.parametrize(("option", "value"), NUMBERS_REJECTED, ids=repr)
def test_bad_numbers_and_flags_are_refused_by_the_constructor(option: str, value: object) -> None:
    configuration_error(lambda: client(**{option: value}), option)


WITH_OPTIONS_NAMES = (
    "timeout",
    "max_retries",
    "max_retry_wait",
    "retry_policy",
    "validate_requests",
)
WITH_OPTIONS_REJECTED = [
    (option, value)
    for option, value in NUMBERS_REJECTED
    if option in WITH_OPTIONS_NAMES and value is not None  # None: keep the current value
]


@pytest.mark.parametrize(("option", "value"), WITH_OPTIONS_REJECTED, ids=repr)
async def test_bad_numbers_and_flags_are_refused_by_with_options(
    images: AsyncImages, option: str, value: object
) -> None:
    options: dict[str, Any] = {option: value}
    configuration_error(lambda: images.with_options(**options), option)


ACCEPTED_OPTIONS: list[dict[str, Any]] = [
    {"max_connections": 1},
    {"max_connections": None},  # no limit on the pool
    {"max_response_bytes": 1_000_000},
    {"max_retries": 0},
    {"max_retries": None},  # the retry policy's: 2 by default
    {"max_retry_wait": 0},
    {"max_retry_wait": 2.5},
    {"max_retry_wait": None},
    {"retry_policy": RetryPolicy()},
    {"retry_policy": RetryPolicy(max_retries=0, initial_delay=0, max_delay=0, max_retry_wait=0)},
    {"retry_policy": RetryPolicy(max_retries=5, initial_delay=0.1), "max_retries": 1},
    {"timeout": None},
    {"timeout": 5},
    {"timeout": Timeout(total=None, connect=1, read=2)},
    {"validate_requests": False},
]


@pytest.mark.parametrize("options", ACCEPTED_OPTIONS, ids=repr)
async def test_accepted_options_make_working_clients(
    fake_api: FakeImagesAPI, options: dict[str, Any]
) -> None:
    async with client(base_url=f"{fake_api.base_url}/v1", **options) as images:
        assert isinstance(await images.generate(prompt="p"), ImagesResponse)
        derivable: dict[str, Any] = {k: v for k, v in options.items() if k in WITH_OPTIONS_NAMES}
        derived = images.with_options(**derivable)
        assert isinstance(await derived.generate(prompt="p"), ImagesResponse)


@pytest.mark.parametrize(
    "timeout", [math.inf, Timeout(total=math.inf), Timeout(total=-1), Timeout(connect=0)], ids=repr
)
async def test_a_bad_timeout_for_one_call_is_refused_before_sending(
    images: AsyncImages, fake_api: FakeImagesAPI, timeout: float | Timeout
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await images.generate(prompt="p", timeout=timeout)
    assert caught.value.param == "timeout"
    assert fake_api.requests == []


# --- base_url ------------------------------------------------------------------------------


BASE_URLS_REJECTED = [
    "ftp://example.com/v1",
    "example.com/v1",
    "/v1",
    "http:///v1",
    "http://",
    "http://[::1",
    "http://example.com:99999/v1",
    "https://example.com:port/v1",
    " https://example.com/v1",
    "https://example.com/v1\n",
    "https://exa mple.com/v1",
    "https://example.com/v1?api-version=2024-10-21",
    "https://example.com/v1#fragment",
    42,
    b"https://example.com/v1",
]


@pytest.mark.parametrize("base_url", BASE_URLS_REJECTED, ids=repr)
def test_bad_base_urls_are_refused(base_url: object) -> None:
    configuration_error(lambda: client(base_url=base_url), "base_url")


def test_a_bad_base_url_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "api.example.com/v1")
    error = configuration_error(client, "base_url")
    assert "OPENAI_BASE_URL" in str(error)


@pytest.mark.parametrize(
    "base_url",
    [
        f"https://user:{SECRET}@example.com/v1",
        f"https://{SECRET}@example.com/v1",
        f"https://{SECRET}:@example.com/v1",
        f"https://user:{SECRET}@[::1/v1",  # unparsable, and still holding the secret
        f"ftp://user:{SECRET}@example.com/v1",
        f"https://user:{SECRET}@example.com/v1?q=1",
        URL(f"https://user:{SECRET}@example.com/v1"),
        f"ftp://example.com/v1?key={SECRET}",
        f"http://[::1/v1?key={SECRET}",
        f"https://example.com:99999/v1#{SECRET}",
        f"example.com/v1?key={SECRET}",
    ],
    ids=[
        "user-and-password",
        "user-only",
        "empty-password",
        "unparsable",
        "ftp",
        "query",
        "URL",
        "ftp-key-in-query",
        "unparsable-key-in-query",
        "bad-port-key-in-fragment",
        "no-scheme-key-in-query",
    ],
)
def test_secrets_in_a_bad_base_url_are_never_shown(base_url: str | URL) -> None:
    error = configuration_error(lambda: client(base_url=base_url), "base_url")
    assert_not_shown(SECRET, error)


@pytest.mark.parametrize(
    ("base_url", "kept"),
    [
        ("https://api.example.com/v1", "https://api.example.com/v1"),
        ("https://api.example.com/v1/", "https://api.example.com/v1"),
        ("HTTP://h:8080", "http://h:8080"),
        ("", "https://api.openai.com/v1"),  # empty, like None, means the default
    ],
)
async def test_good_base_urls_are_kept(base_url: str, kept: str) -> None:
    async with client(base_url=base_url) as images:
        assert str(images.base_url) == kept


async def test_a_yarl_url_is_accepted(fake_api: FakeImagesAPI) -> None:
    async with client(base_url=URL(fake_api.base_url) / "v1") as images:
        assert (await images.generate(prompt="p")).data


# --- credentials and headers ---------------------------------------------------------------


CONTROL_CHARACTERS = ["\n", "\r\nX-Injected: 1", "\x00", "\t", "\x7f", "\x1b"]


@pytest.mark.parametrize("bad", CONTROL_CHARACTERS, ids=repr)
@pytest.mark.parametrize("where", ["end", "start", "middle"])
def test_control_characters_in_the_api_key_are_refused_without_showing_it(
    bad: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    at = {"end": len(SECRET), "start": 0, "middle": 8}[where]
    key = SECRET[:at] + bad + SECRET[at:]
    error = configuration_error(lambda: client(api_key=key), "api_key")
    for part in (SECRET[:at], SECRET[at:]):
        if part:
            assert_not_shown(part, error)
            assert all(part not in record.getMessage() for record in caplog.records)


def test_a_key_from_the_environment_with_a_line_break_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET + "\n")  # as read from a file
    error = configuration_error(AsyncImages, "api_key")
    assert "OPENAI_API_KEY" in str(error)
    assert_not_shown(SECRET, error)


def test_an_api_key_that_is_not_a_string_is_refused() -> None:
    error = configuration_error(lambda: client(api_key=SECRET.encode()), "api_key")
    assert_not_shown(SECRET, error)


def test_a_missing_key_is_still_a_missing_api_key_error() -> None:
    with pytest.raises(MissingAPIKeyError):
        AsyncImages()
    with pytest.raises(MissingAPIKeyError):
        AsyncImages(api_key="")


@pytest.mark.parametrize("option", ["organization", "project"])
@pytest.mark.parametrize("bad", CONTROL_CHARACTERS, ids=repr)
def test_control_characters_in_organization_and_project_are_refused(option: str, bad: str) -> None:
    error = configuration_error(lambda: client(**{option: f"org-{SECRET}{bad}"}), option)
    assert_not_shown(SECRET, error)


@pytest.mark.parametrize(
    ("variable", "option"), [("OPENAI_ORG_ID", "organization"), ("OPENAI_PROJECT_ID", "project")]
)
def test_organization_and_project_from_the_environment_are_checked(
    monkeypatch: pytest.MonkeyPatch, variable: str, option: str
) -> None:
    monkeypatch.setenv(variable, "proj\r\nX-Injected: 1")
    error = configuration_error(client, option)
    assert variable in str(error)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Trace": f"{SECRET}\r\nX-Injected: 1"},
        {"X-Trace": f"{SECRET}\x00"},
        {"Bad Name": SECRET},
        {"": SECRET},
        {"X-Trace": 5},
        {5: SECRET},
    ],
    ids=["crlf-value", "nul-value", "space-in-name", "empty-name", "int-value", "int-name"],
)
def test_bad_default_headers_are_refused_without_showing_values(headers: dict[Any, Any]) -> None:
    error = configuration_error(lambda: client(default_headers=headers), "default_headers")
    assert_not_shown(SECRET, error)


async def test_good_credentials_and_headers_reach_the_server(fake_api: FakeImagesAPI) -> None:
    async with client(
        base_url=f"{fake_api.base_url}/v1",
        organization="org-1",
        project="proj_1",
        default_headers={"X-Trace": "a\tb"},  # a tab is a legal header character
    ) as images:
        await images.generate(prompt="p")
    headers = fake_api.last.headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert (headers["OpenAI-Organization"], headers["OpenAI-Project"]) == ("org-1", "proj_1")
    assert headers["X-Trace"] == "a\tb"


# --- query strings, and headers for one call ------------------------------------------------


QUERIES_REJECTED = [
    {"sig": None},
    {"sig": True},
    {"sig": math.nan},
    {"sig": math.inf},
    {"sig": SECRET.encode()},
    {"sig": [SECRET]},
    {5: SECRET},
    "x",
    [("sig", SECRET)],
]


@pytest.mark.parametrize("query", QUERIES_REJECTED, ids=repr)
def test_bad_default_query_is_refused_without_showing_values(query: object) -> None:
    error = configuration_error(lambda: client(default_query=query), "default_query")
    assert_not_shown(SECRET, error)


async def test_numbers_in_a_query_are_sent_as_text(fake_api: FakeImagesAPI) -> None:
    default_query: dict[str, Any] = {"api-version": "2025-01", "n": 3, "ratio": 1.5}
    extra_query: dict[str, Any] = {"page": 2, "note": "a b&c"}
    async with client(base_url=f"{fake_api.base_url}/v1", default_query=default_query) as images:
        await images.generate(prompt="p", extra_query=extra_query)
    assert dict(fake_api.last.query) == {
        "api-version": "2025-01",
        "n": "3",
        "ratio": "1.5",
        "page": "2",
        "note": "a b&c",
    }


EXTRAS_REJECTED = [
    *(
        ("extra_headers", headers)
        for headers in (
            {"X-Trace": f"{SECRET}\nX-Injected: 1"},
            {"X-Trace": f"{SECRET}\x00"},
            {"X-Trace": 1},
            {"Bad Name": SECRET},
            {5: SECRET},
            "x",
        )
    ),
    *(("extra_query", query) for query in QUERIES_REJECTED),
]


@pytest.mark.parametrize("endpoint", ["generate", "edit", "create_variation"])
@pytest.mark.parametrize(("option", "value"), EXTRAS_REJECTED, ids=repr)
async def test_bad_extra_headers_and_query_are_refused_before_sending(
    fake_api: FakeImagesAPI, endpoint: str, option: str, value: object
) -> None:
    image = ("a.png", TINY_PNG, "image/png")
    every_arguments: dict[str, dict[str, Any]] = {
        "generate": {"prompt": "p"},
        "edit": {"image": image, "prompt": "p"},
        "create_variation": {"image": image},
    }
    arguments = every_arguments[endpoint]
    # Checked also when the server is left to check the parameters.
    async with client(base_url=f"{fake_api.base_url}/v1", validate_requests=False) as images:
        with pytest.raises(InvalidRequestError) as caught:
            await getattr(images, endpoint)(**arguments, **{option: value})
    error = caught.value
    assert error.param == option
    assert str(error).startswith(f"{option}: "), str(error)
    assert_not_shown(SECRET, error)
    assert fake_api.requests == []


# --- the connection pool --------------------------------------------------------------------


async def test_pool_stats_count_connections_lent_out_and_idle(fake_api: FakeImagesAPI) -> None:
    async with client(base_url=f"{fake_api.base_url}/v1") as images:
        derived = images.with_options(max_retries=0)
        assert images.pool_stats == PoolStats(acquired=0, idle=0)  # nothing sent yet
        await images.generate(prompt="p")
        assert images.pool_stats == PoolStats(acquired=0, idle=1)

        fake_api.reply(Reply(delay=0.2))
        call = asyncio.ensure_future(images.generate(prompt="p"))
        await until(lambda: images.pool_stats.acquired == 1, "the call to take a connection")
        assert images.pool_stats == PoolStats(acquired=1, idle=0)
        assert derived.pool_stats == images.pool_stats  # derived clients share the pool
        await call
        assert images.pool_stats == PoolStats(acquired=0, idle=1)
    assert images.pool_stats == PoolStats(acquired=0, idle=0)


# --- the sync facade -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_connections", -5), ("base_url", "ftp://h/v1"), ("api_key", "k\n"), ("timeout", -1)],
)
def test_the_sync_client_checks_its_options_alike(option: str, value: object) -> None:
    options: dict[str, Any] = {"api_key": API_KEY, option: value}
    configuration_error(lambda: Images(**options), option)


def test_the_sync_client_counts_its_pool_alike(sync_images: Images) -> None:
    assert sync_images.pool_stats.acquired == 0
    sync_images.generate(prompt="p")
    assert (sync_images.pool_stats.acquired, sync_images.pool_stats.idle) == (0, 1)
    sync_images.close()
    assert (sync_images.pool_stats.acquired, sync_images.pool_stats.idle) == (0, 0)
