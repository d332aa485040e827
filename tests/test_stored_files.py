"""The Files client, ``images.files``: upload, retrieve, content (streamed), delete.

Against the emulator's Files endpoints on 127.0.0.1, asserting on what it recorded and
stored; Azure's files URLs against a small recording app (the emulator serves ``/v1/files``
on the OpenAI layout only); the sync twin against the emulator on a thread of its own.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from plugins.api_server import serving

from images_async import (
    APIResponseValidationError,
    AsyncAzureImages,
    AsyncImages,
    AsyncStoredFiles,
    AttemptEvent,
    BadRequestError,
    Images,
    InvalidRequestError,
    NotFoundError,
    RetryPolicy,
    StoredFile,
    StoredFiles,
    SyncStreamedResponse,
)
from images_async.testing import Emulator, EmulatorConfig, FaultPlan, run_emulator_in_thread

API_KEY = "sk-test-stored-files-0123456789abcdef"
JSONL = b'{"custom_id": "0", "method": "POST", "url": "/v1/images/generations", "body": {}}\n'
#: Large enough to arrive in many chunks, so stopping after the first leaves most unread.
BIG = bytes(range(256)) * (16 * 1024)  # 4 MiB
API_VERSION = "2024-10-21"


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(api_keys=frozenset({API_KEY}))) as emulator:
        yield emulator


@pytest.fixture
async def images(emulator: Emulator) -> AsyncIterator[AsyncImages]:
    async with AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images:
        yield images


def names_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def calls(emulator: Emulator) -> list[tuple[str, str, int | None]]:
    return [(call.method, call.path, call.status) for call in emulator.requests]


# -- the round trip ------------------------------------------------------------------------------


async def test_upload_retrieve_content_delete(emulator: Emulator, images: AsyncImages) -> None:
    uploaded = await images.files.upload(("jobs.jsonl", JSONL), purpose="batch")

    [stored] = list(emulator.files)
    assert stored.content == JSONL
    assert uploaded == StoredFile(
        id=stored.id,
        bytes=len(JSONL),
        created_at=stored.created_at,
        filename="jobs.jsonl",
        purpose="batch",
        status="processed",
        expires_at=stored.expires_at,  # a batch file expires; "object" is ignored
    )
    [upload_call] = emulator.requests
    assert upload_call.params == {"purpose": "batch"}
    assert [(f.field, f.filename, f.size) for f in upload_call.files] == [
        ("file", "jobs.jsonl", len(JSONL))
    ]

    assert await images.files.retrieve(uploaded.id) == uploaded
    async with images.files.content(uploaded.id) as response:
        assert response.status_code == 200
        content = b"".join([chunk async for chunk in response.iter_bytes()])
    assert content == JSONL
    assert images.pool_stats.acquired == 0

    assert await images.files.delete(uploaded.id) is True
    assert list(emulator.files) == []
    with pytest.raises(NotFoundError) as raised:
        await images.files.retrieve(uploaded.id)
    assert raised.value.status_code == 404
    assert API_KEY not in str(raised.value)

    file_path = f"/v1/files/{uploaded.id}"
    assert calls(emulator) == [
        ("POST", "/v1/files", 200),
        ("GET", file_path, 200),
        ("GET", f"{file_path}/content", 200),
        ("DELETE", file_path, 200),
        ("GET", file_path, 404),
    ]
    for call in emulator.requests[1:]:  # GET and DELETE carry no body, so no type for one
        assert "Content-Type" not in call.headers
        assert call.headers.get("Content-Length", "0") == "0"
    assert emulator.requests[2].headers["Accept"] == "application/binary"


async def test_content_streams_and_stopping_early_frees_the_connection(
    emulator: Emulator, images: AsyncImages
) -> None:
    uploaded = await images.files.upload(BIG, purpose="user_data")
    assert uploaded.filename == "file.bin"

    async with images.files.content(uploaded.id) as response:
        first = await anext(response.iter_bytes(64 * 1024))
        assert images.pool_stats.acquired == 1  # the rest is still on the wire
    assert first == BIG[: 64 * 1024]
    assert images.pool_stats.acquired == 0

    async with images.files.content(uploaded.id) as response:
        pieces = [len(chunk) async for chunk in response.iter_bytes(1024 * 1024)]
    assert pieces == [1024 * 1024] * 4
    assert images.pool_stats.acquired == 0


async def test_a_missing_files_content_is_not_found(images: AsyncImages) -> None:
    with pytest.raises(NotFoundError):
        async with images.files.content("file-missing"):
            pass
    assert images.pool_stats.acquired == 0


async def test_save_content_writes_the_file_whole(
    emulator: Emulator, images: AsyncImages, tmp_path: Path
) -> None:
    uploaded = await images.files.upload(BIG, purpose="user_data")
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    assert await images.files.save_content(uploaded.id, target) == target
    assert target.read_bytes() == BIG

    with pytest.raises(NotFoundError):
        await images.files.save_content("file-missing", tmp_path / "missing.bin")
    assert names_in(tmp_path) == ["out.bin"]  # no partial file left behind


async def test_a_failed_upload_is_retried_with_the_same_bytes(emulator: Emulator) -> None:
    emulator.config.faults = FaultPlan.scripted("500")
    policy = RetryPolicy(max_retries=1, initial_delay=0.01)
    async with AsyncImages(
        api_key=API_KEY, base_url=emulator.base_url, retry_policy=policy
    ) as images:
        uploaded = await images.files.upload(("a.jsonl", JSONL), purpose="batch")

    first, second = emulator.requests
    assert (first.status, second.status) == (500, 200)
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.headers["Content-Length"] == second.headers["Content-Length"]
    assert [(f.filename, f.size) for f in first.files] == [("a.jsonl", len(JSONL))]
    assert [(f.filename, f.size) for f in second.files] == [("a.jsonl", len(JSONL))]
    [stored] = list(emulator.files)
    assert (stored.id, stored.content) == (uploaded.id, JSONL)


async def test_hooks_hear_every_files_call(emulator: Emulator) -> None:
    events: list[AttemptEvent] = []
    async with AsyncImages(
        api_key=API_KEY, base_url=emulator.base_url, max_retries=0, on_attempt=events.append
    ) as images:
        uploaded = await images.files.upload(JSONL, purpose="batch")
        await images.files.delete(uploaded.id)
    assert [(event.method, event.endpoint, event.status) for event in events] == [
        ("POST", "files", 200),
        ("DELETE", f"files/{uploaded.id}", 200),
    ]
    assert [call.request_id for call in emulator.requests] == [e.request_id for e in events]


async def test_an_unknown_purpose_is_sent_as_given(emulator: Emulator, images: AsyncImages) -> None:
    with pytest.raises(BadRequestError, match=r"Invalid value: 'someday'"):
        await images.files.upload(JSONL, purpose="someday")
    [call] = emulator.requests
    assert call.params == {"purpose": "someday"}


# -- checks before sending -----------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["", "  ", None, 7])
async def test_a_bad_purpose_sends_nothing(
    emulator: Emulator, images: AsyncImages, purpose: Any
) -> None:
    with pytest.raises(InvalidRequestError, match="purpose") as raised:
        await images.files.upload(JSONL, purpose=purpose)
    assert raised.value.param == "purpose"
    assert emulator.requests == []


@pytest.mark.parametrize("file_id", ["", "a/b", "../files", ".", "..", None, 12])
async def test_a_bad_file_id_sends_nothing(
    emulator: Emulator, images: AsyncImages, file_id: Any, tmp_path: Path
) -> None:
    for call in (
        lambda: images.files.retrieve(file_id),
        lambda: images.files.delete(file_id),
        lambda: images.files.save_content(file_id, tmp_path / "x"),
    ):
        with pytest.raises(InvalidRequestError, match="file_id"):
            await call()
    with pytest.raises(InvalidRequestError, match="file_id"):
        images.files.content(file_id)  # at once, not on entering the block
    assert emulator.requests == []
    assert names_in(tmp_path) == []


async def test_bad_extra_headers_send_nothing(emulator: Emulator, images: AsyncImages) -> None:
    with pytest.raises(InvalidRequestError, match="extra_headers"):
        images.files.content("file-1", extra_headers={"X-Bad": "a\nb"})
    assert emulator.requests == []


def test_files_are_made_by_a_client_only() -> None:
    with pytest.raises(TypeError, match="AsyncStoredFiles is made by AsyncImages"):
        AsyncStoredFiles(object())
    with pytest.raises(TypeError, match="StoredFiles is made by Images"):
        StoredFiles(object())


# -- Azure -------------------------------------------------------------------------------------


class RecordingFilesApp:
    """Azure's Files routes (``/openai/files...``): records each call, answers a file."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.calls.append(
            (request.method, request.path, dict(request.query), dict(request.headers))
        )
        if request.path.endswith("/content"):
            return web.Response(body=JSONL, content_type="application/octet-stream")
        if request.method == "DELETE":
            return web.json_response({"id": "file-1", "object": "file", "deleted": True})
        return web.json_response(
            {
                "id": "file-1",
                "object": "file",
                "bytes": len(JSONL),
                "created_at": 1700000000,
                "filename": "jobs.jsonl",
                "purpose": "batch",
                "status": "processed",
                "status_details": None,
            }
        )


