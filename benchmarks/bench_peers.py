"""The clients being compared: each sends the same generate call and decodes the image.

A peer is opened against a base URL with a concurrency (tasks for async peers, threads for
sync ones) and gives a *batch* function: ``batch(prompt, requests)`` makes that many calls
at that concurrency and returns the total number of decoded image bytes, which the caller
checks. Every peer decodes each image to bytes, as an application would before using it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, Final

import aiohttp

from images_async import AsyncImages, GenerateRequest, Images
from images_async._loop_thread import LoopThread

API_KEY: Final = "sk-benchmark"
MODEL: Final = "gpt-image-1"
SIZE: Final = "1024x1024"
QUALITY: Final = "low"
#: No single call or batch may take longer than this (a hung server fails the run instead).
CALL_TIMEOUT: Final = 120.0

AsyncCall = Callable[[str], Coroutine[Any, Any, int]]
SyncCall = Callable[[str], int]
AsyncBatch = Callable[[str, int], Awaitable[int]]
SyncBatch = Callable[[str, int], int]
AsyncPeer = Callable[[str, int], AbstractAsyncContextManager[AsyncBatch]]
ThreadPeer = Callable[[str, int], AbstractContextManager[SyncBatch]]


def _gathered(call: AsyncCall, concurrency: int) -> AsyncBatch:
    """``asyncio.gather`` of every call, at most ``concurrency`` at once (a semaphore)."""

    async def batch(prompt: str, requests: int) -> int:
        semaphore = asyncio.Semaphore(concurrency)

        async def one() -> int:
            async with semaphore:
                return await call(prompt)

        return sum(await asyncio.gather(*(one() for _ in range(requests))))

    return batch


@contextlib.contextmanager
def _threaded(call: SyncCall, threads: int) -> Iterator[SyncBatch]:
    """``threads`` threads that split the calls of a batch evenly between them."""

    def share(prompt: str, count: int) -> int:
        return sum(call(prompt) for _ in range(count))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench") as pool:

        def batch(prompt: str, requests: int) -> int:
            counts = [requests // threads + (i < requests % threads) for i in range(threads)]
            futures = [pool.submit(share, prompt, count) for count in counts if count]
            return sum(future.result(CALL_TIMEOUT) for future in futures)

        yield batch


# -- bare aiohttp: the floor any aiohttp-based client is compared with ----------------------


@contextlib.asynccontextmanager
async def _aiohttp_call(base_url: str, connections: int) -> AsyncIterator[AsyncCall]:
    url = f"{base_url}/images/generations"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(prompt: str) -> int:
            payload = {"prompt": prompt, "model": MODEL, "size": SIZE, "quality": QUALITY}
            async with session.post(url, json=payload, headers=headers) as response:
                response.raise_for_status()
                body = await response.read()
            document = json.loads(body)
            return sum(len(base64.b64decode(item["b64_json"])) for item in document["data"])

        yield call


@contextlib.asynccontextmanager
async def bare_aiohttp(base_url: str, concurrency: int) -> AsyncIterator[AsyncBatch]:
    """One ClientSession: post JSON, ``json.loads`` the body, base64-decode the image."""
    async with _aiohttp_call(base_url, concurrency) as call:
        yield _gathered(call, concurrency)


@contextlib.contextmanager
def bare_aiohttp_threads(base_url: str, threads: int) -> Iterator[SyncBatch]:
    """The same calls from ``threads`` threads, each handed to one event loop thread.

    The least a sync facade over aiohttp can cost: what ``Images`` adds beyond this is its
    own overhead, not the price of crossing threads. The loop thread is the one ``Images``
    runs on (:class:`images_async._loop_thread.LoopThread`), so only the client differs.
    """
    loop = LoopThread(name="bench-loop")
    try:
        stack = contextlib.AsyncExitStack()
        async_call = loop.run(stack.enter_async_context(_aiohttp_call(base_url, threads)))
        try:

            def call(prompt: str) -> int:
                return loop.run(async_call(prompt))

            with _threaded(call, threads) as batch:
                yield batch
        finally:
            loop.run(stack.aclose())
    finally:
        loop.close()


# -- images_async -----------------------------------------------------------------------------


def _async_images(base_url: str, connections: int) -> AsyncImages:
    return AsyncImages(
        api_key=API_KEY, base_url=base_url, max_retries=0, max_connections=connections
    )


@contextlib.asynccontextmanager
async def async_images(base_url: str, concurrency: int) -> AsyncIterator[AsyncBatch]:
    """``AsyncImages.generate`` under ``asyncio.gather`` and a semaphore."""
    async with _async_images(base_url, concurrency) as images:

        async def call(prompt: str) -> int:
            result = await images.generate(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
            return sum(len(image.decode()) for image in result.data)

        yield _gathered(call, concurrency)


@contextlib.asynccontextmanager
async def async_images_run_many(base_url: str, concurrency: int) -> AsyncIterator[AsyncBatch]:
    """The same calls as :func:`async_images`, made by ``AsyncImages.run_many``."""
    async with _async_images(base_url, concurrency) as images:

        async def batch(prompt: str, requests: int) -> int:
            generated = (
                GenerateRequest(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
                for _ in range(requests)
            )
            total = 0
            fan_out = images.run_many(generated, concurrency=concurrency)
            async with contextlib.aclosing(fan_out) as outcomes:
                async for outcome in outcomes:
                    total += sum(len(image.decode()) for image in outcome.unwrap().data)
            return total

        yield batch


@contextlib.contextmanager
def images_threads(base_url: str, threads: int) -> Iterator[SyncBatch]:
    """One ``Images`` (the sync facade) shared by ``threads`` threads."""
    images = Images(api_key=API_KEY, base_url=base_url, max_retries=0, max_connections=threads)
    with images:

        def call(prompt: str) -> int:
            result = images.generate(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
            return sum(len(image.decode()) for image in result.data)

        with _threaded(call, threads) as batch:
            yield batch


# -- the official openai SDK (optional) ------------------------------------------------------


@contextlib.asynccontextmanager
async def async_openai(base_url: str, concurrency: int) -> AsyncIterator[AsyncBatch]:
    """``AsyncOpenAI().images.generate`` under ``asyncio.gather`` and a semaphore."""
    from openai import AsyncOpenAI  # optional: only imported when this peer runs

    async with AsyncOpenAI(api_key=API_KEY, base_url=base_url, max_retries=0) as client:

        async def call(prompt: str) -> int:
            result = await client.images.generate(
                prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY
            )
            images = result.data or []
            return sum(len(base64.b64decode(image.b64_json or "")) for image in images)

        yield _gathered(call, concurrency)


@contextlib.contextmanager
def openai_threads(base_url: str, threads: int) -> Iterator[SyncBatch]:
    """One ``OpenAI`` client shared by ``threads`` threads."""
    from openai import OpenAI  # optional: only imported when this peer runs

    with OpenAI(api_key=API_KEY, base_url=base_url, max_retries=0) as client:

        def call(prompt: str) -> int:
            result = client.images.generate(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
            images = result.data or []
            return sum(len(base64.b64decode(image.b64_json or "")) for image in images)

        with _threaded(call, threads) as batch:
            yield batch


ASYNC_PEERS: Final[dict[str, AsyncPeer]] = {
    "aiohttp": bare_aiohttp,
    "async-images": async_images,
    "run-many": async_images_run_many,
    "async-openai": async_openai,
}
THREAD_PEERS: Final[dict[str, ThreadPeer]] = {
    "aiohttp-threads": bare_aiohttp_threads,
    "images-threads": images_threads,
    "openai-threads": openai_threads,
}
