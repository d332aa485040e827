"""Attempt events and log records, checked against what reached a loopback server.

Every attempt of every call makes one ``AttemptEvent`` for the ``on_attempt`` hooks, a
DEBUG record, and a WARNING when the call is retried or gives up; ``IMAGES_ASYNC_LOG``
logs to stderr with no configuration. The key never shows in any of it. The last tests run
the code blocks of docs/observability.md, with stand-ins for the libraries they feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import sys
import textwrap
import threading
import time
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from plugins.api_server import FakeImagesAPI, Reply, stream_events

from images_async import (
    APIConnectionError,
    AsyncAzureImages,
    AsyncImages,
    AttemptEvent,
    BadRequestError,
    GenerateRequest,
    Images,
    InternalServerError,
    InvalidRequestError,
    RateLimitError,
    RetryPolicy,
)
from images_async.testing import Emulator, EmulatorConfig, FaultPlan, run_emulator_in_thread

#: A key that is easy to spot anywhere it should not be.
SECRET_KEY = "sk-observe-SECRETKEY-4f1b2c3d4e5f"
PROMPT = "a lighthouse at dusk"
QUICK = RetryPolicy(initial_delay=0.001, max_delay=0.004)
LOGGER = "images_async"
#: Upper bound of every wait on a subprocess or thread here.
WAIT_SECONDS = 30.0
DOCS_PAGE = Path(__file__).parent.parent / "docs" / "observability.md"


@contextlib.asynccontextmanager
async def emulated(
    plan: str | None = None, **options: Any
) -> AsyncIterator[tuple[Emulator, AsyncImages]]:
    """An emulator with a fault plan, and a client of it with quick backoff."""
    options.setdefault("retry_policy", QUICK)
    config = EmulatorConfig(faults=FaultPlan.parse(plan) if plan else None)
    async with (
        Emulator(config) as emulator,
        AsyncImages(api_key=SECRET_KEY, base_url=emulator.base_url, **options) as images,
    ):
        yield emulator, images


class Recorder:
    """A sync hook that keeps every event it gets."""

    def __init__(self) -> None:
        self.events: list[AttemptEvent] = []

    def __call__(self, event: AttemptEvent) -> None:
        self.events.append(event)


class AsyncRecorder(Recorder):
    """An async hook: it yields to the loop before keeping the event."""

    async def __call__(self, event: AttemptEvent) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.events.append(event)


def attempt_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == level]


def everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record formatted with every attribute it has (the event too), tracebacks included."""
    formatter = logging.Formatter()
    lines = []
    for record in records:
        lines.append(formatter.format(record))
        lines.append(repr(sorted(vars(record).items(), key=lambda item: item[0])))
    return "\n".join(lines)


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- the events and records of a 500 then a 200 --------------------------------------------


async def test_a_retried_call_makes_one_event_and_one_debug_record_per_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    hook = Recorder()
    async with emulated("500", on_attempt=hook) as (emulator, images):
        await images.generate(prompt=PROMPT, model="gpt-image-1")

    first, second = hook.events
    calls = emulator.requests
    assert [call.status for call in calls] == [500, 200]
    assert (first.attempt, first.status, second.attempt, second.status) == (1, 500, 2, 200)
    keys = {call.headers["Idempotency-Key"] for call in calls}
    assert keys == {first.idempotency_key} == {second.idempotency_key}
    assert [event.request_id for event in hook.events] == [call.request_id for call in calls]
    assert first.will_retry
    assert first.retry_wait is not None
    assert first.retry_wait > 0
    assert not second.will_retry
    assert second.retry_wait is None
    assert isinstance(first.error, InternalServerError)
    assert second.error is None
    for event, call in zip(hook.events, calls, strict=True):
        assert event.method == "POST"
        assert event.endpoint == "images/generations"
        assert event.bytes_sent == int(call.headers["Content-Length"])
        assert event.bytes_received is not None
        assert event.bytes_received > 0
        assert event.elapsed > 0

    records = attempt_records(caplog, logging.DEBUG)
    assert [record.attempt_event for record in records] == hook.events  # type: ignore[attr-defined]
    first_line, second_line = (record.getMessage() for record in records)
    assert first_line.startswith("POST /v1/images/generations attempt 1: status 500")
    assert f"request id {calls[0].request_id}" in first_line
    assert "retrying in" in first_line
    assert f"sent {first.bytes_sent} B, received {first.bytes_received} B" in first_line
    assert second_line.startswith("POST /v1/images/generations attempt 2: status 200")
    assert second_line.endswith("; done")
    assert SECRET_KEY not in everything_logged(caplog.records)
    assert SECRET_KEY not in repr(hook.events)


