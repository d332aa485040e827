"""Injected faults: the plan grammar, what the client observes for each kind, and retries.

Every fault is sent through the real client with ``max_retries=0`` and must surface as the
matching exception; clients retry with no backoff, so retry tests take no time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from images_async import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncImages,
    ImageEventStream,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
)
from images_async.testing import Emulator, EmulatorConfig, Fault, FaultPlan, parse_fault

API_KEY = "sk-test-faults-0123456789"
PROMPT = "a storm over the sea"
#: Retries at once (server-requested waits come from the plan's retry_after).
NO_BACKOFF = RetryPolicy(initial_delay=0, max_delay=0)


@contextlib.asynccontextmanager
async def serve(
    plan: FaultPlan | str, **options: Any
) -> AsyncIterator[tuple[Emulator, AsyncImages]]:
    """An emulator with a fault plan, and a client of it (no retries unless asked)."""
    faults = FaultPlan.parse(plan) if isinstance(plan, str) else plan
    options.setdefault("max_retries", 0)
    options.setdefault("retry_policy", NO_BACKOFF)
    async with (
        Emulator(EmulatorConfig(faults=faults)) as emulator,
        AsyncImages(api_key=API_KEY, base_url=emulator.base_url, **options) as client,
    ):
        yield emulator, client


async def generate_small(client: AsyncImages, *, max_retries: int | None = None) -> None:
    """One cheap dall-e-2 generation."""
    await client.generate(
        prompt=PROMPT, size="256x256", response_format="b64_json", max_retries=max_retries
    )


async def collect_types(stream: ImageEventStream, seen: list[str]) -> None:
    """Append each event's type to ``seen`` until the stream ends (or fails)."""
    async with stream:
        async for event in stream:
            seen.append(event.type)


# --- the grammar --------------------------------------------------------------------------


def test_a_sequence_spec_lists_faults_in_order() -> None:
    plan = FaultPlan.parse("429, status:503,reset,slow_headers:2.5,ok,truncated,disconnect")
    seen = [plan.next_fault() for _ in range(8)]
    assert [str(fault) if fault else None for fault in seen] == [
        "429",
        "503",
        "reset",
        "slow_headers:2.5",
        None,  # "ok" is a placeholder for one successful call
        "truncated",
        "disconnect",
        None,  # after the script, calls succeed
    ]
    assert plan.remaining == 0
    assert plan.retry_after == 1.0


def test_spec_options_set_seed_and_retry_after() -> None:
    plan = FaultPlan.parse("rate=0.3:429,500,reset;seed=7;retry_after=0.25")
    assert plan.rate == 0.3
    assert [str(kind) for kind in plan.kinds] == ["429", "500", "reset"]
    assert (plan.seed, plan.retry_after) == (7, 0.25)
    assert FaultPlan.parse("insufficient_quota;retry_after=0").retry_after == 0.0


def test_single_faults_parse_to_their_kind() -> None:
    assert parse_fault("status:429") == Fault("status", status=429)
    assert parse_fault(" 502 ") == Fault("status", status=502)
    assert parse_fault("slow_headers:3") == Fault("slow_headers", seconds=3.0)
    assert parse_fault("insufficient_quota") == Fault("insufficient_quota")


@pytest.mark.parametrize(
    "spec",
    [
        "418",
        "status:404",
        "explode",
        "slow_headers",
        "slow_headers:soon",
        "rate=often:500",
        "rate=0.5",
        "rate=2:500",
        "rate=0.5:",
        "429;colour=red",
        "429;seed=x",
    ],
)
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the messages are checked by eye)
        FaultPlan.parse(spec)


def test_rate_plans_replay_exactly_for_a_seed() -> None:
    def draws(seed: int) -> list[str | None]:
        plan = FaultPlan.at_rate(0.5, ["500", "reset", "slow_headers:1"], seed=seed)
        return [str(fault) if (fault := plan.next_fault()) else None for _ in range(40)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    assert {None, "500", "reset", "slow_headers:1"} == set(draws(3))


# --- what the client sees -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "error_class", "status"),
    [
        ("429", RateLimitError, 429),
        ("insufficient_quota", RateLimitError, 429),
        ("500", InternalServerError, 500),
        ("502", InternalServerError, 502),
        ("503", InternalServerError, 503),
        ("reset", APIConnectionError, None),
        ("disconnect", APIConnectionError, None),
        ("truncated", APIResponseValidationError, 200),
        ("slow_headers:30", APITimeoutError, None),
    ],
)
async def test_each_fault_reaches_the_client_as_its_exception(
    spec: str, error_class: type[APIError], status: int | None
) -> None:
    async with serve(spec, timeout=0.3) as (emulator, client):
        with pytest.raises(error_class) as caught:
            await generate_small(client)
    assert type(caught.value) is error_class
    assert getattr(caught.value, "status_code", None) == status
    (call,) = emulator.requests
    assert call.fault == spec


