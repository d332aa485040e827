"""Fan-outs through ``run_many`` against loopback servers, async and sync.

Exactly one outcome per request, in input order when asked; progress counts; a source that
raises still gives every call it sent its outcome before its error; a thousand requests
through injected faults; leaving early (break, an exception, cancellation)
cancels the calls in flight and gives every connection back; a 429 holds back every
worker for its wait; request values are checked when built.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import pytest
from aiohttp import web
from plugins.api_server import API_KEY, FakeImagesAPI, Reply, serving
from plugins.leaks import POLLS, acquired_connections, until

from images_async import (
    APIConnectionError,
    AsyncImages,
    EditRequest,
    FanOutProgress,
    GenerateRequest,
    ImageRequest,
    Images,
    InternalServerError,
    InvalidFileError,
    InvalidRequestError,
    Outcome,
    PacerState,
    RateLimitError,
    RetryPolicy,
    VariationRequest,
)
from images_async.testing import Emulator, EmulatorConfig, FaultPlan, run_emulator_in_thread
from images_async.testing.sample_images import solid_png

#: A square RGBA PNG: dall-e-2 edits (its transparency) and varies it.
SQUARE = solid_png(64, 64, (30, 140, 200, 128))
#: Upper bound of a "did not hang" check.
HANG_SECONDS = 30.0


#: Backoff of a millisecond: retries come almost at once, as the server's waits allow.
QUICK = RetryPolicy(initial_delay=0.001, max_delay=0.001)


def generations(count: int, prefix: str = "tile") -> list[GenerateRequest]:
    return [
        GenerateRequest(prompt=f"{prefix} {index}", size="256x256", response_format="b64_json")
        for index in range(count)
    ]


@contextlib.asynccontextmanager
async def emulated(
    plan: FaultPlan | str = "", **options: Any
) -> AsyncIterator[tuple[Emulator, AsyncImages]]:
    """An emulator with a fault plan and a client of it (no retries unless given)."""
    faults = FaultPlan.parse(plan) if isinstance(plan, str) else plan
    options.setdefault("max_retries", 0)
    async with (
        Emulator(EmulatorConfig(faults=faults)) as emulator,
        AsyncImages(api_key=API_KEY, base_url=emulator.base_url, **options) as images,
    ):
        yield emulator, images


@contextlib.asynccontextmanager
async def served(api: FakeImagesAPI) -> AsyncIterator[AsyncImages]:
    """Serve ``api`` on 127.0.0.1 and give a client of it (no retries)."""
    async with (
        serving(api.app()) as api.base_url,
        AsyncImages(api_key=API_KEY, base_url=f"{api.base_url}/v1", max_retries=0) as images,
    ):
        yield images


async def collect(
    outcomes: AsyncIterator[Outcome[ImageRequest]],
) -> list[Outcome[ImageRequest]]:
    async def drain() -> list[Outcome[ImageRequest]]:
        return [outcome async for outcome in outcomes]

    return await asyncio.wait_for(drain(), HANG_SECONDS)


def indexes(outcomes: Iterable[Outcome[ImageRequest]]) -> list[int]:
    return [outcome.index for outcome in outcomes]


# --- one outcome per request --------------------------------------------------------------


async def test_every_request_kind_fans_out() -> None:
    requests: list[ImageRequest] = [
        GenerateRequest(prompt="a fox", size="256x256", response_format="b64_json"),
        EditRequest(image=SQUARE, prompt="add a moon", model="dall-e-2", size="256x256", n=2),
        VariationRequest(image=("square.png", SQUARE), model="dall-e-2", size="256x256"),
    ]
    async with emulated() as (emulator, images):
        outcomes = await collect(images.run_many(requests, ordered=True))
        assert acquired_connections(images) == 0
    assert indexes(outcomes) == [0, 1, 2]
    assert [outcome.request for outcome in outcomes] == requests
    assert all(outcome.ok for outcome in outcomes)
    assert [len(outcome.unwrap().data) for outcome in outcomes] == [1, 2, 1]
    assert sorted(call.path for call in emulator.requests if call.method == "POST") == [
        "/v1/images/edits",
        "/v1/images/generations",
        "/v1/images/variations",
    ]


async def test_failures_are_outcomes_too_exactly_one_per_request() -> None:
    requests: list[ImageRequest] = [*generations(18)]
    requests[4:4] = [EditRequest(image=b"not a picture", prompt="x", model="dall-e-2")]
    requests[11:11] = [VariationRequest(image=b"GIF89a", model="dall-e-2")]
    async with emulated("500,ok,503,insufficient_quota,502") as (emulator, images):
        outcomes = await collect(images.run_many(requests, concurrency=5))
        assert acquired_connections(images) == 0
    assert sorted(indexes(outcomes)) == list(range(20))
    failures = [outcome for outcome in outcomes if not outcome.ok]
    kinds = Counter(type(outcome.error).__name__ for outcome in failures)
    assert kinds == {"InternalServerError": 3, "RateLimitError": 1, "InvalidFileError": 2}
    for outcome in failures:
        assert outcome.response is None
        with pytest.raises(Exception) as caught:  # noqa: PT011 - the error is checked below
            outcome.unwrap()
        assert caught.value is outcome.error
    invalid = [outcome for outcome in failures if isinstance(outcome.error, InvalidFileError)]
    assert sorted(indexes(invalid)) == [4, 11]
    assert len(emulator.requests) == 18  # bad files were refused before sending


class DelayedByPrompt(FakeImagesAPI):
    """Answers each generation after the seconds its prompt ends with ("wait 0.1")."""

    async def handle_images(self, request: web.Request) -> web.StreamResponse:
        document = await request.json()
        await asyncio.sleep(float(str(document["prompt"]).split()[-1]))
        return await super().handle_images(request)


WAITS = [0.4, 0.0, 0.1, 0.05, 0.1, 0.0]


@pytest.mark.parametrize("ordered", [True, False])
async def test_ordered_yields_input_order_and_unordered_yields_as_finished(
    ordered: bool,
) -> None:
    requests = [GenerateRequest(prompt=f"wait {wait}") for wait in WAITS]
    async with served(DelayedByPrompt()) as images:
        outcomes = await collect(images.run_many(requests, concurrency=6, ordered=ordered))
        assert acquired_connections(images) == 0
    assert all(outcome.ok for outcome in outcomes)
    assert sorted(indexes(outcomes)) == list(range(6))
    if ordered:
        assert indexes(outcomes) == [0, 1, 2, 3, 4, 5]
    else:
        assert indexes(outcomes)[-1] == 0  # the slowest came last, not first


async def test_progress_is_reported_after_every_outcome() -> None:
    progress: list[FanOutProgress] = []
    async with emulated("500,ok,503") as (_emulator, images):
        outcomes = await collect(
            images.run_many(generations(10), concurrency=3, on_progress=progress.append)
        )
    assert [report.done for report in progress] == list(range(1, 11))
    assert all(report.succeeded + report.failed == report.done for report in progress)
    assert (progress[-1].succeeded, progress[-1].failed) == (8, 2)
    assert sum(outcome.ok for outcome in outcomes) == 8
    assert all(isinstance(report.pacing, PacerState) for report in progress)
    assert all(1 <= report.pacing.limit <= 3 for report in progress)


async def test_a_failing_source_stops_the_fan_out_with_its_error() -> None:
    def requests() -> Iterator[GenerateRequest]:
        yield from generations(3)
        raise LookupError("the batch file is corrupt")

    async with emulated() as (emulator, images):
        seen: list[Outcome[ImageRequest]] = []

        async def consume() -> None:
            async for outcome in images.run_many(requests(), concurrency=2):
                seen.append(outcome)

        with pytest.raises(LookupError, match="corrupt"):
            await consume()
        assert acquired_connections(images) == 0
    assert sorted(indexes(seen)) == list(range(len(emulator.requests)))


def six_then_a_failure() -> Iterator[GenerateRequest]:
    yield from generations(6)
    raise LookupError("line 7 of the batch file is corrupt")


async def six_then_a_failure_async() -> AsyncIterator[GenerateRequest]:
    for request in six_then_a_failure():
        await asyncio.sleep(0)
        yield request


@pytest.mark.parametrize("ordered", [False, True], ids=["as-finished", "ordered"])
@pytest.mark.parametrize("source", [six_then_a_failure, six_then_a_failure_async])
async def test_every_request_sent_before_the_source_failed_gets_its_outcome(
    ordered: bool, source: Callable[[], Iterable[GenerateRequest] | AsyncIterator[GenerateRequest]]
) -> None:
    # The answers are slow, so all six calls are still in flight when the source raises.
    async with (
        Emulator(EmulatorConfig(latency=0.3)) as emulator,
        AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images,
    ):
        seen: list[Outcome[ImageRequest]] = []

        async def consume() -> None:
            async for outcome in images.run_many(source(), concurrency=8, ordered=ordered):
                seen.append(outcome)

        with pytest.raises(LookupError, match="line 7"):
            await asyncio.wait_for(consume(), HANG_SECONDS)
        assert acquired_connections(images) == 0
        assert len(emulator.requests) == len(seen) == 6
    assert all(outcome.ok for outcome in seen)
    assert sorted(indexes(seen)) == list(range(6))
    if ordered:
        assert indexes(seen) == list(range(6))


async def test_an_async_iterable_source_fans_out() -> None:
    async def requests() -> AsyncIterator[GenerateRequest]:
        for request in generations(12):
            await asyncio.sleep(0)
            yield request

    async with emulated() as (_emulator, images):
        outcomes = await collect(images.run_many(requests(), concurrency=3, ordered=True))
    assert indexes(outcomes) == list(range(12))
    assert [outcome.request for outcome in outcomes] == generations(12)


async def test_budgets_are_accepted_and_checked() -> None:
    async with emulated() as (_emulator, images):
        outcomes = await collect(
            images.run_many(generations(4), requests_per_minute=6000, images_per_minute=6000)
        )
        assert all(outcome.ok for outcome in outcomes)
        with pytest.raises(ValueError, match="requests_per_minute"):
            await collect(images.run_many(generations(1), requests_per_minute=0))


# --- a thousand requests through faults ---------------------------------------------------


async def test_a_thousand_requests_through_faults_end_in_a_thousand_outcomes() -> None:
    plan = FaultPlan.at_rate(0.3, ["429", "500", "503", "reset"], seed=1234, retry_after=0.01)
    async with emulated(plan, retry_policy=QUICK, max_retries=2) as (emulator, images):
        started = time.monotonic()
        outcomes = await collect(images.run_many(generations(1000), concurrency=16))
        elapsed = time.monotonic() - started
        assert acquired_connections(images) == 0

    assert len(outcomes) == 1000
    assert sorted(indexes(outcomes)) == list(range(1000))
    calls = [call for call in emulator.requests if call.method == "POST"]
    served_ok = [call for call in calls if call.status == 200 and call.fault is None]
    successes = [outcome for outcome in outcomes if outcome.ok]
    assert len(successes) == len(served_ok)
    assert sorted(str(call.params["prompt"]) for call in served_ok) == sorted(
        outcome.request.prompt
        for outcome in successes
        if isinstance(outcome.request, GenerateRequest)
    )
    faults = Counter(call.fault for call in calls)
    assert set(faults) == {None, "429", "500", "503", "reset"}
    assert 0.2 < (len(calls) - faults[None]) / len(calls) < 0.4
    for outcome in outcomes:
        if not outcome.ok:
            assert isinstance(
                outcome.error, (RateLimitError, InternalServerError, APIConnectionError)
            )
            assert outcome.error.retries_taken == 2
    # All attempts of one request shared one key.
    keys: dict[str, set[object]] = {}
    for call in calls:
        keys.setdefault(call.headers["Idempotency-Key"], set()).add(call.params["prompt"])
    assert len(keys) == 1000
    assert all(len(prompts) == 1 for prompts in keys.values())
    assert elapsed < HANG_SECONDS


# --- leaving early ------------------------------------------------------------------------

#: The first call to arrive is answered at once; every later one hangs until cancelled.
FIRST_FAST_THEN_SLOW = ",".join(["ok", *["slow_headers:30"] * 40])


async def test_breaking_out_cancels_the_calls_in_flight() -> None:
    async with emulated(FIRST_FAST_THEN_SLOW) as (emulator, images):
        async with contextlib.aclosing(images.run_many(generations(20), concurrency=4)) as run:
            async for outcome in run:
                assert outcome.ok
                await until(lambda: acquired_connections(images) == 4, "four calls in flight")
                break
        assert acquired_connections(images) == 0
        sent = len(emulator.requests)
        await asyncio.sleep(0.1)
        assert len(emulator.requests) == sent <= 5  # nothing new was started


async def test_an_exception_in_the_consumer_cancels_the_calls_in_flight() -> None:
    async with emulated(FIRST_FAST_THEN_SLOW) as (emulator, images):

        async def consume_then_fail() -> None:
            async with contextlib.aclosing(images.run_many(generations(20), concurrency=4)) as run:
                async for _outcome in run:
                    await until(lambda: acquired_connections(images) == 4, "four in flight")
                    raise RuntimeError("the consumer failed")

        with pytest.raises(RuntimeError, match="consumer"):
            await consume_then_fail()
        assert acquired_connections(images) == 0
        sent = len(emulator.requests)
        await asyncio.sleep(0.1)
        assert len(emulator.requests) == sent <= 5


async def test_cancelling_the_consuming_task_cancels_the_calls_in_flight() -> None:
    async with emulated(FIRST_FAST_THEN_SLOW) as (emulator, images):
        consumed: list[Outcome[ImageRequest]] = []

        async def consume() -> None:
            async for outcome in images.run_many(generations(20), concurrency=4):
                consumed.append(outcome)

        task = asyncio.ensure_future(consume())
        await until(lambda: bool(consumed) and acquired_connections(images) == 4, "four in flight")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert acquired_connections(images) == 0
        sent = len(emulator.requests)
        await asyncio.sleep(0.1)
        assert len(emulator.requests) == sent <= 5
        assert len(consumed) == 1


# --- pacing through the wire --------------------------------------------------------------


class StampedAPI(FakeImagesAPI):
    """Notes when each call arrives and when each answer is handed to the server."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []
        self.answers: list[tuple[float, int]] = []

    async def handle_images(self, request: web.Request) -> web.StreamResponse:
        self.arrivals.append(time.monotonic())
        response = await super().handle_images(request)
        self.answers.append((time.monotonic(), response.status))
        return response