async def test_the_path_logged_has_no_query_string(
    fake_api: FakeImagesAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with AsyncImages(
        api_key=SECRET_KEY,
        base_url=f"{fake_api.base_url}/v1",
        default_query={"sig": "query-secret"},
    ) as images:
        await images.generate(prompt=PROMPT, extra_query={"more": "query-secret-2"})
    assert fake_api.last.query["sig"] == "query-secret"
    (record,) = attempt_records(caplog, logging.DEBUG)
    logged = everything_logged([record])
    assert "/v1/images/generations" in logged
    assert "query-secret" not in logged
    assert SECRET_KEY not in logged


# --- every attempt exactly once, whoever listens -----------------------------------------


async def test_sync_async_and_several_hooks_each_see_every_attempt_once() -> None:
    hooks = [Recorder(), AsyncRecorder(), Recorder()]
    async with emulated("500,503", on_attempt=hooks) as (emulator, images):
        response = await images.with_raw_response.generate(prompt=PROMPT)
    assert response.retries_taken == 2
    sent = [call.headers["Idempotency-Key"] for call in emulator.requests]
    for hook in hooks:
        assert [event.idempotency_key for event in hook.events] == sent
        assert [(event.attempt, event.status) for event in hook.events] == [
            (1, 500),
            (2, 503),
            (3, 200),
        ]
        assert [event.will_retry for event in hook.events] == [True, True, False]


async def test_with_options_replaces_the_hooks() -> None:
    kept, replacing = Recorder(), Recorder()
    async with emulated("500", on_attempt=kept) as (emulator, images):
        await images.with_options(on_attempt=replacing).generate(prompt=PROMPT)
        await images.with_options(on_attempt=[]).generate(prompt=PROMPT)
        await images.generate(prompt=PROMPT)
    assert [event.status for event in replacing.events] == [500, 200]
    assert [event.status for event in kept.events] == [200]  # the third call's only
    assert kept.events[0].idempotency_key == emulator.requests[-1].headers["Idempotency-Key"]
    assert len(emulator.requests) == 4  # the second call was made, no hook heard of it


async def test_run_many_reports_every_attempt_of_every_request() -> None:
    hook = Recorder()
    requests = [GenerateRequest(prompt=f"{PROMPT} #{index}") for index in range(4)]
    async with emulated("500,reset", on_attempt=hook) as (emulator, images):
        outcomes = [outcome async for outcome in images.run_many(requests, concurrency=2)]
    assert all(outcome.ok for outcome in outcomes)
    calls = emulator.requests
    assert len(calls) == 6  # two faults, each retried once
    sent = sorted(call.headers["Idempotency-Key"] for call in calls)
    assert sorted(event.idempotency_key for event in hook.events) == sent
    assert len({event.idempotency_key for event in hook.events}) == 4
    finals = [event for event in hook.events if not event.will_retry]
    assert len(finals) == 4
    assert all(event.status == 200 for event in finals)
    reset = next(event for event in hook.events if isinstance(event.error, APIConnectionError))
    assert reset.will_retry  # a body cut short, retried like the 500


async def test_a_streamed_body_is_not_counted_and_event_streams_are_reported(
    fake_api: FakeImagesAPI,
) -> None:
    hook = Recorder()
    async with AsyncImages(
        api_key=SECRET_KEY, base_url=f"{fake_api.base_url}/v1", on_attempt=hook
    ) as images:
        async with images.with_streaming_response.generate(prompt=PROMPT) as response:
            body = await response.read()
        stream = await images.generate(prompt=PROMPT, model="gpt-image-1", stream=True)
        async with stream:
            events = [event async for event in stream]
    assert body
    assert events
    streamed, event_stream = hook.events
    assert streamed.status == 200
    assert streamed.bytes_received is None
    assert event_stream.status == 200
    assert event_stream.bytes_received is None
    assert fake_api.requests[1].headers["Accept"] == "text/event-stream"
    assert [event.request_id for event in hook.events] == ["req_1", "req_2"]


async def test_a_connection_error_has_no_status_and_carries_its_error() -> None:
    hook = Recorder()
    async with AsyncImages(
        api_key=SECRET_KEY,
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        retry_policy=RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.001),
        on_attempt=hook,
    ) as images:
        with pytest.raises(APIConnectionError):
            await images.generate(prompt=PROMPT)
    first, second = hook.events
    assert isinstance(first.error, APIConnectionError)
    assert first.will_retry
    assert isinstance(second.error, APIConnectionError)
    assert not second.will_retry
    for event in hook.events:
        assert event.status is None
        assert event.request_id is None
        assert event.bytes_received is None
        assert event.bytes_sent is not None


