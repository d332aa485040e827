"""``images.batches.outcomes(job, save_to=...)``: batch output saved straight to files.

Against a small finished-batch server on 127.0.0.1 that serves the batch, its input file and
its output file, the output cut into chunks of sizes the test picks (one byte, odd sizes), cut
short, or stalled. Checks the files hold exactly what ``Image.decode()`` gives, are named
``request-<index>-<n>.png``, never replace a file, and that nothing partial is ever left.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from plugins.api_server import serving

from images_async import (
    APIResponseValidationError,
    AsyncImages,
    BadRequestError,
    GenerateRequest,
    ImageDecodeError,
    Images,
    Outcome,
    SavedOutcome,
)
from images_async.testing import Emulator, EmulatorConfig

API_KEY = "sk-test-batch-saving-0123456789abcdef"
BATCH_ID = "batch_saved"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def image_bytes(seed: int, size: int) -> bytes:
    """Bytes that start as a PNG and are otherwise random: base64 of every shape."""
    return PNG_MAGIC + random.Random(seed).randbytes(size - len(PNG_MAGIC))


def ok_line(index: int, images: Sequence[bytes], *, escape_slashes: bool = False) -> bytes:
    body = {
        "created": 1,
        "data": [{"b64_json": base64.b64encode(image).decode()} for image in images],
        "output_format": "png",
        "usage": {"total_tokens": 3},
    }
    line = {
        "id": f"response-{index}",
        "custom_id": f"request-{index}",
        "response": {"status_code": 200, "request_id": f"req_{index}", "body": body},
        "error": None,
    }
    text = json.dumps(line)
    if escape_slashes:  # JSON may escape "/": some encoders always do
        text = text.replace("/", "\\/")
    return text.encode() + b"\n"


def error_line(index: int) -> bytes:
    error = {"message": "the prompt was refused", "type": "invalid_request_error"}
    line = {
        "id": f"response-{index}",
        "custom_id": f"request-{index}",
        "response": {
            "status_code": 400,
            "request_id": f"req_{index}",
            "body": {"error": {**error, "code": "content_policy_violation"}},
        },
        "error": None,
    }
    return json.dumps(line).encode() + b"\n"


def input_file(count: int) -> bytes:
    lines = [
        {
            "custom_id": f"request-{index}",
            "method": "POST",
            "url": "/v1/images/generations",
            "body": {"model": "gpt-image-1", "prompt": f"prompt {index}"},
        }
        for index in range(count)
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


class FinishedBatch:
    """One completed batch; its output file is sent in chunks of ``chunk_sizes`` (cycled),
    and stalls after ``stall_after`` bytes until :attr:`resume` is set."""

    def __init__(
        self,
        output: bytes,
        count: int,
        *,
        chunk_sizes: Sequence[int] = (64 * 1024,),
        stall_after: int | None = None,
    ) -> None:
        self.contents = {"file-in": input_file(count), "file-out": output}
        self.count = count
        self.chunk_sizes = chunk_sizes
        self.stall_after = stall_after
        self.resume = asyncio.Event()
        self.content_requests: list[tuple[str, str | None]] = []
        self.writes = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/batches/{id}", self.batch)
        app.router.add_get("/v1/files/{id}/content", self.content)
        return app

    async def batch(self, request: web.Request) -> web.Response:
        assert request.headers.get("Authorization") == f"Bearer {API_KEY}"
        assert request.match_info["id"] == BATCH_ID
        return web.json_response(
            {
                "id": BATCH_ID,
                "object": "batch",
                "endpoint": "/v1/images/generations",
                "status": "completed",
                "input_file_id": "file-in",
                "output_file_id": "file-out",
                "error_file_id": None,
                "completion_window": "24h",
                "created_at": 1,
                "request_counts": {"total": self.count, "completed": self.count, "failed": 0},
            }
        )

    async def content(self, request: web.Request) -> web.StreamResponse:
        assert request.headers.get("Authorization") == f"Bearer {API_KEY}"
        file_id = request.match_info["id"]
        self.content_requests.append((file_id, request.headers.get("Accept")))
        body = self.contents[file_id]
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(body)
        await response.prepare(request)
        sizes = itertools.cycle(self.chunk_sizes if file_id == "file-out" else (len(body),))
        position = 0
        while position < len(body):
            if file_id == "file-out" and position == self.stall_after:
                await self.resume.wait()
            end = min(position + next(sizes), len(body))
            if self.stall_after is not None and position < self.stall_after < end:
                end = self.stall_after
            await response.write(body[position:end])
            self.writes += file_id == "file-out"
            await asyncio.sleep(0)  # a chance for each write to leave as its own segment
            position = end
        await response.write_eof()
        return response


async def saved_outcomes(
    server: FinishedBatch, directory: Path, **client_options: Any
) -> list[Outcome[Any]]:
    async with (
        serving(server.app()) as root,
        AsyncImages(
            api_key=API_KEY, base_url=f"{root}/v1", max_retries=0, **client_options
        ) as images,
    ):
        job = await images.batches.retrieve(BATCH_ID)
        return [o async for o in images.batches.outcomes(job, save_to=directory)]


async def held_outcomes(server: FinishedBatch) -> list[Outcome[Any]]:
    async with serving(server.app()) as root, client(root) as images:
        job = await images.batches.retrieve(BATCH_ID)
        return [o async for o in images.batches.outcomes(job)]


def client(root: str) -> AsyncImages:
    return AsyncImages(api_key=API_KEY, base_url=f"{root}/v1", max_retries=0)


def saved_paths(outcome: Outcome[Any]) -> tuple[Path, ...]:
    """A saved outcome's files: every outcome of ``save_to`` is a ``SavedOutcome``."""
    assert isinstance(outcome, SavedOutcome)
    return outcome.paths


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@pytest.fixture
def mixed_output() -> tuple[bytes, dict[int, list[bytes]]]:
    """Five lines: two images, an error, one image, one large image, three small ones."""
    images = {
        0: [image_bytes(0, 5000), image_bytes(1, 7001)],
        2: [image_bytes(2, 9)],
        3: [image_bytes(3, 300_001)],
        4: [image_bytes(4, 10), image_bytes(5, 11), image_bytes(6, 12)],
    }
    output = b"".join(
        error_line(index) if index == 1 else ok_line(index, images[index]) for index in range(5)
    )
    return output, images