def azure_client(root: str, deployment: str | None) -> AsyncAzureImages:
    return AsyncAzureImages(
        azure_endpoint=root,
        api_version=API_VERSION,
        azure_deployment=deployment,
        api_key=API_KEY,
        max_retries=0,
    )


@pytest.mark.parametrize("deployment", [None, "my-images"])
async def test_azure_files_urls_are_not_under_a_deployment(deployment: str | None) -> None:
    api = RecordingFilesApp()
    async with serving(api.app) as root, azure_client(root, deployment) as images:
        uploaded = await images.files.upload(("jobs.jsonl", JSONL), purpose="batch")
        assert await images.files.retrieve("file-1") == uploaded
        async with images.files.content("file-1") as response:
            assert await response.read() == JSONL
        assert await images.files.delete("file-1") is True

    assert [(method, path) for method, path, _, _ in api.calls] == [
        ("POST", "/openai/files"),
        ("GET", "/openai/files/file-1"),
        ("GET", "/openai/files/file-1/content"),
        ("DELETE", "/openai/files/file-1"),
    ]
    for _, _, query, headers in api.calls:
        assert query == {"api-version": API_VERSION}
        assert headers["api-key"] == API_KEY
        assert "Authorization" not in headers


@pytest.mark.parametrize(
    ("answer", "call", "message"),
    [
        ({"id": "file-1", "bytes": "12"}, "retrieve", "'bytes' is not an integer"),
        ({"id": "file-1"}, "retrieve", "'bytes' is not an integer"),
        (["file-1"], "retrieve", "not a JSON object"),
        ({"id": "file-1", "object": "file"}, "delete", "no boolean 'deleted'"),
    ],
)
async def test_a_body_of_the_wrong_shape_is_a_typed_error(
    answer: object, call: str, message: str
) -> None:

    async def handle(request: web.Request) -> web.Response:
        return web.json_response(answer)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serving(app) as root, AsyncImages(api_key=API_KEY, base_url=root) as images:
        method = getattr(images.files, call)
        with pytest.raises(APIResponseValidationError, match=message) as raised:
            await method("file-1")
    assert raised.value.status_code == 200