async def test_a_cancelled_attempt_makes_no_event() -> None:
    hook = Recorder()
    async with emulated("slow_headers:2", on_attempt=hook) as (emulator, images):
        call = asyncio.ensure_future(images.generate(prompt=PROMPT))
        for _ in range(500):  # until the server holds the request
            if emulator.requests:
                break
            await asyncio.sleep(0.01)
        assert emulator.requests
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await images.generate(prompt=PROMPT)  # the plan is spent: this one answers at once
    assert [(event.attempt, event.status) for event in hook.events] == [(1, 200)]


async def test_cancelled_in_a_hook_an_event_stream_gives_its_connection_back(
    fake_api: FakeImagesAPI,
) -> None:
    entered = asyncio.Event()

    async def stuck(event: AttemptEvent) -> None:
        entered.set()
        await asyncio.sleep(WAIT_SECONDS)

    # The stream pauses between its events, so it is unfinished while the hook waits.
    fake_api.reply(Reply(events=stream_events("image_generation", 1), chunk_delay=0.3))
    async with AsyncImages(
        api_key=SECRET_KEY, base_url=f"{fake_api.base_url}/v1", on_attempt=stuck
    ) as images:
        call = asyncio.ensure_future(
            images.generate(prompt=PROMPT, model="gpt-image-1", stream=True)
        )
        await asyncio.wait_for(entered.wait(), WAIT_SECONDS)
        assert images.pool_stats.acquired == 1  # the unread body holds its connection
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert images.pool_stats.acquired == 0
    assert len(fake_api.requests) == 1


async def test_an_attempt_that_fails_before_its_url_exists_is_told_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An Azure client with no deployment, and a call with no model: no URL can be built.
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    hook = Recorder()
    async with (
        Emulator() as emulator,
        AsyncAzureImages(
            azure_endpoint=emulator.azure_endpoint,
            api_version="2025-04-01-preview",
            api_key=SECRET_KEY,
            on_attempt=hook,
        ) as images,
    ):
        with pytest.raises(InvalidRequestError) as caught:
            await images.generate(prompt=PROMPT)

    assert emulator.requests == []
    assert caught.value.param == "model"
    assert caught.value.__context__ is None  # raised once, not again while being told of
    (event,) = hook.events
    assert event.error is caught.value
    assert (event.attempt, event.status, event.will_retry) == (1, None, False)
    (record,) = attempt_records(caplog, logging.DEBUG)
    assert record.getMessage().startswith("POST images/generations attempt 1: InvalidRequestError")
    assert record.getMessage().endswith("; not worth retrying")
    assert not attempt_records(caplog, logging.WARNING)
    assert SECRET_KEY not in everything_logged(caplog.records)