async def test_saved_files_hold_what_decode_gives(
    tmp_path: Path, mixed_output: tuple[bytes, dict[int, list[bytes]]]
) -> None:
    output, images = mixed_output
    server = FinishedBatch(output, 5)
    saved = {o.index: o for o in await saved_outcomes(server, tmp_path)}
    held = {o.index: o for o in await held_outcomes(FinishedBatch(output, 5))}
    assert sorted(saved) == sorted(held) == [0, 1, 2, 3, 4]
    for index, originals in images.items():
        outcome = saved[index]
        paths = saved_paths(outcome)
        assert outcome.ok
        expected = [f"request-{index}-{n}.png" for n in range(1, len(originals) + 1)]
        assert [path.name for path in paths] == expected
        decoded = [image.decode() for image in held[index].unwrap().data]
        assert [path.read_bytes() for path in paths] == decoded == originals
        assert outcome.response is not None
        assert all(image.b64_payload is None for image in outcome.response.data)
        assert outcome.response.usage == held[index].unwrap().usage
        assert outcome.request == GenerateRequest(model="gpt-image-1", prompt=f"prompt {index}")
    failed = saved[1]
    assert saved_paths(failed) == ()
    assert isinstance(failed.error, BadRequestError)
    assert failed.error.code == "content_policy_violation"
    assert failed.error.request_id == "req_1"
    assert names(tmp_path) == sorted(
        f"request-{i}-{n}.png" for i, imgs in images.items() for n in range(1, len(imgs) + 1)
    )
    # What arrived: the input (to rebuild the requests) and the output, as any bytes.
    assert server.content_requests == [
        ("file-in", "application/binary"),
        ("file-out", "application/binary"),
    ]


@pytest.mark.parametrize(
    "chunk_sizes", [(1,), (7, 13, 1, 409), (3, 2)], ids=["one-byte", "odd", "tiny"]
)
async def test_lines_cut_anywhere_by_the_network(tmp_path: Path, chunk_sizes: tuple[int]) -> None:
    images = {0: [image_bytes(10, 700), image_bytes(11, 301)], 1: [image_bytes(12, 1234)]}
    output = ok_line(0, images[0], escape_slashes=True) + ok_line(1, images[1]).rstrip(b"\n")
    server = FinishedBatch(output, 2, chunk_sizes=chunk_sizes)
    outcomes = {o.index: o for o in await saved_outcomes(server, tmp_path)}
    # The file really went out in those pieces.
    assert server.writes >= len(output) // sum(chunk_sizes) * len(chunk_sizes)
    for index, originals in images.items():
        paths = saved_paths(outcomes[index])
        assert [path.read_bytes() for path in paths] == originals
    assert names(tmp_path) == ["request-0-1.png", "request-0-2.png", "request-1-1.png"]


