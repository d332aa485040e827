"""The emulator's Batch API, driven by the official ``openai`` SDK over 127.0.0.1.

A batch's whole life is followed: the input file uploaded with purpose ``batch``, the batch
created, polled (in bounded loops) through ``validating → in_progress → finalizing →
completed`` with its counts growing, then its output and error files read back and matched to
the input's custom ids. Every batch object the emulator serves is checked against the
vendored spec (``Batch``, ``ListBatchesResponse``), and every output body against the image
endpoint's response schema. Cancel, expiry, a bad input file, refused create calls, paging,
and closing the emulator while a batch runs are covered too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from openapi_schema import check_json_request, check_json_response

from images_async.testing import Emulator, EmulatorConfig, FaultPlan, run_emulator_in_thread
from images_async.testing.sample_images import solid_png

openai = pytest.importorskip("openai")

API_KEY = "sk-test-batches-0123456789abcdef"
GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})
POLL_SECONDS = 0.02
MAX_POLLS = 1500  # 30 s at most, far above what any batch here needs


def generate_line(custom_id: str, **body: object) -> dict[str, Any]:
    body = {"model": "gpt-image-1", "prompt": f"picture {custom_id}", "quality": "low", **body}
    return {"custom_id": custom_id, "method": "POST", "url": GENERATIONS, "body": body}


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(
        api_keys=frozenset({API_KEY}), batch_lines_per_second=50, batch_step_delay=0.2
    )


@pytest.fixture
def emulator(config: EmulatorConfig) -> Iterator[Emulator]:
    emulator = Emulator(config)
    with run_emulator_in_thread(emulator):
        yield emulator


@pytest.fixture
def client(emulator: Emulator) -> Iterator[Any]:
    with openai.OpenAI(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as client:
        yield client


def retrieve(client: Any, batch_id: str) -> Any:
    """The batch as served, after checking the served JSON against the spec's ``Batch``."""
    raw = client.batches.with_raw_response.retrieve(batch_id)
    check_json_response("retrieveBatch", json.loads(raw.text))
    return raw.parse()


def poll(client: Any, batch_id: str, until: frozenset[str] = FINAL) -> list[Any]:
    """Every state seen while polling until the batch's status is in ``until``."""
    seen = []
    for _ in range(MAX_POLLS):
        batch = retrieve(client, batch_id)
        seen.append(batch)
        if batch.status in until:
            return seen
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"batch {batch_id} still {seen[-1].status} after {MAX_POLLS} polls")


def create(client: Any, lines: list[dict[str, Any]], endpoint: str = GENERATIONS) -> Any:
    uploaded = client.files.create(file=("jobs.jsonl", jsonl(lines)), purpose="batch")
    raw = client.batches.with_raw_response.create(
        input_file_id=uploaded.id, endpoint=endpoint, completion_window="24h"
    )
    check_json_response("createBatch", json.loads(raw.text))
    return raw.parse()


