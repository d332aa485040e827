"""The sync facade ``Images`` against a loopback API served from its own thread.

Every call here blocks the test's thread, so the server runs on a thread and loop of its own
(``threaded_api``); what must hold for a whole interpreter (a plain script exiting, Ctrl-C)
runs in a subprocess pointed at that server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
import inspect
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from plugins.api_server import API_KEY, TINY_PNG, Reply, stream_events
from plugins.leaks import acquired_connections
from plugins.threaded_server import ThreadedImagesAPI

from images_async import (
    APIConnectionError,
    APIStatusError,
    AsyncImages,
    BadRequestError,
    ClientClosedError,
    CompletedImageEvent,
    GenerateRequest,
    Image,
    ImageDecodeError,
    Images,
    ImagesError,
    ImagesResponse,
    InternalServerError,
    PartialImageEvent,
    RawResponse,
    SyncImageEventStream,
    SyncStreamedResponse,
)
from images_async._loop_thread import LoopThread
from images_async.testing.sample_images import solid_png

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "a lighthouse at dusk"
IMAGE = solid_png(8, 8)
#: Upper bound of every subprocess run and every wait on a helper thread.
SUBPROCESS_TIMEOUT = 30.0
WAIT = 10.0


def loop_threads() -> set[threading.Thread]:
    """The live event-loop threads of sync clients (each is named ``images-async``)."""
    return {thread for thread in threading.enumerate() if thread.name == "images-async"}


def loop_thread_started_by(call: Callable[[], object]) -> threading.Thread:
    """The one loop thread that ``call()`` started."""
    before = loop_threads()
    call()
    (thread,) = loop_threads() - before
    return thread


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter that turns every warning into an error."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(script), *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


# --- the three endpoints and the image helpers --------------------------------------------


def test_generate_returns_images_response(
    sync_images: Images, threaded_api: ThreadedImagesAPI
) -> None:
    result = sync_images.generate(prompt=PROMPT, n=2)
    assert isinstance(result, ImagesResponse)
    assert len(result.data) == 2
    assert threaded_api.last.path == "/v1/images/generations"
    assert threaded_api.last.json == {"prompt": PROMPT, "n": 2}


def test_edit_returns_images_response(sync_images: Images, threaded_api: ThreadedImagesAPI) -> None:
    result = sync_images.edit(image=IMAGE, prompt=PROMPT)
    assert isinstance(result, ImagesResponse)
    assert threaded_api.last.path == "/v1/images/edits"
    assert threaded_api.last.field("image") == IMAGE
    assert threaded_api.last.field("prompt") == PROMPT


def test_create_variation_returns_images_response(
    sync_images: Images, threaded_api: ThreadedImagesAPI
) -> None:
    result = sync_images.create_variation(image=IMAGE, n=1)
    assert isinstance(result, ImagesResponse)
    assert threaded_api.last.path == "/v1/images/variations"
    assert threaded_api.last.field("image") == IMAGE


@pytest.mark.parametrize("response_format", ["b64_json", "url"])
def test_read_and_save_image(sync_images: Images, tmp_path: Path, response_format: str) -> None:
    (image,) = sync_images.generate(
        prompt=PROMPT, model="dall-e-2", response_format=response_format
    ).data
    assert sync_images.read_image(image) == TINY_PNG
    target = tmp_path / "saved.png"
    assert sync_images.save_image(image, target) == target
    assert target.read_bytes() == TINY_PNG


def test_read_image_of_a_damaged_payload_is_an_image_decode_error(sync_images: Images) -> None:
    with pytest.raises(ImageDecodeError):
        sync_images.read_image(Image(b64_payload=b"not base64!"))
    with pytest.raises(ImageDecodeError):
        sync_images.read_image(Image())


# --- stream=True --------------------------------------------------------------------------


def test_stream_is_a_plain_iterator(sync_images: Images) -> None:
    stream = sync_images.generate(prompt=PROMPT, partial_images=2, stream=True)
    assert isinstance(stream, SyncImageEventStream)
    assert not inspect.isawaitable(stream)
    events = []
    for event in stream:
        events.append(event)
    assert [type(event) for event in events] == [
        PartialImageEvent,
        PartialImageEvent,
        CompletedImageEvent,
    ]
    assert stream.status_code == 200
    assert stream.request_id is not None
    assert stream.headers["x-request-id"] == stream.request_id
    assert acquired_connections(sync_images) == 0, "the finished stream still holds a connection"


def test_stream_break_and_with_exit_release_the_connection(
    sync_images: Images, threaded_api: ThreadedImagesAPI
) -> None:
    threaded_api.reply(Reply(chunk_delay=0.05))
    with sync_images.generate(prompt=PROMPT, partial_images=3, stream=True) as stream:
        for event in stream:
            assert isinstance(event, PartialImageEvent)
            break
        assert acquired_connections(sync_images) == 1
    assert acquired_connections(sync_images) == 0
    # The pool is healthy afterwards.
    assert isinstance(sync_images.generate(prompt=PROMPT), ImagesResponse)


def test_run_many_is_a_plain_iterator(sync_images: Images) -> None:
    requests = [GenerateRequest(prompt=f"picture {index}") for index in range(6)]
    outcomes = list(sync_images.run_many(requests, concurrency=3, ordered=True))
    assert [outcome.index for outcome in outcomes] == list(range(6))
    assert all(isinstance(outcome.unwrap(), ImagesResponse) for outcome in outcomes)
    assert acquired_connections(sync_images) == 0


def test_run_many_left_early_releases_its_connections(
    sync_images: Images, threaded_api: ThreadedImagesAPI
) -> None:
    threaded_api.reply(Reply(), *(Reply(delay=2) for _ in range(3)))
    requests = [GenerateRequest(prompt=f"picture {index}") for index in range(4)]
    started = time.monotonic()
    for outcome in sync_images.run_many(requests, concurrency=4):
        assert outcome.ok
        break
    assert time.monotonic() - started < 2, "leaving early waited for the calls in flight"
    assert acquired_connections(sync_images) == 0
    assert isinstance(sync_images.generate(prompt=PROMPT), ImagesResponse)


# --- a plain script -----------------------------------------------------------------------

PLAIN_SCRIPT = """
    import sys
    from images_async import Images

    images = Images(api_key="sk-test", base_url=sys.argv[1], max_retries=0)
    result = images.generate(prompt="a plain script")
    print(len(result.data))
