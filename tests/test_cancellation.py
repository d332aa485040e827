"""Cancelling calls, and cutting oversized responses: connections come back at once.

A call cancelled while waiting for headers, reading the body or sleeping between attempts
must give its connection back before the cancellation finishes, leave no task exception
behind, and leave the client usable. The emulator's slow answers wake up when it closes,
so no test waits for a delay it cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from plugins.api_server import API_KEY, FakeImagesAPI, Reply
from plugins.leaks import acquired_connections, until

from images_async import (
    APIResponseValidationError,
    AsyncImages,
    ImagesResponse,
    RateLimitError,
    RetryPolicy,
)
from images_async.testing import Emulator, EmulatorConfig, FaultPlan

PROMPT = "a paper boat on a pond"
#: Upper bound of every wait for something that should happen almost at once.
HANG_SECONDS = 10.0


@contextlib.asynccontextmanager
async def emulated(plan: str, **options: Any) -> AsyncIterator[tuple[Emulator, AsyncImages]]:
    """An emulator with a fault plan and a client of it (no retries unless given)."""
    options.setdefault("max_retries", 0)
    async with (
        Emulator(EmulatorConfig(faults=FaultPlan.parse(plan))) as emulator,
        AsyncImages(api_key=API_KEY, base_url=emulator.base_url, **options) as images,
    ):
        yield emulator, images


async def small_generation(images: AsyncImages) -> ImagesResponse:
    return await images.generate(prompt=PROMPT, size="256x256", response_format="b64_json")


async def assert_still_usable(images: AsyncImages) -> None:
    response = await asyncio.wait_for(small_generation(images), HANG_SECONDS)
    assert response.data[0].decode().startswith(b"\x89PNG")
    assert acquired_connections(images) == 0


# --- cancelling -----------------------------------------------------------------------------


async def test_cancelling_a_call_waiting_for_headers_releases_its_connection() -> None:
    async with emulated("slow_headers:30") as (emulator, images):
        task = asyncio.ensure_future(small_generation(images))
        await until(lambda: len(emulator.requests) == 1, "the request to arrive")
        assert acquired_connections(images) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert acquired_connections(images) == 0
        await assert_still_usable(images)


async def test_wait_for_around_a_call_releases_its_connection() -> None:
    async with emulated("slow_headers:30") as (_emulator, images):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(small_generation(images), 0.2)
        assert acquired_connections(images) == 0
        await assert_still_usable(images)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
async def test_asyncio_timeout_around_a_call_releases_its_connection() -> None:
    if sys.version_info >= (3, 11):  # for type checkers of Python 3.10
        async with emulated("slow_headers:30") as (_emulator, images):
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await small_generation(images)
            assert acquired_connections(images) == 0
            await assert_still_usable(images)


async def test_cancelling_many_calls_at_once_releases_every_connection() -> None:
    plan = ",".join(["slow_headers:30"] * 6)
    async with emulated(plan) as (emulator, images):
        calls = asyncio.gather(*(small_generation(images) for _ in range(6)))
        await until(lambda: len(emulator.requests) == 6, "six requests to arrive")
        assert acquired_connections(images) == 6
        calls.cancel()
        with pytest.raises(asyncio.CancelledError):
            await calls
        assert acquired_connections(images) == 0
        await assert_still_usable(images)


async def test_cancelling_a_call_mid_body_releases_its_connection(
    fake_api: FakeImagesAPI,
) -> None:
    # An event stream the parsed mode reads in full within the attempt, sent slowly.
    events = [{"type": "image_generation.partial_image", "n": index} for index in range(4)]
    fake_api.reply(Reply(events=events, chunk_delay=0.15))
    async with AsyncImages(
        api_key=API_KEY, base_url=f"{fake_api.base_url}/v1", max_retries=0
    ) as images:
        task = asyncio.ensure_future(images.generate(prompt=PROMPT))
        await until(lambda: len(fake_api.requests) == 1, "the request to arrive")
        await asyncio.sleep(0.05)  # the headers and the first event are out
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert acquired_connections(images) == 0
        await images.generate(prompt=PROMPT)  # the next reply is the default one
        assert acquired_connections(images) == 0


async def test_cancelling_a_call_between_attempts_stops_retrying(
    fake_api: FakeImagesAPI,
) -> None:
    rate_limited = Reply(
        status=429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "30"}
    )
    fake_api.reply(rate_limited)
    async with AsyncImages(
        api_key=API_KEY, base_url=f"{fake_api.base_url}/v1", max_retries=2
    ) as images:
        task = asyncio.ensure_future(images.generate(prompt=PROMPT))
        await until(lambda: len(fake_api.requests) == 1, "the first attempt")
        await asyncio.sleep(0.05)  # the 429 is read; the call sleeps its 30 s
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert acquired_connections(images) == 0
        await asyncio.sleep(0.05)
        assert len(fake_api.requests) == 1  # no retry after the cancellation
        await images.generate(prompt=PROMPT)


async def test_a_cancelled_streaming_call_releases_its_connection() -> None:
    async with emulated("slow_headers:30") as (emulator, images):
        task = asyncio.ensure_future(
            images.generate(prompt=PROMPT, model="gpt-image-1", stream=True, partial_images=1)
        )
        await until(lambda: len(emulator.requests) == 1, "the request to arrive")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert acquired_connections(images) == 0


# --- the response size cap ------------------------------------------------------------------


async def test_a_body_above_max_response_bytes_is_refused_and_released(
    fake_api: FakeImagesAPI,
) -> None:
    fake_api.reply(Reply(body=b"x" * 10_000))
    async with AsyncImages(
        api_key=API_KEY,
        base_url=f"{fake_api.base_url}/v1",
        max_response_bytes=1000,
        max_retries=2,
    ) as images:
        with pytest.raises(APIResponseValidationError, match="max_response_bytes=1000") as caught:
            await images.generate(prompt=PROMPT)
        assert caught.value.status_code == 200
        assert acquired_connections(images) == 0
        assert len(fake_api.requests) == 1  # a size problem is not retried
        await images.generate(prompt=PROMPT)  # a normal answer fits
        assert acquired_connections(images) == 0


async def test_an_oversized_body_after_a_retry_reports_the_retry(fake_api: FakeImagesAPI) -> None:
    fake_api.reply(
        Reply(status=503, json={"error": {"message": "busy"}}), Reply(body=b"x" * 10_000)
    )
    async with AsyncImages(
        api_key=API_KEY,
        base_url=f"{fake_api.base_url}/v1",
        max_response_bytes=1000,
        retry_policy=RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.001),
    ) as images:
        with pytest.raises(APIResponseValidationError) as caught:
            await images.generate(prompt=PROMPT)
        assert caught.value.retries_taken == 1
        assert acquired_connections(images) == 0


async def test_an_emulated_answer_above_the_cap_is_refused() -> None:
    async with emulated("ok", max_response_bytes=64) as (_emulator, images):
        with pytest.raises(APIResponseValidationError):
            await small_generation(images)
        assert acquired_connections(images) == 0


async def test_errors_keep_no_connection(fake_api: FakeImagesAPI) -> None:
    fake_api.reply(
        Reply(status=429, json={"error": {"message": "x" * 200_000}}, headers={"x-a": "1"})
    )
    async with AsyncImages(
        api_key=API_KEY, base_url=f"{fake_api.base_url}/v1", max_retries=0
    ) as images:
        with pytest.raises(RateLimitError):
            await images.generate(prompt=PROMPT)
        assert acquired_connections(images) == 0