def results(client: Any, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    stored = client.files.retrieve(file_id)
    assert stored.purpose == "batch_output"
    return [json.loads(row) for row in client.files.content(file_id).text.splitlines()]


def statuses(seen: list[Any]) -> list[str]:
    """The statuses in the order they were seen, each once."""
    ordered: list[str] = []
    for batch in seen:
        if not ordered or ordered[-1] != batch.status:
            ordered.append(batch.status)
    return ordered


# --- the whole life cycle -------------------------------------------------------------------


def test_a_batch_runs_its_lines_through_validation_to_output_and_error_files(
    client: Any, emulator: Emulator
) -> None:
    lines = [generate_line(f"job-{i}") for i in range(6)]
    lines[3] = generate_line("job-3", prompt="")  # refused by the same checks as a live call
    lines[4] = generate_line("job-4", size="1536x1024", n=2)
    lines[5]["body"] = {"model": "dall-e-2", "prompt": "a cat", "size": "256x256"}  # a URL
    created = create(client, lines)
    assert (created.status, created.endpoint, created.completion_window) == (
        "validating",
        GENERATIONS,
        "24h",
    )

    seen = poll(client, created.id)
    assert statuses(seen) == ["validating", "in_progress", "finalizing", "completed"]
    done = [b.request_counts.completed + b.request_counts.failed for b in seen if b.request_counts]
    assert done == sorted(done), "request counts only grow"
    final = seen[-1]
    assert (final.request_counts.total, final.request_counts.completed) == (6, 5)
    assert final.request_counts.failed == 1
    assert final.model == "gpt-image-1"  # the first line's
    assert final.created_at <= final.in_progress_at <= final.finalizing_at <= final.completed_at
    assert final.expires_at == final.created_at + 24 * 3600

    succeeded = results(client, final.output_file_id)
    assert [line["custom_id"] for line in succeeded] == [
        "job-0",
        "job-1",
        "job-2",
        "job-4",
        "job-5",
    ]
    for line in succeeded:
        assert line["error"] is None
        assert line["id"].startswith("batch_req_")
        assert line["response"]["status_code"] == 200
        assert line["response"]["request_id"].startswith("req_")
        check_json_response("createImage", line["response"]["body"])
    two = next(line for line in succeeded if line["custom_id"] == "job-4")["response"]["body"]
    assert len(two["data"]) == 2
    assert two["size"] == "1536x1024"
    png = base64.b64decode(two["data"][0]["b64_json"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    url = succeeded[-1]["response"]["body"]["data"][0]["url"]
    assert url.startswith(f"{emulator.base_url}/emulator/files/")
    with urllib.request.urlopen(url, timeout=10) as download:
        assert download.read().startswith(b"\x89PNG\r\n\x1a\n")

    [refused] = results(client, final.error_file_id)
    assert refused["custom_id"] == "job-3"
    assert refused["error"] is None
    assert refused["response"]["status_code"] == 400
    assert refused["response"]["body"]["error"]["param"] == "prompt"

    calls = [(c.method, c.path, c.status) for c in emulator.requests]
    assert calls[:2] == [("POST", "/v1/files", 200), ("POST", "/v1/batches", 200)]
    assert all(
        call == ("GET", f"/v1/batches/{created.id}", 200) for call in calls[2 : len(seen) + 2]
    )
    create_call = emulator.requests[1]
    check_json_request("createBatch", create_call.params)
    assert create_call.params["input_file_id"] == created.input_file_id
    assert create_call.headers["Authorization"] != f"Bearer {API_KEY}"  # recorded masked


def test_edit_lines_refer_to_uploaded_files_by_id(client: Any) -> None:
    picture = client.files.create(file=("cat.png", solid_png(64, 64)), purpose="vision")
    edit = {"model": "gpt-image-1", "prompt": "add a hat", "images": [{"file_id": picture.id}]}
    lines = [
        {"custom_id": "hat", "method": "POST", "url": EDITS, "body": edit},
        {
            "custom_id": "gone",
            "method": "POST",
            "url": EDITS,
            "body": {**edit, "images": [{"file_id": "file-nope"}]},
        },
        {"custom_id": "old", "method": "POST", "url": EDITS, "body": {**edit, "model": "dall-e-2"}},
        {"custom_id": "live", "method": "POST", "url": EDITS, "body": {**edit, "stream": True}},
    ]
    final = poll(client, create(client, lines, endpoint=EDITS).id)[-1]
    assert final.status == "completed"
    [hat] = results(client, final.output_file_id)
    assert hat["custom_id"] == "hat"
    check_json_response("createImageEdit", hat["response"]["body"])
    errors = {line["custom_id"]: line["response"] for line in results(client, final.error_file_id)}
    assert sorted(errors) == ["gone", "live", "old"]
    assert {response["status_code"] for response in errors.values()} == {400}
    assert errors["gone"]["body"]["error"]["code"] == "invalid_file_id"
    assert errors["old"]["body"]["error"]["param"] == "model"
    assert errors["live"]["body"]["error"]["param"] == "stream"


def test_metadata_is_kept_and_listing_pages_newest_first(client: Any, emulator: Emulator) -> None:
    uploaded = client.files.create(
        file=("jobs.jsonl", jsonl([generate_line("a")])), purpose="batch"
    )
    ids = [
        client.batches.create(
            input_file_id=uploaded.id,
            endpoint=GENERATIONS,
            completion_window="24h",
            metadata={"run": str(i)},
        ).id
        for i in range(3)
    ]
    assert retrieve(client, ids[1]).metadata == {"run": "1"}

    raw = client.batches.with_raw_response.list(limit=2)
    page = json.loads(raw.text)
    check_json_response("listBatches", page)
    assert [b["id"] for b in page["data"]] == [ids[2], ids[1]]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[2], ids[1], True)
    assert [b.id for b in client.batches.list(limit=2)] == ids[::-1]  # the SDK pages on
    queries = [c.path for c in emulator.requests if c.path == "/v1/batches" and c.method == "GET"]
    assert len(queries) == 3
    for batch_id in ids:
        poll(client, batch_id)


# --- cancel, expiry, failure --------------------------------------------------------------------


@pytest.mark.parametrize("config", [EmulatorConfig(batch_lines_per_second=10)])
def test_a_cancelled_batch_keeps_the_lines_it_ran(client: Any) -> None:
    lines = [generate_line(f"job-{i}") for i in range(40)]
    created = create(client, lines)
    running = poll(client, created.id, until=frozenset({"in_progress"}) | FINAL)[-1]
    assert running.status == "in_progress"
    cancelling = client.batches.cancel(created.id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None

    final = poll(client, created.id)[-1]
    assert final.status == "cancelled"
    assert final.cancelled_at >= final.cancelling_at
    ran = final.request_counts.completed
    assert 0 < ran < 40
    assert final.request_counts.failed == 0
    succeeded = results(client, final.output_file_id)
    assert [line["custom_id"] for line in succeeded] == [f"job-{i}" for i in range(ran)]
    assert final.error_file_id is None
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(created.id)


@pytest.mark.parametrize("config", [EmulatorConfig(batch_lines_per_second=20, batch_window=0.5)])
def test_an_expired_batch_lists_the_lines_it_never_ran_as_errors(client: Any) -> None:
    lines = [generate_line(f"job-{i}") for i in range(30)]
    final = poll(client, create(client, lines).id)[-1]
    assert final.status == "expired"
    assert final.expired_at is not None
    assert final.completed_at is None
    succeeded = results(client, final.output_file_id)
    ran = [line["custom_id"] for line in succeeded]
    assert 0 < len(ran) < 30
    assert len(ran) == final.request_counts.completed
    assert ran == [f"job-{i}" for i in range(len(ran))]
    unrun = results(client, final.error_file_id)
    assert [line["custom_id"] for line in unrun] == [f"job-{i}" for i in range(len(ran), 30)]
    for line in unrun:
        assert line["response"] is None
        assert line["error"]["code"] == "batch_expired"


def test_an_invalid_input_file_fails_the_batch_with_every_problem(client: Any) -> None:
    lines = [
        generate_line("ok"),
        generate_line("ok"),
        {**generate_line("get"), "method": "GET"},
        {**generate_line("elsewhere"), "url": EDITS},
        {**generate_line("text"), "body": "a cat"},
        {"custom_id": "partial", "method": "POST", "url": GENERATIONS},
    ]
    content = jsonl(lines) + b"{not json\n"
    uploaded = client.files.create(file=("jobs.jsonl", content), purpose="batch")
    created = client.batches.create(
        input_file_id=uploaded.id, endpoint=GENERATIONS, completion_window="24h"
    )
    final = poll(client, created.id)[-1]
    assert final.status == "failed"
    assert final.failed_at is not None
    assert final.in_progress_at is None
    assert final.output_file_id is None
    problems = [(e.line, e.code, e.param) for e in final.errors.data]
    assert problems == [
        (2, "duplicate_custom_id", "custom_id"),
        (3, "invalid_method", "method"),
        (4, "invalid_url", "url"),
        (5, "invalid_value", "body"),
        (6, "missing_required_parameter", "body"),
        (7, "invalid_json_line", None),
    ]


def test_refused_create_calls_answer_like_the_api(client: Any) -> None:
    batch_file = client.files.create(
        file=("jobs.jsonl", jsonl([generate_line("a")])), purpose="batch"
    )
    other = client.files.create(
        file=("jobs.jsonl", jsonl([generate_line("a")])), purpose="user_data"
    )
    with pytest.raises(openai.BadRequestError, match="image batches only"):
        client.batches.create(
            input_file_id=batch_file.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.BadRequestError) as refused:
        client.batches.create(
            input_file_id=batch_file.id,
            endpoint=GENERATIONS,
            completion_window="1h",
        )
    assert refused.value.body["param"] == "completion_window"
    with pytest.raises(openai.BadRequestError, match="purpose 'batch'"):
        client.batches.create(input_file_id=other.id, endpoint=GENERATIONS, completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        client.batches.create(
            input_file_id="file-nope", endpoint=GENERATIONS, completion_window="24h"
        )
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    assert [b.id for b in client.batches.list()] == []


def test_output_files_expire_as_the_batch_asks(client: Any) -> None:
    uploaded = client.files.create(
        file=("jobs.jsonl", jsonl([generate_line("a")])), purpose="batch"
    )
    created = client.batches.create(
        input_file_id=uploaded.id,
        endpoint=GENERATIONS,
        completion_window="24h",
        output_expires_after={"anchor": "created_at", "seconds": 7200},
    )
    final = poll(client, created.id)[-1]
    output = client.files.retrieve(final.output_file_id)
    assert output.expires_at == output.created_at + 7200


@pytest.mark.parametrize(
    ("request_body", "param"),
    [
        ({"extra": 1}, "extra"),
        ({"endpoint": None}, "endpoint"),
        ({"metadata": {"k": "v" * 513}}, "metadata.k"),
        ({"metadata": {str(i): "v" for i in range(17)}}, "metadata"),
        ({"output_expires_after": {"anchor": "created_at", "seconds": 60}}, "output_expires_after"),
    ],
)
async def test_a_bad_create_request_is_a_400_in_the_api_shape(
    request_body: dict[str, object], param: str
) -> None:
    async with Emulator() as emulator, aiohttp.ClientSession() as http:
        auth = {"Authorization": f"Bearer {API_KEY}"}
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", jsonl([generate_line("a")]), filename="jobs.jsonl")
        async with http.post(f"{emulator.base_url}/files", data=form, headers=auth) as response:
            file_id = (await response.json())["id"]
        body = {"input_file_id": file_id, "endpoint": GENERATIONS, "completion_window": "24h"}
        async with http.post(
            f"{emulator.base_url}/batches", json={**body, **request_body}, headers=auth
        ) as response:
            assert response.status == 400
            error = (await response.json())["error"]
        # Zero, and a number of more digits than int() takes (no 500 either way).
        for limit in ("0", "9" * 5000):
            url = f"{emulator.base_url}/batches?limit={limit}"
            async with http.get(url, headers=auth) as response:
                assert response.status == 400
                assert (await response.json())["error"]["param"] == "limit"
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert API_KEY not in error["message"]
    assert [(c.path, c.status) for c in emulator.requests[1:]] == [
        ("/v1/batches", 400),
        ("/v1/batches", 400),
        ("/v1/batches", 400),
    ]


@pytest.mark.parametrize(
    "config", [EmulatorConfig(faults=FaultPlan.scripted("ok", "500"), batch_lines_per_second=50)]
)
def test_fault_plans_apply_to_batches_calls(client: Any, emulator: Emulator) -> None:
    uploaded = client.files.create(
        file=("jobs.jsonl", jsonl([generate_line("a")])), purpose="batch"
    )
    with pytest.raises(openai.InternalServerError):
        client.batches.create(
            input_file_id=uploaded.id, endpoint=GENERATIONS, completion_window="24h"
        )
    assert [b.id for b in client.batches.list()] == []  # the faulted call created nothing
    assert [(c.path, c.fault) for c in emulator.requests] == [
        ("/v1/files", None),
        ("/v1/batches", "500"),
        ("/v1/batches", None),
    ]


# --- closing ----------------------------------------------------------------------------------


async def test_closing_the_emulator_stops_running_batches_cleanly() -> None:
    config = EmulatorConfig(batch_lines_per_second=2)
    lines = [generate_line(f"job-{i}") for i in range(20)]
    async with Emulator(config) as emulator, aiohttp.ClientSession() as http:
        auth = {"Authorization": f"Bearer {API_KEY}"}
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", jsonl(lines), filename="jobs.jsonl")
        async with http.post(f"{emulator.base_url}/files", data=form, headers=auth) as response:
            uploaded = await response.json()
        request = {
            "input_file_id": uploaded["id"],
            "endpoint": GENERATIONS,
            "completion_window": "24h",
        }
        async with http.post(
            f"{emulator.base_url}/batches", json=request, headers=auth
        ) as response:
            batch_id = (await response.json())["id"]
        for _ in range(MAX_POLLS):
            async with http.get(
                f"{emulator.base_url}/batches/{batch_id}", headers=auth
            ) as response:
                batch = await response.json()
            if batch["request_counts"]["completed"] >= 1:
                break
            await asyncio.sleep(POLL_SECONDS)
        assert batch["status"] == "in_progress"
        before = asyncio.all_tasks() - {asyncio.current_task()}
        assert before, "the batch runs as a task"
    # Closed: every batch task has ended (none pending to be destroyed), with no warning.
    assert all(task.done() for task in before)
    assert asyncio.all_tasks() == {asyncio.current_task()}