@pytest.mark.parametrize("cut", [-40, -3, -1], ids=["mid-payload", "in-the-tail", "last-brace"])
async def test_a_file_cut_short_raises_and_leaves_no_file_of_its_last_line(
    tmp_path: Path, cut: int
) -> None:
    whole = ok_line(0, [image_bytes(20, 900)]) + ok_line(1, [image_bytes(21, 900)])
    server = FinishedBatch(whole.rstrip(b"\n")[:cut], 2, chunk_sizes=(97,))
    with pytest.raises(APIResponseValidationError) as caught:
        await saved_outcomes(server, tmp_path)
    assert "cut short" in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value)
    # The complete first line was saved; nothing of the second, not even a temporary file.
    assert names(tmp_path) == ["request-0-1.png"]
    assert (tmp_path / "request-0-1.png").read_bytes() == image_bytes(20, 900)


async def test_existing_files_are_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "request-0-1.png").write_bytes(b"mine")
    (tmp_path / "request-0-2.png").symlink_to(tmp_path / "nowhere")
    output = ok_line(0, [image_bytes(30, 50), image_bytes(31, 60)])
    [outcome] = await saved_outcomes(FinishedBatch(output, 1), tmp_path)
    paths = saved_paths(outcome)
    assert [path.name for path in paths] == ["request-0-1-2.png", "request-0-2-2.png"]
    assert (tmp_path / "request-0-1.png").read_bytes() == b"mine"
    assert (tmp_path / "request-0-2.png").is_symlink()
    assert not (tmp_path / "nowhere").exists()
    assert [path.read_bytes() for path in paths] == [
        image_bytes(30, 50),
        image_bytes(31, 60),
    ]


async def test_cancelling_mid_line_leaves_no_file(tmp_path: Path) -> None:
    first = ok_line(0, [image_bytes(40, 200)])
    second = ok_line(1, [image_bytes(41, 200_000)])
    # Stall inside the second line's payload, well past its first flush to disk.
    server = FinishedBatch(first + second, 2, stall_after=len(first) + 150_000)
    got: list[Outcome[Any]] = []
    async with serving(server.app()) as root, client(root) as images:
        job = await images.batches.retrieve(BATCH_ID)

        async def consume() -> None:
            async for outcome in images.batches.outcomes(job, save_to=tmp_path):
                got.append(outcome)

        task = asyncio.create_task(consume())
        try:
            for _ in range(500):  # bounded: the temporary file of the second line shows
                if any(name.endswith(".part") for name in names(tmp_path)):
                    break
                await asyncio.sleep(0.01)
            assert [o.index for o in got] == [0]
            assert any(name.startswith(".request-") for name in names(tmp_path))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            server.resume.set()
    assert names(tmp_path) == ["request-0-1.png"]


async def test_a_malformed_payload_is_that_outcome_s_error(tmp_path: Path) -> None:
    bad = ok_line(1, [image_bytes(51, 90)]).replace(b'"b64_json": "', b'"b64_json": "*', 1)
    output = ok_line(0, [image_bytes(50, 90)]) + bad + ok_line(2, [image_bytes(52, 90)])
    outcomes = {o.index: o for o in await saved_outcomes(FinishedBatch(output, 3), tmp_path)}
    assert isinstance(outcomes[1].error, ImageDecodeError)
    assert saved_paths(outcomes[1]) == ()
    assert outcomes[0].ok
    assert outcomes[2].ok
    assert names(tmp_path) == ["request-0-1.png", "request-2-1.png"]


async def test_an_image_that_cannot_be_placed_is_that_outcome_s_error(tmp_path: Path) -> None:
    # A line whose image has neither b64_json nor url: its outcome fails, the others go on.
    empty = ok_line(1, [image_bytes(54, 90)]).replace(b'"b64_json"', b'"revised_prompt"', 1)
    output = ok_line(0, [image_bytes(53, 90)]) + empty + ok_line(2, [image_bytes(55, 90)])
    outcomes = {o.index: o for o in await saved_outcomes(FinishedBatch(output, 3), tmp_path)}
    assert isinstance(outcomes[1].error, ImageDecodeError)
    assert outcomes[0].ok
    assert outcomes[2].ok
    assert names(tmp_path) == ["request-0-1.png", "request-2-1.png"]