"""


def test_plain_script_exits_promptly_and_quietly(threaded_api: ThreadedImagesAPI) -> None:
    started = time.monotonic()
    completed = run_script(PLAIN_SCRIPT, f"{threaded_api.base_url}/v1")
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "1\n", "")
    assert time.monotonic() - started < SUBPROCESS_TIMEOUT
    assert len(threaded_api.requests) == 1


# --- inside a running event loop ----------------------------------------------------------


async def test_blocking_call_inside_a_running_loop(sync_images: Images) -> None:
    asyncio.get_running_loop()  # this test's own loop is running
    result = sync_images.generate(prompt=PROMPT)
    assert isinstance(result, ImagesResponse)
    with sync_images.generate(prompt=PROMPT, stream=True) as stream:
        assert [type(event) for event in stream] == [CompletedImageEvent]


def test_blocking_call_inside_asyncio_run(sync_images: Images) -> None:
    async def main() -> ImagesResponse:
        return sync_images.create_variation(image=IMAGE)

    assert isinstance(asyncio.run(main()), ImagesResponse)


# --- many threads, one client -------------------------------------------------------------


def test_threads_share_one_client_and_one_pool(threaded_api: ThreadedImagesAPI) -> None:
    threads, calls, max_connections = 12, 4, 4
    # A short delay keeps requests in flight together, so the pool limit matters.
    threaded_api.reply(*(Reply(delay=0.02) for _ in range(threads * calls)))
    with Images(
        api_key=API_KEY,
        base_url=f"{threaded_api.base_url}/v1",
        max_retries=0,
        max_connections=max_connections,
    ) as images:

        def work(index: int) -> None:
            for call in range(calls):
                result = images.generate(prompt=f"thread {index} call {call}")
                assert isinstance(result, ImagesResponse)

        before = loop_threads()
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(work, range(threads), timeout=WAIT * 3))
        assert len(loop_threads() - before) == 1, "the threads did not share one loop"
        assert acquired_connections(images) == 0
    assert len(threaded_api.requests) == threads * calls
    assert 1 <= len(set(threaded_api.client_ports)) <= max_connections


# --- Ctrl-C -------------------------------------------------------------------------------

CTRL_C_SCRIPT = """
    import os, signal, sys, threading
    from images_async import Images

    # One connection: the quick calls can only get it if the interrupted call let it go.
    images = Images(api_key="sk-test", base_url=sys.argv[1], max_retries=0, max_connections=1)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    try:
        images.generate(prompt="slow")
    except KeyboardInterrupt:
        pass
    else:
        sys.exit("the slow call was not interrupted")
    assert len(images.generate(prompt="quick", timeout=2).data) == 1
    assert len(images.generate(prompt="again", timeout=2).data) == 1
    print("OK")