class BrokenHandler(logging.Handler):
    """A handler whose ``emit`` raises, as a buggy application handler may."""

    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError("handler bug")


async def test_a_raising_log_handler_changes_no_outcome_and_hooks_still_hear(
    package_logger: logging.Logger,
) -> None:
    package_logger.addHandler(BrokenHandler(level=logging.DEBUG))
    package_logger.setLevel(logging.DEBUG)
    hook = Recorder()
    async with emulated("500", on_attempt=hook) as (emulator, images):
        response = await images.generate(prompt=PROMPT)
    assert response.data
    assert [call.status for call in emulator.requests] == [500, 200]
    assert [(event.attempt, event.status) for event in hook.events] == [(1, 500), (2, 200)]

    hook.events.clear()
    policy = RetryPolicy(max_retries=0)
    async with emulated("500", on_attempt=hook, retry_policy=policy) as (_, images):
        with pytest.raises(InternalServerError) as caught:
            await images.generate(prompt=PROMPT)
    assert caught.value.__context__ is None
    assert [event.error for event in hook.events] == [caught.value]


# --- hooks that fail ------------------------------------------------------------------------


async def test_a_raising_hook_is_logged_and_the_call_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: AttemptEvent) -> None:
        raise RuntimeError("hook bug")

    async def broken_later(event: AttemptEvent) -> None:
        await asyncio.sleep(0)
        raise KeyError("async hook bug")

    survivor = Recorder()
    async with emulated("500", on_attempt=[broken, broken_later, survivor]) as (_, images):
        response = await images.generate(prompt=PROMPT)
    assert response.data
    assert [event.status for event in survivor.events] == [500, 200]
    errors = attempt_records(caplog, logging.ERROR)
    assert len(errors) == 4  # two hooks, two attempts
    assert all(record.exc_info is not None for record in errors)
    assert {type(record.exc_info[1]) for record in errors if record.exc_info} == {
        RuntimeError,
        KeyError,
    }
    assert "broken" in errors[0].getMessage()
    assert SECRET_KEY not in everything_logged(caplog.records)


# --- warnings ------------------------------------------------------------------------------


async def test_a_warning_when_a_call_is_retried_and_when_it_gives_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    policy = RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.001)
    async with emulated("500,500", retry_policy=policy) as (_, images):
        with pytest.raises(InternalServerError):
            await images.generate(prompt=PROMPT)
    retried, gave_up = (record.getMessage() for record in attempt_records(caplog, logging.WARNING))
    assert retried.startswith("POST /v1/images/generations attempt 1 failed (status 500")
    assert "retrying in" in retried
    assert "(retry 1 of 1)" in retried
    assert gave_up.startswith("POST /v1/images/generations attempt 2 failed (status 500")
    assert gave_up.endswith("giving up: retries exhausted (1 of 1)")
    assert not attempt_records(caplog, logging.DEBUG)  # DEBUG was off: no record, no event
    events = [r.attempt_event for r in attempt_records(caplog, logging.WARNING)]  # type: ignore[attr-defined]
    assert [(event.attempt, event.will_retry) for event in events] == [(1, True), (2, False)]