async def test_after_a_429_no_worker_starts_an_attempt_before_the_wait_is_over() -> None:
    wait = 0.3
    api = StampedAPI()
    # The first four calls arrive together; the 429 goes out after 0.1 s, the rest later.
    api.reply(
        Reply(
            status=429,
            json={"error": {"message": "slow down"}},
            headers={"retry-after-ms": "300"},
            delay=0.1,
        ),
        *[Reply(delay=0.15)] * 3,
    )
    progress: list[FanOutProgress] = []
    async with served(api) as images:
        # The retry's own backoff is a millisecond: only the 429's cooldown holds it back.
        outcomes = await collect(
            images.with_options(retry_policy=QUICK).run_many(
                generations(12), concurrency=4, on_progress=progress.append
            )
        )
    assert all(outcome.ok for outcome in outcomes)
    (rate_limited_at,) = [at for at, status in api.answers if status == 429]
    later = [arrival for arrival in api.arrivals if arrival > rate_limited_at]
    assert len(later) == 12 + 1 - 4  # the retry and every call not yet started
    assert min(later) >= rate_limited_at + wait
    # Halved to 2 by the 429 (grown again by the successes since: see test_pacing).
    assert progress[0].pacing.limit < 4


async def test_a_wait_above_the_cap_does_not_hold_the_other_calls_back() -> None:
    api = FakeImagesAPI()
    api.reply(
        Reply(
            status=429,
            json={"error": {"message": "come back in an hour"}},
            headers={"Retry-After": "3600"},
        )
    )
    async with served(api) as images:
        started = time.monotonic()
        outcomes = await collect(
            images.with_options(max_retry_wait=0.05).run_many(generations(3), concurrency=1)
        )
        elapsed = time.monotonic() - started
    errors = [outcome.error for outcome in outcomes if not outcome.ok]
    assert len(errors) == 1
    assert isinstance(errors[0], RateLimitError)
    assert errors[0].retry_after == 3600.0
    assert sum(outcome.ok for outcome in outcomes) == 2
    assert elapsed < HANG_SECONDS