"""


def test_ctrl_c_cancels_the_call_and_leaves_the_client_usable(
    threaded_api: ThreadedImagesAPI,
) -> None:
    threaded_api.reply(Reply(delay=5))
    started = time.monotonic()
    completed = run_script(CTRL_C_SCRIPT, f"{threaded_api.base_url}/v1")
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "OK\n", "")
    assert time.monotonic() - started < 5, "Ctrl-C waited for the slow reply"
    prompts = [(request.json or {}).get("prompt") for request in threaded_api.requests]
    assert prompts == ["slow", "quick", "again"]


def interrupt_main_thread_when(ready: threading.Event) -> threading.Thread:
    """Send SIGINT to the main thread once ``ready`` is set (a real signal, like Ctrl-C)."""

    def interrupt() -> None:
        if ready.wait(WAIT):
            time.sleep(0.05)  # let the main thread settle into its wait
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    thread = threading.Thread(target=interrupt, name="interrupter", daemon=True)
    thread.start()
    return thread


@pytest.mark.usefixtures("sigint_raises_keyboard_interrupt")
def test_loop_thread_run_cancels_the_coroutine_on_keyboard_interrupt() -> None:
    runner = LoopThread(name="images-async-test")
    started = threading.Event()
    cancelled = threading.Event()

    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(WAIT)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    interrupter = interrupt_main_thread_when(started)
    try:
        begun = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            runner.run(slow())
        assert time.monotonic() - begun < WAIT / 2
        assert cancelled.is_set(), "run() re-raised before the coroutine was cancelled"
        assert runner.run(asyncio.sleep(0, "still usable")) == "still usable"
    finally:
        interrupter.join(WAIT)
        runner.close()


def test_loop_thread_close_cancels_a_call_that_has_not_started() -> None:
    """A task cancelled before its first step must not leave an un-awaited coroutine behind
    (which ``filterwarnings=error`` reports as a RuntimeWarning when it is collected)."""
    runner = LoopThread(name="images-async-test")

    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    loop = runner.run(running_loop())
    entered = []

    async def body() -> None:
        entered.append(True)

    # Hold the loop busy; the call below is queued behind this, and cancelled before its
    # task takes a step, as close() does to every task it finds.
    loop.call_soon_threadsafe(time.sleep, 0.3)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        outcome = pool.submit(runner.run, body())
        time.sleep(0.1)

        def cancel_all() -> None:
            for task in asyncio.all_tasks(loop):
                task.cancel()

        loop.call_soon_threadsafe(cancel_all)
        with pytest.raises(concurrent.futures.CancelledError):
            outcome.result(WAIT)
    del outcome  # its traceback holds the coroutine
    gc.collect()
    assert entered == []
    runner.close()


# --- close ----------------------------------------------------------------------------------


def test_close_stops_the_loop_thread(threaded_api: ThreadedImagesAPI) -> None:
    images = Images(api_key=API_KEY, base_url=f"{threaded_api.base_url}/v1", max_retries=0)
    thread = loop_thread_started_by(lambda: images.generate(prompt=PROMPT))
    assert thread.is_alive()
    assert not images.is_closed
    images.close()
    assert not thread.is_alive()
    assert thread not in threading.enumerate()
    assert images.is_closed
    images.close()  # idempotent


def test_with_block_stops_the_loop_thread(threaded_api: ThreadedImagesAPI) -> None:
    with Images(api_key=API_KEY, base_url=f"{threaded_api.base_url}/v1") as images:
        thread = loop_thread_started_by(lambda: images.generate(prompt=PROMPT))
        assert thread.is_alive()
    assert not thread.is_alive()
    assert thread not in threading.enumerate()
    assert images.is_closed


def test_close_during_a_call_on_another_thread_raises_client_closed_error(
    threaded_api: ThreadedImagesAPI,
) -> None:
    images = Images(api_key=API_KEY, base_url=f"{threaded_api.base_url}/v1", max_retries=0)
    threaded_api.reply(Reply(delay=5))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow_call = pool.submit(images.generate, prompt=PROMPT)
        deadline = time.monotonic() + 5
        while not threaded_api.requests and time.monotonic() < deadline:
            time.sleep(0.01)  # wait until the request is on the wire
        images.close()
        with pytest.raises(ClientClosedError, match="closed while this call ran"):
            slow_call.result(timeout=10)


def test_close_without_any_call(threaded_api: ThreadedImagesAPI) -> None:
    before = loop_threads()
    images = Images(api_key=API_KEY, base_url=f"{threaded_api.base_url}/v1")
    images.close()
    assert images.is_closed
    assert loop_threads() <= before, "close() left a loop thread running"
    with pytest.raises(ClientClosedError):
        images.generate(prompt=PROMPT)
    assert threaded_api.requests == []


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda images: images.generate(prompt=PROMPT), id="generate"),
        pytest.param(lambda images: images.create_variation(image=IMAGE), id="create_variation"),
        pytest.param(
            lambda images: images.with_raw_response.generate(prompt=PROMPT), id="raw-generate"
        ),
        pytest.param(
            lambda images: list(
                images.with_streaming_response.generate(prompt=PROMPT).iter_bytes()
            ),
            id="streaming-generate",
        ),
    ],
)
def test_call_after_close_raises_client_closed_error(
    threaded_api: ThreadedImagesAPI, call: Callable[[Images], object]
) -> None:
    images = Images(api_key=API_KEY, base_url=f"{threaded_api.base_url}/v1")
    images.generate(prompt=PROMPT)
    images.close()
    with pytest.raises(ClientClosedError, match="closed") as caught:
        call(images)
    assert isinstance(caught.value, ImagesError)
    del caught
    gc.collect()  # an un-awaited coroutine would warn (an error here) when collected
    assert len(threaded_api.requests) == 1


# --- the reference usage ------------------------------------------------------------------


@pytest.fixture
def image_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``path/to/image.png``, a real square PNG, relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    path = Path("path/to/image.png")
    path.parent.mkdir(parents=True)
    path.write_bytes(IMAGE)
    return str(path)


@pytest.mark.usefixtures("image_path")
def test_reference_raw_response(sync_images: Images, threaded_api: ThreadedImagesAPI) -> None:
    images = sync_images
    raw = images.with_raw_response.create_variation(image="path/to/image.png")
    assert isinstance(raw, RawResponse)
    assert raw.headers["x-request-id"] == "req_1"
    assert raw.status_code == 200
    assert isinstance(raw.parse(), ImagesResponse)
    assert threaded_api.last.field("image") == IMAGE
    assert acquired_connections(images) == 0


@pytest.mark.usefixtures("image_path")
def test_reference_streaming_response_without_with(
    sync_images: Images, threaded_api: ThreadedImagesAPI
) -> None:
    images = sync_images
    s = images.with_streaming_response.create_variation(image="path/to/image.png")
    assert isinstance(s, SyncStreamedResponse)
    chunks = s.iter_bytes()
    assert threaded_api.requests == [], "the request went out before iteration started"
    body = b""
    for chunk in chunks:
        body += chunk
    assert len(threaded_api.requests) == 1
    assert b'"data"' in body
    assert acquired_connections(images) == 0


def test_reference_streaming_response_with_block(sync_images: Images) -> None:
    images = sync_images
    with images.with_streaming_response.generate(prompt=PROMPT) as s:
        assert s.status_code == 200
        assert s.headers["Content-Type"].startswith("application/json")
        lines = list(s.iter_lines())
    assert lines
    assert '"data"' in "".join(lines)
    assert acquired_connections(images) == 0


def test_streaming_break_out_of_iter_bytes_releases_the_connection(
    sync_images: Images, threaded_api: ThreadedImagesAPI
) -> None:
    # Events trickle in, so the body is far from read when the loop breaks.
    threaded_api.reply(Reply(events=stream_events("image_generation", 3), chunk_delay=0.05))
    s = sync_images.with_streaming_response.generate(prompt=PROMPT)
    for chunk in s.iter_bytes():
        assert chunk
        assert acquired_connections(sync_images) == 1
        break
    assert acquired_connections(sync_images) == 0


def test_streaming_iterator_never_started_sends_nothing(
    sync_images: Images, threaded_api: ThreadedImagesAPI
) -> None:
    s = sync_images.with_streaming_response.generate(prompt=PROMPT)
    chunks: Iterator[bytes] = s.iter_bytes()
    del chunks
    gc.collect()
    assert threaded_api.requests == []
    assert acquired_connections(sync_images) == 0


# --- errors -----------------------------------------------------------------------------


def error_of(call: Callable[[], object]) -> BaseException:
    with pytest.raises(ImagesError) as caught:
        call()
    return caught.value


def test_status_error_is_the_same_class_from_both_apis(threaded_api: ThreadedImagesAPI) -> None:
    error_body = {"error": {"message": "bad size", "param": "size", "code": "invalid_size"}}
    threaded_api.reply(Reply(status=400, json=error_body), Reply(status=400, json=error_body))
    base_url = f"{threaded_api.base_url}/v1"

    async def from_async() -> None:
        async with AsyncImages(api_key=API_KEY, base_url=base_url, max_retries=0) as client:
            await client.generate(prompt=PROMPT)

    with Images(api_key=API_KEY, base_url=base_url, max_retries=0) as images:
        sync_error = error_of(lambda: images.generate(prompt=PROMPT))
    async_error = error_of(lambda: asyncio.run(from_async()))
    assert type(sync_error) is BadRequestError
    assert type(async_error) is BadRequestError
    assert isinstance(sync_error, APIStatusError)
    assert (sync_error.status_code, sync_error.param) == (400, "size")
    assert str(sync_error) == str(async_error).replace("req_2", "req_1")


def refused_url() -> str:
    """A 127.0.0.1 URL nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_connection_error_is_the_same_class_from_both_apis() -> None:
    base_url = refused_url()

    async def from_async() -> None:
        async with AsyncImages(api_key=API_KEY, base_url=base_url, max_retries=0) as client:
            await client.generate(prompt=PROMPT)

    with Images(api_key=API_KEY, base_url=base_url, max_retries=0) as images:
        sync_error = error_of(lambda: images.generate(prompt=PROMPT))
    async_error = error_of(lambda: asyncio.run(from_async()))
    assert type(sync_error) is APIConnectionError
    assert type(async_error) is APIConnectionError