async def test_a_warning_when_the_server_asks_for_too_long_a_wait(
    fake_api: FakeImagesAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    limited = {"error": {"message": "slow down", "type": "requests", "code": "rate_limit"}}
    fake_api.reply(Reply(status=429, json=limited, headers={"Retry-After": "120"}))
    async with AsyncImages(
        api_key=SECRET_KEY, base_url=f"{fake_api.base_url}/v1", max_retry_wait=1
    ) as images:
        with pytest.raises(RateLimitError):
            await images.generate(prompt=PROMPT)
    assert len(fake_api.requests) == 1
    (record,) = attempt_records(caplog, logging.WARNING)
    assert record.getMessage().endswith(
        "giving up: the server asked to wait 120s, longer than max_retry_wait=1s"
    )


async def test_no_warning_for_a_failure_never_worth_a_retry(
    fake_api: FakeImagesAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    fake_api.reply(Reply(status=400, json={"error": {"message": "bad", "code": "invalid"}}))
    async with AsyncImages(api_key=SECRET_KEY, base_url=f"{fake_api.base_url}/v1") as images:
        with pytest.raises(BadRequestError):
            await images.generate(prompt=PROMPT)
    assert not attempt_records(caplog, logging.WARNING)
    (record,) = attempt_records(caplog, logging.DEBUG)
    assert record.getMessage().endswith("; not worth retrying")
    assert "status 400 BadRequestError invalid" in record.getMessage()


# --- the sync client --------------------------------------------------------------------------


def test_the_sync_client_runs_its_hooks_on_its_loop_thread() -> None:
    threads: list[threading.Thread] = []
    hook = Recorder()
    emulator = Emulator(EmulatorConfig(faults=FaultPlan.parse("503")))
    with (
        run_emulator_in_thread(emulator) as base_url,
        Images(
            api_key=SECRET_KEY,
            base_url=base_url,
            retry_policy=QUICK,
            on_attempt=[hook, lambda event: threads.append(threading.current_thread())],
        ) as images,
    ):
        images.generate(prompt=PROMPT)
    assert [(event.attempt, event.status) for event in hook.events] == [(1, 503), (2, 200)]
    assert len(threads) == 2
    assert threading.current_thread() not in threads
    assert {event.idempotency_key for event in hook.events} == {
        call.headers["Idempotency-Key"] for call in emulator.requests
    }


# --- IMAGES_ASYNC_LOG ------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, sys, threading
    from images_async import AsyncImages, RetryPolicy

    async def main():
        quick = RetryPolicy(initial_delay=0.001, max_delay=0.001)
        async with AsyncImages(base_url=sys.argv[1], retry_policy=quick) as images:
            await images.generate(prompt="a lighthouse at dusk")

    # Many clients on many threads: still one stderr handler.
    makers = [threading.Thread(target=AsyncImages, kwargs={"base_url": sys.argv[1]})
              for _ in range(8)]
    for maker in makers:
        maker.start()
    for maker in makers:
        maker.join()
    asyncio.run(main())
    """
)


async def run_child(base_url: str, log: str | None) -> str:
    """Run :data:`CHILD` against ``base_url`` with ``IMAGES_ASYNC_LOG=log``; its stderr."""
    env = {k: v for k, v in os.environ.items() if k != "IMAGES_ASYNC_LOG"}
    env["OPENAI_API_KEY"] = SECRET_KEY
    if log is not None:
        env["IMAGES_ASYNC_LOG"] = log
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        base_url,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(child.communicate(), WAIT_SECONDS)
    assert child.returncode == 0, stderr.decode()
    assert not stdout
    return stderr.decode()


async def test_images_async_log_debug_prints_every_attempt_on_stderr() -> None:
    async with Emulator(EmulatorConfig(faults=FaultPlan.parse("500"))) as emulator:
        printed = await run_child(emulator.base_url, "DEBUG")
    lines = printed.splitlines()
    assert len(lines) == 3, printed  # one stderr handler: each record printed once
    debug_1, warning, debug_2 = lines
    assert re.search(
        r" DEBUG images_async: POST /v1/images/generations attempt 1: status 500", debug_1
    )
    assert " WARNING images_async: " in warning
    assert "retrying in" in warning
    assert " DEBUG images_async: " in debug_2
    assert debug_2.endswith("; done")
    assert SECRET_KEY not in printed


@pytest.mark.parametrize(("log", "expected"), [("info", 1), ("verbose", 0), (None, 0)])
async def test_images_async_log_info_shows_warnings_and_other_values_nothing(
    log: str | None, expected: int
) -> None:
    async with Emulator(EmulatorConfig(faults=FaultPlan.parse("500"))) as emulator:
        printed = await run_child(emulator.base_url, log)
    assert len(emulator.requests) == 2
    # None: no logging configured, yet the retry's WARNING does not reach the last resort.
    assert len(printed.splitlines()) == expected, printed
    if expected:
        assert " WARNING images_async: " in printed
        assert "DEBUG" not in printed


# --- the docs page's examples ------------------------------------------------------------------


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", page.read_text(), flags=re.S | re.M)


class FakeSpan:
    """Just enough of an OpenTelemetry span, keeping what it was told."""

    def __init__(
        self, name: str, kind: object, start_time: int, attributes: dict[str, Any]
    ) -> None:
        self.name, self.kind, self.start_time = name, kind, start_time
        self.attributes = dict(attributes)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.exceptions: list[BaseException] = []
        self.status: Any = None
        self.ended = False

    def add_event(self, name: str, attributes: dict[str, Any] | None = None) -> None:
        assert all(value is not None for value in (attributes or {}).values())
        self.events.append((name, dict(attributes or {})))

    def set_attribute(self, key: str, value: object) -> None:
        assert value is not None
        self.attributes[key] = value

    def record_exception(self, exception: BaseException) -> None:
        self.exceptions.append(exception)

    def set_status(self, status: object) -> None:
        self.status = status

    def end(self, end_time: int | None = None) -> None:
        assert not self.ended
        self.ended = True


@pytest.fixture
def fake_libraries(monkeypatch: pytest.MonkeyPatch) -> list[FakeSpan]:
    """Stand-ins for ``opentelemetry`` and ``prometheus_client`` in ``sys.modules``; the spans
    started are returned."""
    spans: list[FakeSpan] = []

    class Tracer:
        def start_span(
            self,
            name: str,
            context: object = None,
            kind: object = None,
            attributes: dict[str, Any] | None = None,
            links: object = None,
            start_time: int | None = None,
        ) -> FakeSpan:
            assert isinstance(start_time, int)
            spans.append(FakeSpan(name, kind, start_time, attributes or {}))
            return spans[-1]

    trace = types.ModuleType("opentelemetry.trace")
    trace.Span = FakeSpan  # type: ignore[attr-defined]
    trace.get_tracer = lambda name, *args, **kwargs: Tracer()  # type: ignore[attr-defined]
    trace.SpanKind = types.SimpleNamespace(CLIENT="client", INTERNAL="internal")  # type: ignore[attr-defined]
    trace.StatusCode = types.SimpleNamespace(ERROR="error", OK="ok", UNSET="unset")  # type: ignore[attr-defined]
    trace.Status = lambda code, description=None: (code, description)  # type: ignore[attr-defined]
    opentelemetry = types.ModuleType("opentelemetry")
    opentelemetry.trace = trace  # type: ignore[attr-defined]

    class Metric:
        def __init__(self, name: str, documentation: str, labelnames: list[str]) -> None:
            self.labelnames = labelnames
            self.values: dict[tuple[str, ...], list[float]] = {}

        def labels(self, **labels: str) -> Any:
            assert sorted(labels) == sorted(self.labelnames)
            key = tuple(labels[name] for name in self.labelnames)
            values = self.values.setdefault(key, [])
            return types.SimpleNamespace(
                inc=lambda amount=1.0: values.append(amount), observe=values.append
            )

    prometheus = types.ModuleType("prometheus_client")
    prometheus.Counter = Metric  # type: ignore[attr-defined]
    prometheus.Histogram = Metric  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "opentelemetry", opentelemetry)
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", trace)
    monkeypatch.setitem(sys.modules, "prometheus_client", prometheus)
    return spans


@pytest.fixture
def package_logger() -> Iterator[logging.Logger]:
    """The package logger, its handlers and level restored after the test."""
    package = logging.getLogger(LOGGER)
    handlers, level = list(package.handlers), package.level
    yield package
    package.handlers[:] = handlers
    package.setLevel(level)


def block_defining(name: str) -> str:
    """The one python block of the observability page that defines ``name``."""
    [block] = [b for b in python_blocks(DOCS_PAGE) if re.search(rf"^(class|def) {name}\b", b, re.M)]
    return block


async def test_the_docs_examples_run_and_make_one_span_per_call(
    fake_libraries: list[FakeSpan],
    package_logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Prometheus and OpenTelemetry hooks need libraries images-async does not depend
    # on, so the examples runner skips them; here they run over stand-ins, wired as the page
    # says: AsyncImages(on_attempt=[count_attempt, CallSpans()]).
    namespace: dict[str, Any] = {"__name__": "observability_docs"}
    for name in ("count_attempt", "CallSpans"):
        exec(compile(block_defining(name), str(DOCS_PAGE), "exec"), namespace)  # our own docs
    # The JSON-lines example is a whole program (asyncio.run at its end): a thread runs it.
    json_lines: dict[str, Any] = {"__name__": "observability_docs"}
    # Its call is retried once, then the hooks' first call once; the rest pass.
    plan = FaultPlan.parse("500,ok,500")
    async with Emulator(EmulatorConfig(faults=plan)) as emulator:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
        code = compile(block_defining("AttemptsAsJSON"), str(DOCS_PAGE), "exec")
        await asyncio.to_thread(exec, code, json_lines)
        before = time.time_ns()
        hooks = [namespace["count_attempt"], namespace["CallSpans"]()]
        async with AsyncImages(on_attempt=hooks) as images:
            await images.generate(prompt=PROMPT, model="gpt-image-1")
            await images.generate(prompt=PROMPT, model="gpt-image-1")

    first_call, second_call = fake_libraries
    assert [len(span.events) for span in fake_libraries] == [2, 1]
    assert first_call.name == "POST images/generations"
    assert first_call.ended
    assert first_call.attributes["images.attempts"] == 2
    assert first_call.attributes["http.response.status_code"] == 200
    statuses = [attrs.get("http.response.status_code") for _, attrs in first_call.events]
    assert statuses == [500, 200]
    assert [attrs["request_id"] for _, attrs in first_call.events] == [
        call.request_id for call in emulator.requests[2:4]
    ]
    # The span started when the first attempt did (a little clock slack either way).
    assert before - 10_000_000 < first_call.start_time < second_call.start_time
    assert second_call.ended
    assert not first_call.exceptions
    assert first_call.status is None

    counts = namespace["ATTEMPTS"].values
    assert counts == {
        ("images/generations", "500", "yes"): [1.0],
        ("images/generations", "200", "no"): [1.0, 1.0],
    }
    # The JSON handler stays on the package logger: its own call's two attempts, then the
    # hooks' three.
    lines = json_lines["attempt_log"].lines
    assert len(lines) == 5
    assert '"status": 500' in lines[0]
    assert '"will_retry": true' in lines[0]
    assert '"status": 200' in lines[1]


async def test_the_docs_span_records_a_failed_call(fake_libraries: list[FakeSpan]) -> None:
    namespace: dict[str, Any] = {"__name__": "observability_docs"}
    exec(compile(block_defining("CallSpans"), str(DOCS_PAGE), "exec"), namespace)
    spans = namespace["CallSpans"]()
    async with emulated("500,500", max_retries=1, on_attempt=spans) as (_, images):
        with pytest.raises(InternalServerError):
            await images.generate(prompt=PROMPT)
    (span,) = fake_libraries
    assert span.ended
    assert span.status == ("error", "InternalServerError")
    assert [type(error) for error in span.exceptions] == [InternalServerError]