async def test_an_exhausted_quota_neither_pauses_nor_slows_the_fan_out() -> None:
    progress: list[FanOutProgress] = []
    async with emulated("insufficient_quota") as (_emulator, images):
        outcomes = await collect(
            images.run_many(generations(8), concurrency=4, on_progress=progress.append)
        )
    assert sum(not outcome.ok for outcome in outcomes) == 1
    assert all(report.pacing.limit == 4 for report in progress)
    assert all(report.pacing.cooling_down_for == 0.0 for report in progress)


# --- request values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "param"),
    [
        (lambda: GenerateRequest(prompt=""), "prompt"),
        (lambda: GenerateRequest(prompt="x", n=0), "n"),
        (lambda: GenerateRequest(prompt="x", model="dall-e-3", n=2), "n"),
        (lambda: GenerateRequest(prompt="x", model="dall-e-2", size="1792x1024"), "size"),
        (
            lambda: GenerateRequest(prompt="x", model="dall-e-2", background="transparent"),
            "background",
        ),
        (lambda: EditRequest(image=SQUARE, prompt="x", model="dall-e-2", quality="hd"), "quality"),
        (lambda: EditRequest(image=SQUARE, prompt="x", n=11), "n"),
        (lambda: EditRequest(image=SQUARE, prompt="", model="gpt-image-1"), "prompt"),
        (lambda: VariationRequest(image=SQUARE, n=0), "n"),
        (lambda: VariationRequest(image=SQUARE, model="dall-e-2", size="1536x1024"), "size"),
    ],
)
def test_bad_request_values_are_refused_when_built(
    build: Callable[[], ImageRequest], param: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        build()
    assert caught.value.param == param
    assert isinstance(caught.value, ValueError)


# --- the sync facade ----------------------------------------------------------------------


def test_the_sync_fan_out_is_a_plain_iterator() -> None:
    with (
        run_emulator_in_thread(Emulator()) as base_url,
        Images(api_key=API_KEY, base_url=base_url, max_retries=0) as images,
    ):
        outcomes = images.run_many(generations(6), concurrency=3, ordered=True)
        assert isinstance(outcomes, Iterator)
        assert not isinstance(outcomes, AsyncIterator)
        results = list(outcomes)
        assert acquired_connections(images) == 0
    assert indexes(results) == list(range(6))
    assert all(outcome.ok for outcome in results)


def test_a_failing_source_of_a_sync_fan_out_still_gives_every_sent_call_its_outcome() -> None:
    emulator = Emulator(EmulatorConfig(latency=0.3))
    seen: list[Outcome[ImageRequest]] = []
    with (
        run_emulator_in_thread(emulator) as base_url,
        Images(api_key=API_KEY, base_url=base_url, max_retries=0) as images,
    ):
        with pytest.raises(LookupError, match="line 7"):
            seen.extend(images.run_many(six_then_a_failure(), concurrency=8))
        assert acquired_connections(images) == 0
    assert len(emulator.requests) == len(seen) == 6


def test_breaking_out_of_a_sync_fan_out_releases_its_connections() -> None:
    emulator = Emulator(EmulatorConfig(faults=FaultPlan.parse(FIRST_FAST_THEN_SLOW)))
    with (
        run_emulator_in_thread(emulator) as base_url,
        Images(api_key=API_KEY, base_url=base_url, max_retries=0) as images,
    ):
        for outcome in images.run_many(generations(20), concurrency=4):
            assert outcome.ok
            for _ in range(POLLS):
                if acquired_connections(images) == 4:
                    break
                time.sleep(0.01)
            assert acquired_connections(images) == 4
            break
        assert acquired_connections(images) == 0
        # A request written just before the break may reach the server a moment later
        # (on a busy machine); after that, nothing new may come.
        time.sleep(0.1)
        sent = len(emulator.requests)
        time.sleep(0.1)
        assert len(emulator.requests) == sent <= 5


@pytest.mark.parametrize("concurrency", [0, -1, 2.5])
async def test_bad_concurrency_is_an_invalid_request(concurrency: Any) -> None:
    async with AsyncImages(api_key="sk-test", base_url="http://127.0.0.1:9/v1") as images:
        with pytest.raises(InvalidRequestError) as caught:
            async for _ in images.run_many([], concurrency=concurrency):
                pass
    assert caught.value.param == "concurrency"