# --- with_options ---------------------------------------------------------------------------


def test_with_options_shares_the_loop_and_the_pool(
    sync_images: Images, threaded_api: ThreadedImagesAPI
) -> None:
    before = loop_threads()
    sync_images.generate(prompt=PROMPT)
    patient = sync_images.with_options(max_retries=3)
    assert isinstance(patient, Images)
    assert patient is not sync_images
    failure = Reply(
        status=500, json={"error": {"message": "again"}}, headers={"retry-after-ms": "1"}
    )
    threaded_api.reply(failure)
    assert isinstance(patient.generate(prompt=PROMPT), ImagesResponse)  # retried
    threaded_api.reply(failure)
    with pytest.raises(InternalServerError):
        sync_images.generate(prompt=PROMPT)  # the parent still has max_retries=0
    assert len(threaded_api.requests) == 4
    assert len(loop_threads() - before) == 1, "the derived client started a loop of its own"
    assert len(set(threaded_api.client_ports)) == 1, "the derived client has its own pool"


def test_with_options_client_outlives_its_parent(threaded_api: ThreadedImagesAPI) -> None:
    derived = Images(api_key=API_KEY, base_url=f"{threaded_api.base_url}/v1").with_options(
        max_retries=0
    )
    gc.collect()  # the parent is unreachable now; its finalizer must not close the loop
    thread = loop_thread_started_by(functools.partial(derived.generate, prompt=PROMPT))
    derived.close()  # a derived client leaves the shared loop and pool to its parent
    assert not derived.is_closed
    assert isinstance(derived.generate(prompt=PROMPT), ImagesResponse)
    del derived
    gc.collect()  # now the parent goes too, and its finalizer stops the shared loop
    thread.join(10)
    assert not thread.is_alive()


def test_closing_a_with_options_client_leaves_its_parent_open(sync_images: Images) -> None:
    with sync_images.with_options(max_retries=1) as derived:
        derived.generate(prompt=PROMPT)
    assert not sync_images.is_closed
    assert isinstance(sync_images.generate(prompt=PROMPT), ImagesResponse)


def test_images_takes_no_http_session() -> None:
    """A session belongs to the loop it was made on, and Images runs on a private one."""
    assert "http_session" not in inspect.signature(Images).parameters
    options: dict[str, Any] = {"http_session": None}
    with pytest.raises(TypeError, match="http_session"):
        Images(api_key=API_KEY, **options)


def test_repr_shows_where_calls_go_but_not_the_key(threaded_api: ThreadedImagesAPI) -> None:
    base_url = f"{threaded_api.base_url}/v1"
    proxy = "http://user:proxy-secret-0123@127.0.0.1:9"
    with Images(api_key=API_KEY, base_url=base_url, proxy=proxy, trust_env=False) as images:
        shown = [repr(images), repr(images.with_options(max_retries=0)), str(images)]
    assert shown == [f"Images(base_url={base_url!r})"] * 3
    assert all(API_KEY not in text and "proxy-secret" not in text for text in shown)