async def test_a_429_fault_asks_for_a_wait_and_is_rate_limit_exceeded() -> None:
    async with serve("429;retry_after=2.5") as (_emulator, client):
        with pytest.raises(RateLimitError) as caught:
            await generate_small(client)
    error = caught.value
    assert error.code == "rate_limit_exceeded"
    assert (error.headers["Retry-After"], error.headers["retry-after-ms"]) == ("3", "2500")
    assert error.request_id is not None


async def test_insufficient_quota_has_its_code_and_no_retry_after() -> None:
    async with serve("insufficient_quota") as (_emulator, client):
        with pytest.raises(RateLimitError) as caught:
            await generate_small(client)
    assert (caught.value.code, caught.value.type) == ("insufficient_quota", "insufficient_quota")
    assert "Retry-After" not in caught.value.headers


async def test_a_502_looks_like_a_gateway_page() -> None:
    async with serve("502") as (_emulator, client):
        with pytest.raises(InternalServerError) as caught:
            await generate_small(client)
    assert isinstance(caught.value.body, str)
    assert "502 Bad Gateway" in caught.value.body
    assert caught.value.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("spec", "error_class"),
    [("reset", APIConnectionError), ("truncated", APIResponseValidationError)],
)
async def test_stream_faults_surface_while_iterating(
    spec: str, error_class: type[APIError]
) -> None:
    async with serve(spec) as (_emulator, client):
        stream = await client.generate(
            prompt=PROMPT, model="gpt-image-1", stream=True, partial_images=3
        )
        seen: list[str] = []
        with pytest.raises(error_class):
            await collect_types(stream, seen)
    assert "image_generation.completed" not in seen


async def test_latency_delays_every_answer_past_a_short_timeout() -> None:
    async with (
        Emulator(EmulatorConfig(latency=30.0)) as emulator,
        AsyncImages(
            api_key=API_KEY, base_url=emulator.base_url, max_retries=0, timeout=0.2
        ) as client,
    ):
        with pytest.raises(APITimeoutError):
            await generate_small(client)


async def test_image_downloads_are_never_faulted() -> None:
    async with serve("ok") as (emulator, client):
        response = await client.generate(prompt=PROMPT, size="256x256")
        emulator.config.faults = FaultPlan.parse("500")
        assert (await client.read_image(response.data[0])).startswith(b"\x89PNG")
        with pytest.raises(InternalServerError):
            await generate_small(client)
    assert [(call.method, call.fault) for call in emulator.requests] == [
        ("POST", None),
        ("GET", None),
        ("POST", "500"),
    ]


# --- retries ------------------------------------------------------------------------------


async def test_a_fault_sequence_then_success_with_retries() -> None:
    spec = "429,500,502,503,disconnect,slow_headers:30;retry_after=0"
    async with serve(spec, max_retries=6, timeout=0.5) as (emulator, client):
        raw = await client.with_raw_response.generate(
            prompt=PROMPT, size="256x256", response_format="b64_json"
        )
    assert raw.status_code == 200
    assert raw.retries_taken == 6
    assert [call.fault for call in emulator.requests] == [
        "429",
        "500",
        "502",
        "503",
        "disconnect",
        "slow_headers:30",
        None,
    ]
    assert [call.status for call in emulator.requests][:4] == [429, 500, 502, 503]


async def test_insufficient_quota_is_not_retried() -> None:
    async with serve("insufficient_quota,insufficient_quota") as (emulator, client):
        with pytest.raises(RateLimitError) as caught:
            await generate_small(client, max_retries=3)
    assert caught.value.retries_taken == 0
    assert len(emulator.requests) == 1


async def test_retries_give_up_after_max_retries() -> None:
    async with serve("503,503,503,503", max_retries=2) as (emulator, client):
        with pytest.raises(APIStatusError) as caught:
            await generate_small(client)
    assert (caught.value.status_code, caught.value.retries_taken) == (503, 2)
    assert len(emulator.requests) == 3


async def test_rate_based_faults_are_reproducible_through_the_server() -> None:
    async def observed(seed: int) -> list[str | None]:
        plan = FaultPlan.parse(f"rate=0.5:500,503,429;seed={seed};retry_after=0")
        async with serve(plan) as (emulator, client):
            for _ in range(12):
                with contextlib.suppress(APIStatusError):
                    await generate_small(client)
        return [call.fault for call in emulator.requests]

    first = await observed(11)
    assert first == await observed(11)
    assert first != await observed(12)
    assert None in first
    assert set(first) - {None}
