"""The clients being compared, each making one kind of call the way an application would.

A *client* here is opened against the benchmark server and gives a function that makes one
call and returns how much it got: decoded image bytes (``decode``, ``edit``, ``save``: the
bytes written) or base64 characters (``b64``), which the worker checks. The operations:

- ``decode``: generate, then decode every image to bytes;
- ``b64``: generate, then read every image's ``b64_json`` string (no decoding);
- ``edit``: upload the 3.5 MB PNG to ``/images/edits``, then decode the answer;
- ``save``: generate, then write every image to a file in a temporary directory;
- ``save-streamed``: generate with ``with_streaming_response`` and ``save_images`` the body
  straight into files as it arrives (removed again after each call, to free their names);
- ``batch-held``: retrieve the finished batch the prompt names, read every outcome of its
  output file and write each image to a file (bare aiohttp: stream the file, split lines,
  ``json.loads``, ``b64decode``; images_async: ``batches.outcomes`` then ``save_image``);
- ``batch-saved``: the same batch through ``batches.outcomes(job, save_to=...)``, the images
  decoded straight into files as each line arrives.

A batch "call" reads a whole output file. The held peers replace one file per image index,
as ``save`` does; ``batch-saved`` removes each file once counted, to free its name.

Only public APIs of images_async are used, so a peer runs against any version of it; a
version that lacks an API a peer needs raises :class:`PeerUnavailable` (reported as skipped).
How calls are spread over tasks or threads is :mod:`bench_runners`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import inspect
import json
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import aiohttp
from bench_payloads import batch_id_for

import images_async

API_KEY: Final = "sk-benchmark"
MODEL: Final = "gpt-image-1"
SIZE: Final = "1024x1024"
QUALITY: Final = "low"
#: No single call or batch may take longer than this (a hung server fails the run instead).
CALL_TIMEOUT: Final = 120.0

AsyncCall = Callable[[str], Coroutine[Any, Any, int]]
SyncCall = Callable[[str], int]


class PeerUnavailable(Exception):
    """The images_async being measured lacks an API this peer needs."""


@dataclasses.dataclass(frozen=True)
class Setup:
    """What every client is opened with."""

    base_url: str
    connections: int
    op: str
    """``decode``, ``b64``, ``edit``, ``save``, ``save-streamed``, ``batch-held`` or
    ``batch-saved``."""
    upload: bytes = b""
    """The PNG that ``edit`` sends."""
    directory: Path = Path()
    """Where ``save`` writes its files (one file per image, replaced by every call)."""


def _require(owner: object, *names: str) -> None:
    for name in names:
        if not hasattr(owner, name):
            raise PeerUnavailable(f"{getattr(owner, '__name__', owner)} has no {name}")


#: The client methods and ``Image`` members each operation needs.
_CLIENT_NEEDS = {
    "decode": ("generate",),
    "b64": ("generate",),
    "edit": ("edit",),
    "save": ("generate", "save_image"),
    "save-streamed": ("generate", "with_streaming_response"),
    "batch-held": ("batches", "save_image"),
    "batch-saved": ("batches",),
}
_IMAGE_NEEDS = {
    "decode": ("decode",),
    "b64": ("b64_json",),
    "edit": ("decode",),
    "save": (),
    "save-streamed": (),
    "batch-held": (),
    "batch-saved": (),
}


def _require_api(client: str, op: str) -> None:
    """Raise PeerUnavailable if the images_async in use lacks what ``op`` needs."""
    _require(images_async, client, "Image")
    _require(getattr(images_async, client), *_CLIENT_NEEDS[op])
    _require(images_async.Image, *_IMAGE_NEEDS[op])
    if op == "save-streamed":
        _require(images_async.StreamedResponse, "save_images")
    if op == "batch-saved":
        _require(images_async, "AsyncBatches")
        if "save_to" not in inspect.signature(images_async.AsyncBatches.outcomes).parameters:
            raise PeerUnavailable("AsyncBatches.outcomes has no save_to")


def _sizes_removed(paths: Sequence[Path]) -> int:
    """The bytes of the files ``save_images`` wrote, which are then removed: it never
    replaces a file, and the next call's names must be free as ``save``'s are."""
    total = 0
    for path in paths:
        total += path.stat().st_size
        path.unlink()
    return total


def _write(directory: Path, index: int, content: bytes) -> int:
    (directory / f"{index}.png").write_bytes(content)
    return len(content)


# -- bare aiohttp: the reference every ratio is taken against ----------------------------


@contextlib.asynccontextmanager
async def bare_aiohttp(setup: Setup) -> AsyncIterator[AsyncCall]:
    """One ClientSession: post, ``read``, ``json.loads``, then ``base64.b64decode``."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    if setup.op == "edit":
        # aiohttp warns (ResourceWarning) about every bytes body over 1 MiB, suggesting a
        # file object instead. This peer sends the bytes on purpose, as the plain way to
        # post an upload you already hold, so exactly that warning is silenced here.
        warnings.filterwarnings(
            "ignore",
            message="Sending a large body directly with raw bytes",
            category=ResourceWarning,
        )
    connector = aiohttp.TCPConnector(limit=setup.connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def post(path: str, **kwargs: Any) -> Any:
            async with session.post(f"{setup.base_url}{path}", **kwargs) as response:
                response.raise_for_status()
                body = await response.read()
            return json.loads(body)

        async def generate(prompt: str) -> Any:
            payload = {"prompt": prompt, "model": MODEL, "size": SIZE, "quality": QUALITY}
            return await post("/images/generations", json=payload)

        async def decode(prompt: str) -> int:
            data = (await generate(prompt))["data"]
            return sum(len(base64.b64decode(item["b64_json"])) for item in data)

        async def b64(prompt: str) -> int:
            return sum(len(item["b64_json"]) for item in (await generate(prompt))["data"])

        async def edit(prompt: str) -> int:
            form = aiohttp.FormData()
            form.add_field("image", setup.upload, filename="image.png", content_type="image/png")
            for name, value in (("prompt", prompt), ("model", MODEL), ("quality", QUALITY)):
                form.add_field(name, value)
            data = (await post("/images/edits", data=form))["data"]
            return sum(len(base64.b64decode(item["b64_json"])) for item in data)

        async def save(prompt: str) -> int:
            data = (await generate(prompt))["data"]
            return sum(
                _write(setup.directory, index, base64.b64decode(item["b64_json"]))
                for index, item in enumerate(data)
            )

        async def batch_held(prompt: str) -> int:
            base = setup.base_url
            async with session.get(f"{base}/batches/{batch_id_for(prompt)}") as response:
                output = (await response.json())["output_file_id"]
            written = 0
            async with session.get(f"{base}/files/{output}/content") as response:
                response.raise_for_status()
                pending = bytearray()  # lines can be megabytes: no readline() limit here
                async for chunk in response.content.iter_any():
                    pending += chunk
                    *lines, rest = bytes(pending).split(b"\n")
                    pending = bytearray(rest)
                    for line in lines:
                        written += _saved_line(setup.directory, json.loads(line))
            if pending.strip():
                written += _saved_line(setup.directory, json.loads(pending))
            return written

        yield {
            "decode": decode,
            "b64": b64,
            "edit": edit,
            "save": save,
            "batch-held": batch_held,
        }[setup.op]


def _saved_line(directory: Path, line: dict[str, Any]) -> int:
    """Write each image of a batch output line to a file, count it, and remove it."""
    data = line["response"]["body"]["data"]
    return sum(
        _write(directory, index, base64.b64decode(item["b64_json"]))
        for index, item in enumerate(data)
    )


# -- images_async -----------------------------------------------------------------------------


def _client_options(setup: Setup) -> dict[str, Any]:
    return {
        "api_key": API_KEY,
        "base_url": setup.base_url,
        "max_retries": 0,
        "max_connections": setup.connections,
    }


@contextlib.asynccontextmanager
async def async_images(setup: Setup) -> AsyncIterator[AsyncCall]:
    """One ``AsyncImages``: ``generate`` or ``edit``, then the image's public accessors."""
    _require_api("AsyncImages", setup.op)
    async with images_async.AsyncImages(**_client_options(setup)) as images:

        async def decode(prompt: str) -> int:
            result = await images.generate(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
            return sum(len(image.decode()) for image in result.data)

        async def b64(prompt: str) -> int:
            result = await images.generate(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
            return sum(len(image.b64_json or "") for image in result.data)

        async def edit(prompt: str) -> int:
            result = await images.edit(
                image=setup.upload, prompt=prompt, model=MODEL, quality=QUALITY
            )
            return sum(len(image.decode()) for image in result.data)

        async def save(prompt: str) -> int:
            result = await images.generate(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
            written = 0
            for index, image in enumerate(result.data):
                path = await images.save_image(image, setup.directory / f"{index}.png")
                written += path.stat().st_size
            return written

        async def save_streamed(prompt: str) -> int:
            async with images.with_streaming_response.generate(
                prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY
            ) as response:
                saved = await response.save_images(setup.directory)
            return _sizes_removed(saved.paths)

        async def batch_held(prompt: str) -> int:
            job = await images.batches.retrieve(batch_id_for(prompt))
            written = 0
            async with contextlib.aclosing(images.batches.outcomes(job)) as outcomes:
                async for outcome in outcomes:
                    for index, image in enumerate(outcome.unwrap().data):
                        path = await images.save_image(image, setup.directory / f"{index}.png")
                        written += path.stat().st_size
            return written

        async def batch_saved(prompt: str) -> int:
            job = await images.batches.retrieve(batch_id_for(prompt))
            written = 0
            saving = images.batches.outcomes(job, save_to=setup.directory)
            async with contextlib.aclosing(saving) as outcomes:
                async for outcome in outcomes:
                    outcome.unwrap()
                    written += _sizes_removed(getattr(outcome, "paths", ()))
            return written

        yield {
            "decode": decode,
            "b64": b64,
            "edit": edit,
            "save": save,
            "save-streamed": save_streamed,
            "batch-held": batch_held,
            "batch-saved": batch_saved,
        }[setup.op]


@contextlib.contextmanager
def sync_images(setup: Setup) -> Iterator[SyncCall]:
    """One ``Images`` (the sync facade), shared by every calling thread."""
    _require_api("Images", setup.op)
    with images_async.Images(**_client_options(setup)) as images:

        def decode(prompt: str) -> int:
            result = images.generate(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
            return sum(len(image.decode()) for image in result.data)

        def b64(prompt: str) -> int:
            result = images.generate(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
            return sum(len(image.b64_json or "") for image in result.data)

        def edit(prompt: str) -> int:
            result = images.edit(image=setup.upload, prompt=prompt, model=MODEL, quality=QUALITY)
            return sum(len(image.decode()) for image in result.data)

        def save(prompt: str) -> int:
            result = images.generate(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
            return sum(
                images.save_image(image, setup.directory / f"{index}.png").stat().st_size
                for index, image in enumerate(result.data)
            )

        def save_streamed(prompt: str) -> int:
            with images.with_streaming_response.generate(
                prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY
            ) as response:
                saved = response.save_images(setup.directory)
            return _sizes_removed(saved.paths)

        yield {
            "decode": decode,
            "b64": b64,
            "edit": edit,
            "save": save,
            "save-streamed": save_streamed,
        }[setup.op]


@contextlib.asynccontextmanager
async def run_many_images(
    setup: Setup,
) -> AsyncIterator[Callable[[str, int], Coroutine[Any, Any, int]]]:
    """A whole batch of ``decode`` calls made by ``AsyncImages.run_many``."""
    _require(images_async, "AsyncImages", "GenerateRequest")
    _require(images_async.AsyncImages, "run_many")
    async with images_async.AsyncImages(**_client_options(setup)) as images:

        async def batch(prompt: str, requests: int) -> int:
            generated = (
                images_async.GenerateRequest(prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY)
                for _ in range(requests)
            )
            total = 0
            fan_out = images.run_many(generated, concurrency=setup.connections)
            async with contextlib.aclosing(fan_out) as outcomes:
                async for outcome in outcomes:
                    total += sum(len(image.decode()) for image in outcome.unwrap().data)
            return total

        yield batch


# -- the official openai SDK (optional) ------------------------------------------------------


def _sdk_count(op: str, result: Any, directory: Path) -> int:
    images = result.data or []
    if op == "b64":
        return sum(len(image.b64_json or "") for image in images)
    decoded = [base64.b64decode(image.b64_json or "") for image in images]
    if op == "save":
        return sum(_write(directory, index, content) for index, content in enumerate(decoded))
    return sum(len(content) for content in decoded)


@contextlib.asynccontextmanager
async def async_openai(setup: Setup) -> AsyncIterator[AsyncCall]:
    """``AsyncOpenAI().images``: ``generate`` or ``edit``, then ``b64decode``."""
    from openai import AsyncOpenAI  # optional: only imported when this peer runs

    async with AsyncOpenAI(api_key=API_KEY, base_url=setup.base_url, max_retries=0) as client:

        async def call(prompt: str) -> int:
            if setup.op == "edit":
                upload = ("image.png", setup.upload, "image/png")
                result = await client.images.edit(
                    image=upload, prompt=prompt, model=MODEL, quality=QUALITY
                )
            else:
                result = await client.images.generate(
                    prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY
                )
            return _sdk_count(setup.op, result, setup.directory)

        yield call


@contextlib.contextmanager
def sync_openai(setup: Setup) -> Iterator[SyncCall]:
    """One ``OpenAI`` client shared by every calling thread."""
    from openai import OpenAI  # optional: only imported when this peer runs

    with OpenAI(api_key=API_KEY, base_url=setup.base_url, max_retries=0) as client:

        def call(prompt: str) -> int:
            if setup.op == "edit":
                upload = ("image.png", setup.upload, "image/png")
                result = client.images.edit(
                    image=upload, prompt=prompt, model=MODEL, quality=QUALITY
                )
            else:
                result = client.images.generate(
                    prompt=prompt, model=MODEL, size=SIZE, quality=QUALITY
                )
            return _sdk_count(setup.op, result, setup.directory)

        yield call


ASYNC_CLIENTS: Final = {"aiohttp": bare_aiohttp, "images": async_images, "openai": async_openai}
SYNC_CLIENTS: Final = {"images": sync_images, "openai": sync_openai}
