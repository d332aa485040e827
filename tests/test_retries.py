"""Retries through the real client against loopback servers: what is retried, how often,
after which wait, with which headers and bodies; and timeouts.

The recording ``fake_api`` scripts statuses and headers exactly; the emulator injects
connection faults (resets, disconnects, slow headers). Clients here back off for a few
milliseconds (a public ``RetryPolicy``), and server-requested waits are kept as short: the
exact schedule is checked without a server in test_retry_properties. Waits are seen from
outside, as time that passed at least (never as an upper limit) or as an error's
``retry_after``.
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import random
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from plugins.api_server import API_KEY, FakeImagesAPI, Reply

from images_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncImages,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    Timeout,
    UnprocessableEntityError,
)
from images_async.testing import Emulator, EmulatorConfig, FaultPlan
from images_async.testing.sample_images import png_from_rows

PROMPT = "a lighthouse at dusk"
#: Upper bound of a "did not hang" check; real waits here are a fraction of a second.
HANG_SECONDS = 10.0


def noisy_png(side: int, seed: int = 7) -> bytes:
    """A PNG of random pixels: large (it does not compress) and the same for a seed."""
    chooser = random.Random(seed)
    rows = [chooser.randbytes(side * 4) for _ in range(side)]
    return png_from_rows(side, side, rows)


UPLOAD = noisy_png(256)


#: The default number of retries, with backoff of a few milliseconds instead of seconds.
QUICK = RetryPolicy(initial_delay=0.001, max_delay=0.004)


@contextlib.asynccontextmanager
async def client_of(fake_api: FakeImagesAPI, **options: Any) -> AsyncIterator[AsyncImages]:
    """A client of ``fake_api`` with quick backoff (default retries unless given)."""
    options.setdefault("retry_policy", QUICK)
    async with AsyncImages(
        api_key=API_KEY, base_url=f"{fake_api.base_url}/v1", **options
    ) as images:
        yield images


@contextlib.asynccontextmanager
async def emulated(plan: str, **options: Any) -> AsyncIterator[tuple[Emulator, AsyncImages]]:
    """An emulator with a fault plan and a client of it with quick backoff."""
    options.setdefault("retry_policy", QUICK)
    async with (
        Emulator(EmulatorConfig(faults=FaultPlan.parse(plan))) as emulator,
        AsyncImages(api_key=API_KEY, base_url=emulator.base_url, **options) as images,
    ):
        yield emulator, images


def least_backoff(policy: RetryPolicy, retries: int) -> float:
    """The shortest the documented schedule lets ``retries`` backoffs take together."""
    return sum(
        0.75 * min(policy.initial_delay * 2.0**retry, policy.max_delay) for retry in range(retries)
    )


def error_reply(
    status: int, headers: dict[str, str] | None = None, code: str | None = None
) -> Reply:
    body = {"error": {"message": f"status {status}", "type": "test", "code": code}}
    return Reply(status=status, json=body, headers=headers or {})


def idempotency_keys(fake_api: FakeImagesAPI) -> list[str]:
    return [request.headers["Idempotency-Key"] for request in fake_api.requests]


async def generate(images: AsyncImages, **options: Any) -> Any:
    return await images.with_raw_response.generate(prompt=PROMPT, **options)


# --- what is retried ----------------------------------------------------------------------


#: Retried as the API's documentation says: 408, 409, 429 and every status from 500 up.
@pytest.mark.parametrize("status", [408, 409, 429, 500, 501, 502, 503, 504, 505, 520, 599])
async def test_retryable_statuses_are_retried(fake_api: FakeImagesAPI, status: int) -> None:
    fake_api.reply(error_reply(status), error_reply(status))
    async with client_of(fake_api) as images:  # the default: 2 retries
        raw = await generate(images)
    assert (raw.status_code, raw.retries_taken) == (200, 2)
    assert len(fake_api.requests) == 3


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
        (499, APIStatusError),
    ],
)
async def test_other_statuses_fail_at_once(
    fake_api: FakeImagesAPI, status: int, error_class: type[APIStatusError]
) -> None:
    fake_api.reply(error_reply(status))
    async with client_of(fake_api, max_retries=5) as images:
        with pytest.raises(error_class) as caught:
            await generate(images)
    assert (caught.value.status_code, caught.value.retries_taken) == (status, 0)
    assert len(fake_api.requests) == 1


async def test_the_last_error_is_raised_with_the_retries_taken(fake_api: FakeImagesAPI) -> None:
    fake_api.reply(error_reply(500), error_reply(502), error_reply(409), error_reply(500))
    async with client_of(fake_api) as images:
        with pytest.raises(ConflictError) as caught:
            await generate(images)
    assert caught.value.retries_taken == 2
    assert len(fake_api.requests) == 3


async def test_the_client_backs_off_as_its_retry_policy_says(fake_api: FakeImagesAPI) -> None:
    policy = RetryPolicy(max_retries=7, initial_delay=0.01, max_delay=0.04)
    fake_api.reply(*[error_reply(503)] * 7)
    async with client_of(fake_api, retry_policy=policy) as images:
        started = time.monotonic()
        raw = await generate(images)
        elapsed = time.monotonic() - started
    assert raw.retries_taken == 7
    assert elapsed >= least_backoff(policy, 7)


async def test_max_retries_replaces_the_retry_policys_own(fake_api: FakeImagesAPI) -> None:
    fake_api.reply(*[error_reply(500)] * 4)
    policy = RetryPolicy(max_retries=5, initial_delay=0.001, max_delay=0.001)
    async with client_of(fake_api, retry_policy=policy, max_retries=1) as images:
        with pytest.raises(InternalServerError) as caught:
            await generate(images)
        assert caught.value.retries_taken == 1
        raw = await generate(images.with_options(retry_policy=policy))  # the policy's 5
        assert raw.retries_taken == 2  # the two 500s left, then the default 200


async def test_max_retries_per_call_and_per_client(fake_api: FakeImagesAPI) -> None:
    async with client_of(fake_api, max_retries=1) as images:
        fake_api.reply(*[error_reply(500)] * 3)
        raw = await generate(images, max_retries=3)
        assert raw.retries_taken == 3

        fake_api.reply(error_reply(500))
        with pytest.raises(InternalServerError) as caught:
            await generate(images, max_retries=0)
        assert caught.value.retries_taken == 0

        fake_api.reply(error_reply(500), error_reply(500))
        with pytest.raises(InternalServerError) as caught:
            await generate(images)  # the client's own: 1 retry
        assert caught.value.retries_taken == 1

        fake_api.reply(error_reply(500), error_reply(500))
        raw = await generate(images.with_options(max_retries=2))
        assert raw.retries_taken == 2

        fake_api.reply(error_reply(500), error_reply(500))
        with pytest.raises(InternalServerError):
            await generate(images)  # with_options left the original alone
    assert len(fake_api.requests) == 4 + 1 + 2 + 3 + 2


@pytest.mark.parametrize("max_retries", [-1, 1.5, True])
def test_bad_max_retries_are_refused(max_retries: Any) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        AsyncImages(api_key=API_KEY, max_retries=max_retries)


# --- what the server says -----------------------------------------------------------------


async def test_x_should_retry_true_retries_any_status(fake_api: FakeImagesAPI) -> None:
    fake_api.reply(error_reply(400, {"x-should-retry": "true"}))
    async with client_of(fake_api) as images:
        raw = await generate(images)
    assert raw.retries_taken == 1
    assert len(fake_api.requests) == 2


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_x_should_retry_false_stops_retrying(fake_api: FakeImagesAPI, status: int) -> None:
    fake_api.reply(error_reply(status, {"x-should-retry": "false"}))
    async with client_of(fake_api) as images:
        with pytest.raises(APIStatusError) as caught:
            await generate(images)
    assert caught.value.retries_taken == 0
    assert len(fake_api.requests) == 1


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "0.05"}, 0.05),
        ({"retry-after-ms": "50"}, 0.05),
        ({"retry-after-ms": "50", "Retry-After": "7"}, 0.05),  # 7 s would be above the cap
    ],
)
async def test_the_server_requested_wait_is_waited_for(
    fake_api: FakeImagesAPI, status: int, headers: dict[str, str], expected: float
) -> None:
    fake_api.reply(error_reply(status, headers))
    async with client_of(fake_api, max_retry_wait=1.0) as images:  # backoff: <= 4 ms
        started = time.monotonic()
        raw = await generate(images)
        elapsed = time.monotonic() - started
    assert raw.retries_taken == 1
    assert elapsed >= expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "7"}, 0.25),
    ],
)
async def test_the_error_tells_the_wait_the_server_asked_for(
    fake_api: FakeImagesAPI, headers: dict[str, str], expected: float
) -> None:
    fake_api.reply(error_reply(429, headers))
    async with client_of(fake_api, max_retries=0) as images:
        with pytest.raises(RateLimitError) as caught:
            await generate(images)
    assert caught.value.retry_after == expected


async def test_a_retry_after_http_date_within_the_cap_is_waited_for(
    fake_api: FakeImagesAPI,
) -> None:
    # HTTP dates have whole seconds: this one is at most a second away.
    fake_api.reply(error_reply(429, {"Retry-After": http_date(1)}))
    async with client_of(fake_api, max_retry_wait=1.0) as images:
        raw = await generate(images)
    assert raw.retries_taken == 1
    assert len(fake_api.requests) == 2


@pytest.mark.parametrize(
    ("name", "value", "server_wait"),
    [
        ("Retry-After", "120", 120.0),
        ("retry-after-ms", "90000", 90.0),
        ("Retry-After", "date:3600", 3600.0),
    ],
)
async def test_a_wait_above_the_cap_fails_at_once_and_tells_the_wait(
    fake_api: FakeImagesAPI, name: str, value: str, server_wait: float
) -> None:
    if value.startswith("date:"):  # made now: a date made at collection would have aged
        value = http_date(float(value.removeprefix("date:")))
    fake_api.reply(error_reply(429, {name: value}, code="rate_limit_exceeded"))
    async with client_of(fake_api) as images:  # the default cap: 60 s
        with pytest.raises(RateLimitError) as caught:
            await generate(images)
    assert caught.value.retry_after == pytest.approx(server_wait, abs=5.0)
    assert "retry_after=" in str(caught.value)
    assert caught.value.retries_taken == 0
    assert len(fake_api.requests) == 1


async def test_the_cap_is_a_client_option_and_a_with_options_one(fake_api: FakeImagesAPI) -> None:
    async with client_of(fake_api, max_retry_wait=0.05) as images:
        fake_api.reply(error_reply(429, {"Retry-After": "0.1"}))
        with pytest.raises(RateLimitError) as caught:
            await generate(images)
        assert caught.value.retry_after == 0.1
        assert len(fake_api.requests) == 1

        fake_api.reply(error_reply(429, {"Retry-After": "0.1"}))
        raw = await generate(images.with_options(max_retry_wait=0.2))
        assert raw.retries_taken == 1

        fake_api.reply(error_reply(429, {"Retry-After": "0.1"}))
        relaxed = RetryPolicy(initial_delay=0.001, max_delay=0.004, max_retry_wait=0.2)
        raw = await generate(images.with_options(retry_policy=relaxed))
        assert raw.retries_taken == 1

        fake_api.reply(error_reply(429, {"Retry-After": "0.05"}))
        raw = await generate(images)  # a wait equal to the cap is still waited for
        assert raw.retries_taken == 1
    assert len(fake_api.requests) == 1 + 2 + 2 + 2


@pytest.mark.parametrize("verdict", [None, "true"])
async def test_insufficient_quota_is_never_retried(
    fake_api: FakeImagesAPI, verdict: str | None
) -> None:
    headers = {"Retry-After": "1"} | ({"x-should-retry": verdict} if verdict else {})
    fake_api.reply(error_reply(429, headers, code="insufficient_quota"))
    async with client_of(fake_api, max_retries=3) as images:
        with pytest.raises(RateLimitError) as caught:
            await generate(images)
    assert caught.value.code == "insufficient_quota"
    assert len(fake_api.requests) == 1


async def test_emulated_quota_errors_are_not_retried() -> None:
    async with emulated("insufficient_quota,insufficient_quota") as (emulator, images):
        with pytest.raises(RateLimitError):
            await images.generate(prompt=PROMPT, size="256x256", max_retries=4)
    assert len(emulator.requests) == 1


# --- what is sent again -------------------------------------------------------------------


async def test_every_attempt_of_a_call_carries_the_same_idempotency_key(
    fake_api: FakeImagesAPI,
) -> None:
    fake_api.reply(error_reply(500), error_reply(503))
    async with client_of(fake_api) as images:
        await generate(images)
        fake_api.reply(error_reply(429), error_reply(502))
        await images.edit(image=UPLOAD, prompt=PROMPT, model="gpt-image-1")
        await generate(images)
    keys = idempotency_keys(fake_api)
    assert len(keys) == 7
    assert len(set(keys[:3])) == 1
    assert len(set(keys[3:6])) == 1
    assert len(set(keys)) == 3  # each call has its own
    assert all(keys)


class CountingFile(io.BytesIO):
    """A binary file object that counts how often it is read."""

    reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(size)


@pytest.mark.parametrize("form", ["file object", "path", "bytes", "tuple"])
async def test_uploads_are_sent_in_full_on_every_attempt(
    fake_api: FakeImagesAPI, tmp_path: Path, form: str
) -> None:
    source = CountingFile(UPLOAD)
    path = tmp_path / "input.png"
    path.write_bytes(UPLOAD)
    image: Any = {
        "file object": source,
        "path": path,
        "bytes": UPLOAD,
        "tuple": ("input.png", UPLOAD, "image/png"),
    }[form]
    mask = noisy_png(256, seed=8)
    fake_api.reply(error_reply(500), error_reply(503))
    async with client_of(fake_api) as images:
        raw = await images.with_raw_response.edit(
            image=image, mask=mask, prompt=PROMPT, model="gpt-image-1"
        )
    assert raw.retries_taken == 2
    assert len(fake_api.requests) == 3
    for request in fake_api.requests:
        assert request.field("image") == UPLOAD
        assert request.field("mask") == mask
        assert request.field("prompt") == PROMPT
    if form == "file object":
        assert source.reads == 1


async def test_a_variation_upload_is_sent_in_full_on_every_attempt(
    fake_api: FakeImagesAPI,
) -> None:
    fake_api.reply(error_reply(502))
    async with client_of(fake_api) as images:
        await images.create_variation(image=UPLOAD, model="dall-e-2")
    assert [request.field("image") for request in fake_api.requests] == [UPLOAD, UPLOAD]


# --- connection failures and timeouts -----------------------------------------------------


async def test_disconnects_are_retried() -> None:
    async with emulated("disconnect,disconnect") as (emulator, images):
        raw = await images.with_raw_response.generate(prompt=PROMPT, size="256x256")
    assert (raw.status_code, raw.retries_taken) == (200, 2)
    assert [call.fault for call in emulator.requests] == ["disconnect", "disconnect", None]


async def test_a_reset_mid_body_is_retried_and_the_next_attempt_succeeds() -> None:
    async with emulated("reset") as (emulator, images):
        raw = await images.with_raw_response.generate(
            prompt=PROMPT, size="256x256", response_format="b64_json"
        )
        response = raw.parse()
    assert (raw.status_code, raw.retries_taken) == (200, 1)
    assert response.data[0].decode().startswith(b"\x89PNG")
    assert [call.fault for call in emulator.requests] == ["reset", None]
    assert [call.status for call in emulator.requests] == [200, 200]  # the first was cut


async def test_a_refused_connection_is_retried_then_raised() -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    async with AsyncImages(api_key=API_KEY, base_url=base_url, retry_policy=QUICK) as images:
        with pytest.raises(APIConnectionError) as caught:
            await images.generate(prompt=PROMPT)
    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.retries_taken == 2


async def test_timeouts_are_retried_then_raised_as_timeout_errors() -> None:
    plan = "slow_headers:30,slow_headers:30,slow_headers:30"
    async with emulated(plan, timeout=0.2) as (emulator, images):
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            await images.generate(prompt=PROMPT, size="256x256")
        elapsed = time.monotonic() - started
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, APIConnectionError)
    assert caught.value.retries_taken == 2
    assert len(emulator.requests) == 3
    assert elapsed < HANG_SECONDS


async def test_a_timed_out_attempt_is_followed_by_a_successful_one() -> None:
    async with emulated("slow_headers:30", timeout=0.2, max_retries=1) as (_emulator, images):
        raw = await images.with_raw_response.generate(prompt=PROMPT, size="256x256")
    assert (raw.status_code, raw.retries_taken) == (200, 1)


def timeout_cases() -> list[Any]:
    short = 0.2
    return [
        pytest.param({"timeout": short}, {}, id="client-float"),
        pytest.param({"timeout": Timeout(total=short)}, {}, id="client-total"),
        pytest.param({"timeout": Timeout(total=None, read=short)}, {}, id="client-read"),
        pytest.param({}, {"timeout": short}, id="call-float"),
        pytest.param({}, {"timeout": Timeout(read=short)}, id="call-read"),
        pytest.param({}, {"timeout": Timeout(connect=5, read=short, total=10)}, id="call-all"),
        pytest.param({"with_options": short}, {}, id="with-options"),
    ]


@pytest.mark.parametrize(("client_options", "call_options"), timeout_cases())
async def test_a_slow_server_times_out_within_bounds(
    client_options: dict[str, Any], call_options: dict[str, Any]
) -> None:
    short = client_options.pop("with_options", None)
    async with emulated("slow_headers:30", max_retries=0, **client_options) as (_e, images):
        client = images.with_options(timeout=short) if short is not None else images
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            await client.generate(prompt=PROMPT, size="256x256", **call_options)
        elapsed = time.monotonic() - started
    assert isinstance(caught.value, TimeoutError)
    assert 0.15 < elapsed < HANG_SECONDS


async def test_a_reply_delay_past_the_timeout_raises_a_timeout(fake_api: FakeImagesAPI) -> None:
    fake_api.reply(Reply(delay=0.5))
    async with client_of(fake_api, max_retries=0, timeout=0.1) as images:
        with pytest.raises(TimeoutError):
            await generate(images)


async def test_a_per_call_timeout_overrides_a_shorter_client_timeout() -> None:
    async with emulated("slow_headers:0.3", timeout=0.05, max_retries=0) as (_e, images):
        raw = await images.with_raw_response.generate(prompt=PROMPT, size="256x256", timeout=10)
    assert raw.status_code == 200


@pytest.mark.parametrize("timeout", [0, -1.0, True, "5"])
async def test_bad_timeouts_are_refused_before_sending(
    fake_api: FakeImagesAPI, timeout: Any
) -> None:
    async with client_of(fake_api) as images:
        with pytest.raises(ValueError, match="timeout"):
            await images.generate(prompt=PROMPT, timeout=timeout)
    assert fake_api.requests == []
