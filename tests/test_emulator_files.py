"""The emulator's Files endpoints, over HTTP: upload, list, retrieve, download and delete.

Each answer is checked against the vendored OpenAPI spec (``OpenAIFile``,
``DeleteFileResponse``, ``ListFilesResponse``) and each call against what the emulator
recorded; the official ``openai`` SDK's ``files`` calls run against it too.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from openapi_schema import MultipartField, check_json_response, check_multipart_request

from images_async.testing import Emulator, EmulatorConfig, FaultPlan, run_emulator_in_thread
from images_async.testing.sample_images import solid_png

API_KEY = "sk-test-files-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
JSONL = b'{"custom_id": "0", "method": "POST", "url": "/v1/images/generations", "body": {}}\n'
THIRTY_DAYS = 30 * 24 * 3600


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(api_keys=frozenset({API_KEY}))) as emulator:
        yield emulator


def upload_form(
    purpose: str | None = "batch",
    content: bytes | None = JSONL,
    filename: str = "jobs.jsonl",
    **texts: str,
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if purpose is not None:
        form.add_field("purpose", purpose)
    for name, value in texts.items():
        form.add_field(name.replace("__", "[").replace("_end", "]"), value)
    if content is not None:
        form.add_field("file", content, filename=filename, content_type="application/jsonl")
    return form


async def upload(
    http: aiohttp.ClientSession, emulator: Emulator, form: aiohttp.FormData
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{emulator.base_url}/files", data=form, headers=AUTH) as response:
        return response.status, await response.json()


async def call(
    http: aiohttp.ClientSession, emulator: Emulator, method: str, path: str
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, f"{emulator.base_url}{path}", headers=AUTH) as response:
        return response.status, await response.json()


def recorded_form(emulator: Emulator) -> list[MultipartField]:
    """The last call's multipart body as the emulator read it, in the spec checker's terms."""
    last = emulator.requests[-1]
    fields: list[MultipartField] = [(name, str(value), None) for name, value in last.params.items()]
    fields += [(part.field, b"x" * part.size, part.filename) for part in last.files]
    return fields


# --- upload, retrieve, download, delete -----------------------------------------------------


async def test_an_upload_is_an_openai_file_that_can_be_fetched_and_deleted(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    before = int(time.time())
    status, created = await upload(http, emulator, upload_form())

    assert status == 200
    check_json_response("createFile", created)
    assert created["id"].startswith("file-")
    assert created["object"] == "file"
    assert (created["bytes"], created["filename"], created["purpose"]) == (
        len(JSONL),
        "jobs.jsonl",
        "batch",
    )
    assert before <= created["created_at"] <= int(time.time())
    assert created["expires_at"] == created["created_at"] + THIRTY_DAYS  # batch files: 30 days
    upload_call = emulator.requests[-1]
    assert (upload_call.method, upload_call.path, upload_call.status) == ("POST", "/v1/files", 200)
    assert upload_call.params == {"purpose": "batch"}
    [part] = upload_call.files
    assert (part.field, part.filename, part.size) == ("file", "jobs.jsonl", len(JSONL))
    check_multipart_request("createFile", recorded_form(emulator))

    file_id = created["id"]
    status, retrieved = await call(http, emulator, "GET", f"/files/{file_id}")
    assert (status, retrieved) == (200, created)
    check_json_response("retrieveFile", retrieved)

    async with http.get(f"{emulator.base_url}/files/{file_id}/content", headers=AUTH) as response:
        assert response.status == 200
        assert await response.read() == JSONL
    assert emulator.requests[-1].path == f"/v1/files/{file_id}/content"

    status, deleted = await call(http, emulator, "DELETE", f"/files/{file_id}")
    assert (status, deleted) == (200, {"id": file_id, "object": "file", "deleted": True})
    check_json_response("deleteFile", deleted)
    assert [stored.id for stored in emulator.files] == []
    for method, path in (
        ("GET", f"/files/{file_id}"),
        ("GET", f"/files/{file_id}/content"),
        ("DELETE", f"/files/{file_id}"),
    ):
        status, error = await call(http, emulator, method, path)
        assert status == 404, path
        assert error["error"]["message"] == f"No such File object: {file_id}"
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["param"] == "id"


async def test_the_store_holds_each_upload_by_id(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    png = solid_png(8, 8)
    _, first = await upload(http, emulator, upload_form("vision", png, "a.png"))
    _, second = await upload(http, emulator, upload_form("user_data", b"notes", "b.txt"))

    assert first["id"] != second["id"]
    assert "expires_at" not in first  # only batch files expire by default
    assert [(f.id, f.purpose, f.content) for f in emulator.files] == [
        (first["id"], "vision", png),
        (second["id"], "user_data", b"notes"),
    ]
    assert emulator.files.get(first["id"]) is not None
    assert len(emulator.files) == 2
    assert "notes" not in repr(emulator.files)
    assert "notes" not in repr(list(emulator.files))  # contents are shown as a size only


async def test_an_expiry_policy_sets_expires_at(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    form = upload_form(
        "user_data", expires_after__anchor_end="created_at", expires_after__seconds_end="3600"
    )
    status, created = await upload(http, emulator, form)

    assert status == 200
    assert created["expires_at"] == created["created_at"] + 3600
    check_multipart_request("createFile", recorded_form(emulator))


async def test_an_expired_file_is_gone(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    # Expiry is at least an hour through the API; the store itself takes any lifetime.
    stored = emulator.files.add(
        filename="old.jsonl",
        purpose="batch",
        content=JSONL,
        expires_after=0,
        max_file_bytes=1024,
        max_stored_bytes=1024,
    )
    assert stored.expires_at == stored.created_at

    status, error = await call(http, emulator, "GET", f"/files/{stored.id}")
    assert (status, error["error"]["message"]) == (404, f"No such File object: {stored.id}")
    _, listing = await call(http, emulator, "GET", "/files")
    assert listing["data"] == []
    assert (listing["first_id"], listing["last_id"], listing["has_more"]) == (None, None, False)
    assert len(emulator.files) == 0


@pytest.mark.parametrize(
    ("form", "param", "code"),
    [
        (upload_form(purpose="training"), "purpose", "invalid_value"),
        (upload_form(purpose=None), "purpose", "missing_required_parameter"),
        (upload_form(content=None), "file", "missing_required_parameter"),
        (upload_form(content=b""), "file", "invalid_value"),
        (upload_form(colour="red"), "colour", "unknown_parameter"),
        (upload_form(expires_after__seconds_end="60", expires_after__anchor_end="created_at"),
         "expires_after[seconds]", "invalid_value"),
        (upload_form(expires_after__seconds_end="3600"), "expires_after[anchor]",
         "missing_required_parameter"),
    ],
    ids=["bad-purpose", "no-purpose", "no-file", "empty-file", "unknown-field",
         "short-expiry", "expiry-without-anchor"],
)  # fmt: skip
async def test_a_bad_upload_is_refused_in_the_api_shape(
    emulator: Emulator, http: aiohttp.ClientSession, form: aiohttp.FormData, param: str, code: str
) -> None:
    status, body = await upload(http, emulator, form)

    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert (body["error"]["param"], body["error"]["code"]) == (param, code)
    assert emulator.requests[-1].status == 400
    assert list(emulator.files) == []


async def test_a_file_sent_as_text_or_as_json_is_refused(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData({"purpose": "batch", "file": "not a file"})
    status, body = await upload(http, emulator, form)
    assert (status, body["error"]["param"], body["error"]["code"]) == (400, "file", "invalid_type")

    async with http.post(
        f"{emulator.base_url}/files", json={"purpose": "batch"}, headers=AUTH
    ) as response:
        assert response.status == 400
        assert "multipart/form-data" in (await response.json())["error"]["message"]
    assert list(emulator.files) == []


async def test_size_limits_refuse_large_files_and_a_full_store(
    http: aiohttp.ClientSession,
) -> None:
    config = EmulatorConfig(max_file_bytes=100, max_batch_file_bytes=60, max_stored_file_bytes=150)
    async with Emulator(config) as emulator:
        status, body = await upload(http, emulator, upload_form("batch", b"x" * 61))
        assert (status, body["error"]["code"]) == (400, "file_too_large")
        status, body = await upload(http, emulator, upload_form("user_data", b"x" * 101))
        assert (status, body["error"]["code"]) == (400, "file_too_large")

        status, _ = await upload(http, emulator, upload_form("user_data", b"x" * 100))
        assert status == 200
        status, body = await upload(http, emulator, upload_form("batch", b"x" * 60))
        assert (status, body["error"]["code"]) == (400, "storage_limit_exceeded")
        assert [f.content for f in emulator.files] == [b"x" * 100]


# --- listing ---------------------------------------------------------------------------------


async def test_listing_pages_filters_and_orders(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    ids = []
    for purpose in ("batch", "vision", "batch"):
        _, created = await upload(http, emulator, upload_form(purpose, b"content"))
        ids.append(created["id"])

    status, everything = await call(http, emulator, "GET", "/files")
    assert status == 200
    check_json_response("listFiles", everything)
    assert [f["id"] for f in everything["data"]] == ids[::-1]  # newest first
    assert (everything["first_id"], everything["last_id"]) == (ids[2], ids[0])
    assert everything["has_more"] is False

    status, page = await call(http, emulator, "GET", "/files?order=asc&limit=1")
    assert [f["id"] for f in page["data"]] == ids[:1]
    assert page["has_more"] is True
    _, rest = await call(http, emulator, "GET", f"/files?order=asc&after={ids[0]}")
    assert [f["id"] for f in rest["data"]] == ids[1:]

    _, batch = await call(http, emulator, "GET", "/files?purpose=batch&order=asc")
    assert [f["id"] for f in batch["data"]] == [ids[0], ids[2]]
    assert emulator.requests[-1].path == "/v1/files"

    for query, param in (("limit=0", "limit"), ("order=up", "order"), ("after=file-x", "after")):
        status, body = await call(http, emulator, "GET", f"/files?{query}")
        assert (status, body["error"]["param"]) == (400, param)


# --- what every API call gets ----------------------------------------------------------------


async def test_files_calls_need_an_accepted_key_and_record_it_masked(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{emulator.base_url}/files") as response:
        assert response.status == 401
    wrong = {"Authorization": "Bearer sk-not-the-right-key-00000"}
    async with http.post(f"{emulator.base_url}/files", data=upload_form(), headers=wrong) as r:
        assert r.status == 401
        assert "sk-not-the-right-key-00000" not in await r.text()
    assert [c.status for c in emulator.requests] == [401, 401]
    assert list(emulator.files) == []
    await call(http, emulator, "GET", "/files")
    assert API_KEY not in repr(emulator.requests)
    assert emulator.requests[-1].headers["Authorization"] != AUTH["Authorization"]


async def test_faults_apply_to_files_calls(http: aiohttp.ClientSession) -> None:
    async with Emulator(EmulatorConfig(faults=FaultPlan.scripted("500", "ok"))) as emulator:
        status, body = await upload(http, emulator, upload_form())
        assert (status, body["error"]["type"]) == (500, "server_error")
        assert list(emulator.files) == []
        status, _ = await upload(http, emulator, upload_form())
        assert status == 200
        assert [(c.fault, c.status) for c in emulator.requests] == [("500", 500), (None, 200)]


# --- the official SDK ------------------------------------------------------------------------


@pytest.fixture
def sdk_emulator() -> Iterator[Emulator]:
    emulator = Emulator(EmulatorConfig(api_keys=frozenset({API_KEY})))
    with run_emulator_in_thread(emulator):
        yield emulator


def test_the_openai_sdk_uploads_retrieves_downloads_lists_and_deletes(
    sdk_emulator: Emulator,
) -> None:
    openai = pytest.importorskip("openai")
    with openai.OpenAI(api_key=API_KEY, base_url=sdk_emulator.base_url, max_retries=0) as client:
        created = client.files.create(file=("jobs.jsonl", JSONL), purpose="batch")
        assert (created.bytes, created.filename, created.purpose) == (
            len(JSONL),
            "jobs.jsonl",
            "batch",
        )
        check_multipart_request("createFile", recorded_form(sdk_emulator))

        assert client.files.retrieve(created.id) == created
        assert client.files.content(created.id).read() == JSONL
        assert [f.id for f in client.files.list(purpose="batch")] == [created.id]
        assert client.files.delete(created.id).deleted is True
        with pytest.raises(openai.NotFoundError):
            client.files.retrieve(created.id)

    paths = [(c.method, c.path, c.status) for c in sdk_emulator.requests]
    assert paths == [
        ("POST", "/v1/files", 200),
        ("GET", f"/v1/files/{created.id}", 200),
        ("GET", f"/v1/files/{created.id}/content", 200),
        ("GET", "/v1/files", 200),
        ("DELETE", f"/v1/files/{created.id}", 200),
        ("GET", f"/v1/files/{created.id}", 404),
    ]