async def test_the_cap_is_per_line_not_per_file(tmp_path: Path) -> None:
    lines = [ok_line(index, [image_bytes(60 + index, 30_000)]) for index in range(4)]
    longest = max(len(line) for line in lines)
    # The whole file is four times the cap: each line fits, so everything is saved.
    outcomes = await saved_outcomes(
        FinishedBatch(b"".join(lines), 4), tmp_path, max_response_bytes=longest
    )
    assert sorted(o.index for o in outcomes if o.ok) == [0, 1, 2, 3]
    assert len(names(tmp_path)) == 4
    # One line over the cap is refused, and leaves nothing of itself.
    other = tmp_path / "other"
    other.mkdir()
    big = ok_line(9, [image_bytes(70, 60_000)])
    with pytest.raises(APIResponseValidationError, match="larger than"):
        await saved_outcomes(FinishedBatch(lines[0] + big, 10), other, max_response_bytes=longest)
    assert names(other) == ["request-0-1.png"]


async def test_the_held_path_also_caps_lines_not_files() -> None:
    lines = [ok_line(index, [image_bytes(80 + index, 20_000)]) for index in range(3)]
    longest = max(len(line) for line in lines)
    async with (
        serving(FinishedBatch(b"".join(lines), 3).app()) as root,
        AsyncImages(
            api_key=API_KEY, base_url=f"{root}/v1", max_retries=0, max_response_bytes=longest
        ) as images,
    ):
        job = await images.batches.retrieve(BATCH_ID)
        outcomes = [o async for o in images.batches.outcomes(job)]
    assert sorted(o.index for o in outcomes) == [0, 1, 2]
    assert outcomes[0].unwrap().data[0].decode() == image_bytes(80 + outcomes[0].index, 20_000)


async def test_save_to_must_be_an_existing_directory(tmp_path: Path) -> None:
    server = FinishedBatch(ok_line(0, [image_bytes(90, 10)]), 1)
    with pytest.raises(OSError, match="not an existing directory"):
        await saved_outcomes(server, tmp_path / "missing")
    assert server.content_requests == []  # refused before anything was read


def test_the_sync_client_saves_too(tmp_path: Path) -> None:
    server = FinishedBatch(ok_line(0, [image_bytes(95, 4000)]), 1)

    async def serve(ready: asyncio.Future[str], stop: asyncio.Event) -> None:
        async with serving(server.app()) as root:
            ready.set_result(root)
            await stop.wait()

    async def scenario() -> list[Outcome[Any]]:
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        serve_task = asyncio.create_task(serve(ready, stop))
        root = await ready
        try:
            return await asyncio.to_thread(_sync_outcomes, root, tmp_path)
        finally:
            stop.set()
            await serve_task

    [outcome] = asyncio.run(scenario())
    paths = saved_paths(outcome)
    assert [path.read_bytes() for path in paths] == [image_bytes(95, 4000)]


def _sync_outcomes(root: str, directory: Path) -> list[Outcome[Any]]:
    with Images(api_key=API_KEY, base_url=f"{root}/v1", max_retries=0) as images:
        job = images.batches.retrieve(BATCH_ID)
        return list(images.batches.outcomes(job, save_to=directory))


async def test_an_emulator_job_saved_as_read_matches_the_held_outcomes(tmp_path: Path) -> None:
    """End to end against the emulator's Batch API: every request has one outcome, the
    failing lines (from the error file) and unrun ones keep their typed errors."""
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), batch_step_delay=0.01)
    requests = [
        GenerateRequest(
            prompt=f"p{i}",
            model="gpt-image-1",
            n=1 + i % 2,
            extra_body={"unknown_field": 1} if i % 5 == 4 else None,
        )
        for i in range(10)
    ]
    async with (
        Emulator(config) as emulator,
        client(emulator.base_url.removesuffix("/v1")) as images,
    ):
        job = await images.batches.wait(
            await images.batches.submit(requests), poll_interval=0.005, timeout=30
        )
        saved = {o.index: o async for o in images.batches.outcomes(job, save_to=tmp_path)}
        held = {o.index: o async for o in images.batches.outcomes(job)}
    assert sorted(saved) == sorted(held) == list(range(10))
    for index, outcome in saved.items():
        assert outcome.request is requests[index]
        if index % 5 == 4:
            assert isinstance(outcome.error, BadRequestError)
            assert saved_paths(outcome) == ()
            continue
        decoded = [image.decode() for image in held[index].unwrap().data]
        paths = saved_paths(outcome)
        assert [path.name for path in paths] == [
            f"request-{index}-{n}.png" for n in range(1, len(decoded) + 1)
        ]
        assert [path.read_bytes() for path in paths] == decoded
    assert not [name for name in names(tmp_path) if name.startswith(".")]