# -- the sync twin -------------------------------------------------------------------------------


@pytest.fixture
def threaded_emulator() -> Iterator[Emulator]:
    """The emulator on a thread of its own: a sync client blocks this one."""
    emulator = Emulator(EmulatorConfig(api_keys=frozenset({API_KEY})))
    with run_emulator_in_thread(emulator):
        yield emulator


def test_the_sync_twin(threaded_emulator: Emulator, tmp_path: Path) -> None:
    with Images(api_key=API_KEY, base_url=threaded_emulator.base_url, max_retries=0) as images:
        assert images.files is images.files
        uploaded = images.files.upload(BIG, purpose="user_data")
        assert images.files.retrieve(uploaded.id) == uploaded

        sent = len(threaded_emulator.requests)
        response = images.files.content(uploaded.id)
        assert isinstance(response, SyncStreamedResponse)
        assert len(threaded_emulator.requests) == sent  # sent on first use
        assert b"".join(response.iter_bytes()) == BIG
        with images.files.content(uploaded.id) as response:
            assert next(response.iter_bytes(1024)) == BIG[:1024]
        assert images.pool_stats.acquired == 0

        saved = images.files.save_content(uploaded.id, tmp_path / "copy.bin")
        assert saved.read_bytes() == BIG
        assert images.files.delete(uploaded.id) is True
        with pytest.raises(NotFoundError):
            images.files.retrieve(uploaded.id)
        with pytest.raises(InvalidRequestError):
            images.files.retrieve("a/b")

    assert [(method, path) for method, path, _ in calls(threaded_emulator)] == [
        ("POST", "/v1/files"),
        ("GET", f"/v1/files/{uploaded.id}"),
        ("GET", f"/v1/files/{uploaded.id}/content"),
        ("GET", f"/v1/files/{uploaded.id}/content"),
        ("GET", f"/v1/files/{uploaded.id}/content"),
        ("DELETE", f"/v1/files/{uploaded.id}"),
        ("GET", f"/v1/files/{uploaded.id}"),
    ]


def test_the_sync_twin_has_no_coroutine_methods() -> None:
    for name in ("upload", "retrieve", "content", "save_content", "delete"):
        method = getattr(StoredFiles, name)
        assert not inspect.iscoroutinefunction(method)
        assert not inspect.isasyncgenfunction(method)
