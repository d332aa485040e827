"""The Batch API client, ``images.batches``: submit, retrieve, wait, outcomes, cancel.

Against a small Batch API on 127.0.0.1 (files and batches kept in memory) that checks every
JSONL line it is given against the spec, moves a batch one status further on each look,
and answers each line itself: a response, an error response, or an error without one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from openapi_schema import check_json_request, check_json_response
from plugins.api_server import images_body, serving

from images_async import (
    AsyncImages,
    BadRequestError,
    BatchJob,
    BatchLineError,
    BatchNotFinishedError,
    BatchNotRunError,
    BatchRequestCounts,
    BatchTimeoutError,
    EditRequest,
    FileID,
    GenerateRequest,
    Images,
    InternalServerError,
    InvalidFileError,
    InvalidRequestError,
    Outcome,
    VariationRequest,
)
from images_async.testing import Emulator, EmulatorConfig, run_emulator_in_thread
from images_async.testing.sample_images import solid_png

API_KEY = "sk-test-batches-0123456789abcdef"
URLS = {"/v1/images/generations": "createImage", "/v1/images/edits": "createImageEdit"}
#: The statuses a batch passes through, one more on each retrieve (then it stays).
PROGRESS = ("validating", "in_progress", "in_progress", "finalizing")


@attrs.define
class FakeBatch:
    document: dict[str, Any]
    lines: list[dict[str, Any]]
    looks: int = 0


class FakeBatchAPI:
    """Files and batches in memory; records every call, and every line it found invalid."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.batches: dict[str, FakeBatch] = {}
        self.violations: list[str] = []
        self.retrieve_times: list[float] = []
        self.end_as = "completed"  # or "expired", "failed"; "never" stays in_progress
        self.write_expired_lines = False
        self.retry_after: str | None = None
        self.creations_allowed: int | None = None  # a 500 for each creation past this many
        self.ids = itertools.count()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.check_key], client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/files", self.upload)
        app.router.add_get("/v1/files/{id}", self.file)
        app.router.add_get("/v1/files/{id}/content", self.content)
        app.router.add_delete("/v1/files/{id}", self.delete)
        app.router.add_post("/v1/batches", self.create)
        app.router.add_get("/v1/batches/{id}", self.retrieve)
        app.router.add_post("/v1/batches/{id}/cancel", self.cancel)
        return app

    @web.middleware
    async def check_key(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.calls.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    def store(self, content: bytes, purpose: str, filename: str) -> dict[str, Any]:
        file_id = f"file-{next(self.ids)}"
        self.contents[file_id] = content
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": 1,
            "filename": filename,
            "purpose": purpose,
        }
        return self.files[file_id]

    def uploads(self, purpose: str) -> list[dict[str, Any]]:
        return [file for file in self.files.values() if file["purpose"] == purpose]

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        field = form["file"]
        assert isinstance(field, web.FileField)
        purpose = str(form["purpose"])
        with field.file:  # aiohttp < 3.10 spools uploads to a temporary file it never closes
            content = field.file.read()
        return web.json_response(self.store(content, purpose, field.filename))

    async def file(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["id"])
        if file is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.json_response(file)

    async def content(self, request: web.Request) -> web.Response:
        content = self.contents.get(request.match_info["id"])
        if content is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=content, content_type="application/octet-stream")

    async def delete(self, request: web.Request) -> web.Response:
        file_id = request.match_info["id"]
        if self.files.pop(file_id, None) is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        del self.contents[file_id]
        return web.json_response({"id": file_id, "object": "file", "deleted": True})

    async def create(self, request: web.Request) -> web.Response:
        if self.creations_allowed is not None and len(self.batches) >= self.creations_allowed:
            return web.json_response({"error": {"message": "try later"}}, status=500)
        body = await request.json()
        check_json_request("createBatch", body)
        content = self.contents[body["input_file_id"]]
        lines = [json.loads(text) for text in content.decode().splitlines()]
        for line in lines:
            self.check_line(line, body["endpoint"])
        batch_id = f"batch_{next(self.ids)}"
        document = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "validating",
            "created_at": 1,
            "metadata": body.get("metadata"),
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
        }
        self.batches[batch_id] = FakeBatch(document, lines)
        return web.json_response(document)

    def check_line(self, line: dict[str, Any], endpoint: str) -> None:
        """The ``BatchRequestInput`` shape, and the body a live call of the url would send."""
        problems = []
        if set(line) != {"custom_id", "method", "url", "body"}:
            problems.append(f"keys {sorted(line)}")
        if not isinstance(line.get("custom_id"), str) or line.get("method") != "POST":
            problems.append("custom_id or method")
        if line.get("url") != endpoint:
            problems.append(f"url {line.get('url')} in a {endpoint} batch")
        try:
            check_json_request(URLS[endpoint], line["body"])
        except (AssertionError, KeyError) as error:
            problems.append(str(error))
        self.violations.extend(f"{line.get('custom_id')}: {p}" for p in problems)

    async def retrieve(self, request: web.Request) -> web.Response:
        self.retrieve_times.append(time.monotonic())
        batch = self.batches[request.match_info["id"]]
        self.advance(batch)
        check_json_response("retrieveBatch", batch.document)
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        return web.json_response(batch.document, headers=headers)

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self.batches[request.match_info["id"]]
        batch.document["status"] = "cancelling"
        return web.json_response(batch.document)

    def advance(self, batch: FakeBatch) -> None:
        document = batch.document
        total = len(batch.lines)
        if document["status"] == "cancelling":
            self.finish(batch, "cancelled", total // 2)
        elif document["status"] in ("completed", "expired", "failed", "cancelled"):
            return
        elif batch.looks < len(PROGRESS) or self.end_as == "never":
            document["status"] = PROGRESS[min(batch.looks, len(PROGRESS) - 1)]
            run = {0: 0, 1: total // 4, 2: total // 2}.get(batch.looks, total)
            failed = sum(1 for line in batch.lines[:run] if answer(line, self)[0] != 200)
            document["request_counts"] = {
                "total": total,
                "completed": run - failed,
                "failed": failed,
            }
        elif self.end_as == "failed":
            document["status"] = "failed"
            document["errors"] = {"object": "list", "data": [{"message": "bad input"}]}
        else:
            self.finish(batch, self.end_as, total if self.end_as == "completed" else total // 2)
        batch.looks += 1

    def finish(self, batch: FakeBatch, status: str, run: int) -> None:
        """End ``batch``: its first ``run`` lines answered in its output or error file."""
        outputs: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for line in batch.lines[:run]:
            status_code, body = answer(line, self)
            entry: dict[str, Any] = {
                "id": f"batch_req_{next(self.ids)}",
                "custom_id": line["custom_id"],
            }
            if status_code == 0:
                entry.update(response=None, error=body)
            else:
                request_id = f"req_{line['custom_id']}"
                response = {"status_code": status_code, "request_id": request_id, "body": body}
                entry.update(response=response, error=None)
            (outputs if status_code == 200 else errors).append(entry)
        failed = len(errors)
        if status == "expired" and self.write_expired_lines:
            for line in batch.lines[run:]:
                error = {"code": "batch_expired", "message": "This request could not be executed"}
                errors.append(
                    {"id": "x", "custom_id": line["custom_id"], "response": None, "error": error}
                )
        document = batch.document
        for key, entries in (("output_file_id", outputs), ("error_file_id", errors)):
            if entries:
                text = "".join(json.dumps(entry) + "\n" for entry in entries).encode()
                document[key] = self.store(text, "batch_output", "out.jsonl")["id"]
        counts = {"total": len(batch.lines), "completed": len(outputs), "failed": failed}
        document.update(status=status, request_counts=counts)


def answer(line: dict[str, Any], api: FakeBatchAPI) -> tuple[int, dict[str, Any]]:
    """How the fake answers one line: (status, body), status 0 for an error with no response."""
    body = line["body"]
    if "broken" in body["prompt"]:
        return 0, {"code": "invalid_request", "message": "the line could not be run"}
    missing = [ref["file_id"] for ref in body.get("images", []) if ref["file_id"] not in api.files]
    if "fail" in body["prompt"] or missing:
        error = {
            "message": "refused",
            "type": "invalid_request_error",
            "code": "moderation_blocked",
        }
        return 400, {"error": {**error, "param": None}}
    return 200, images_body(body, "http://127.0.0.1")


@pytest.fixture
async def api() -> AsyncIterator[FakeBatchAPI]:
    fake = FakeBatchAPI()
    async with serving(fake.app()) as fake.base_url:  # type: ignore[attr-defined]
        yield fake


def client(api: FakeBatchAPI) -> AsyncImages:
    return AsyncImages(api_key=API_KEY, base_url=f"{api.base_url}/v1", max_retries=0)  # type: ignore[attr-defined]


@pytest.fixture
async def images(api: FakeBatchAPI) -> AsyncIterator[AsyncImages]:
    async with client(api) as images:
        yield images


def png(shade: int) -> bytes:
    return solid_png(8, 8, (shade, 80, 40, 255))


def mixed_requests(tmp_path: Path, count: int = 80) -> list[GenerateRequest | EditRequest]:
    """Generations and edits, some failing; edits use three distinct images, one of them
    under two paths and once as bytes, and one edit a reference."""
    paths = []
    for name, shade in (("a.png", 10), ("b.png", 20), ("c.png", 30), ("a-copy.png", 10)):
        (tmp_path / name).write_bytes(png(shade))
        paths.append(tmp_path / name)
    requests: list[GenerateRequest | EditRequest] = []
    for index in range(count):
        prompt = f"picture {index}" + (" fail" if index % 9 == 4 else "")
        prompt += " broken" if index == 7 else ""
        if index % 3:
            requests.append(GenerateRequest(prompt=prompt, model="gpt-image-1", size="1024x1024"))
            continue
        image: Any = [paths[index % 4], png(20)] if index % 2 else paths[index % 4]
        mask = paths[2] if index % 5 == 0 else None
        requests.append(EditRequest(image=image, mask=mask, prompt=prompt, model="gpt-image-1"))
    return requests


async def all_outcomes(images: AsyncImages, job: BatchJob, **options: Any) -> list[Outcome[Any]]:
    return [outcome async for outcome in images.batches.outcomes(job, **options)]


async def test_eighty_mixed_requests_give_eighty_matched_outcomes(
    api: FakeBatchAPI, images: AsyncImages, tmp_path: Path
) -> None:
    requests = mixed_requests(tmp_path)
    job = await images.batches.submit(requests, metadata={"run": "nightly"})
    assert job.status == "validating"
    assert len(job.batch_ids) == 2
    assert job.id == ",".join(job.batch_ids)
    assert api.violations == []
    # Three distinct images (a.png and a-copy.png, and the bytes of b.png, are the same).
    assert sorted(file["bytes"] for file in api.uploads("vision")) == sorted(
        len(png(shade)) for shade in (10, 20, 30)
    )
    endpoints = sorted(batch.document["endpoint"] for batch in api.batches.values())
    assert endpoints == ["/v1/images/edits", "/v1/images/generations"]
    assert all(b.document["metadata"] == {"run": "nightly"} for b in api.batches.values())
    assert len(api.uploads("batch")) == 2

    progress: list[BatchRequestCounts] = []
    job = await images.batches.wait(job, poll_interval=0.001, on_progress=progress.append)
    assert job.status == "completed"
    assert job.done
    assert [counts.completed + counts.failed for counts in progress] == sorted(
        {counts.completed + counts.failed for counts in progress}
    )
    assert progress[-1].total == 80

    outcomes = await all_outcomes(images, job)
    assert sorted(outcome.index for outcome in outcomes) == list(range(80))
    for outcome in outcomes:
        assert outcome.request is requests[outcome.index]
        prompt = requests[outcome.index].prompt
        if "broken" in prompt:
            assert isinstance(outcome.error, BatchLineError)
            assert outcome.error.code == "invalid_request"
        elif "fail" in prompt:
            assert isinstance(outcome.error, BadRequestError)
            assert outcome.error.status_code == 400
            assert outcome.error.code == "moderation_blocked"
            assert outcome.error.request_id == f"req_request-{outcome.index}"
        else:
            assert outcome.ok, outcome.error
            assert outcome.unwrap().data[0].decode()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_edit_lines_name_the_uploaded_images(
    api: FakeBatchAPI, images: AsyncImages, tmp_path: Path
) -> None:
    (tmp_path / "one.png").write_bytes(png(1))
    requests = [
        EditRequest(image=tmp_path / "one.png", mask=png(1), prompt="p", model="gpt-image-1"),
        EditRequest(image=FileID("file-x"), prompt="q"),
    ]
    job = await images.batches.submit(requests)
    (batch,) = api.batches.values()
    (vision,) = api.uploads("vision")
    assert vision["filename"] == "one.png"
    first, second = batch.lines
    assert first["body"] == {
        "images": [{"file_id": vision["id"]}],
        "mask": {"file_id": vision["id"]},
        "prompt": "p",
        "model": "gpt-image-1",
    }
    assert second["body"] == {"images": [{"file_id": "file-x"}], "prompt": "q"}
    assert job.batch_ids == (batch.document["id"],)


async def test_a_fresh_client_resumes_with_only_the_id(
    api: FakeBatchAPI, images: AsyncImages, tmp_path: Path
) -> None:
    requests = mixed_requests(tmp_path, count=12)
    job_id = (await images.batches.submit(requests)).id
    async with client(api) as fresh:
        job = await fresh.batches.retrieve(job_id)
        assert job.id == job_id
        job = await fresh.batches.wait(job, poll_interval=0.001)
        outcomes = await all_outcomes(fresh, job)
    assert sorted(outcome.index for outcome in outcomes) == list(range(12))
    for outcome in outcomes:
        original = requests[outcome.index]
        if isinstance(original, GenerateRequest):
            assert outcome.request == original
        else:
            assert isinstance(outcome.request, EditRequest)
            assert outcome.request.prompt == original.prompt
            images_of = outcome.request.image
            refs = images_of if isinstance(images_of, list) else [images_of]
            assert all(isinstance(ref, FileID) and ref.id in api.files for ref in refs)


async def test_cancel_cancels_every_batch_and_unrun_requests_say_so(
    api: FakeBatchAPI, images: AsyncImages, tmp_path: Path
) -> None:
    requests = mixed_requests(tmp_path, count=20)
    job = await images.batches.submit(requests)
    with pytest.raises(BatchNotFinishedError):
        await all_outcomes(images, job)
    job = await images.batches.cancel(job)
    cancels = [path for method, path in api.calls if path.endswith("/cancel")]
    assert sorted(cancels) == sorted(f"/v1/batches/{batch_id}/cancel" for batch_id in job.batch_ids)
    job = await images.batches.wait(job, poll_interval=0.001)
    assert job.status == "cancelled"
    outcomes = await all_outcomes(images, job)
    assert sorted(outcome.index for outcome in outcomes) == list(range(20))
    unrun = [outcome.error for outcome in outcomes if isinstance(outcome.error, BatchNotRunError)]
    assert unrun
    assert {error.batch_status for error in unrun} == {"cancelled"}
    assert any(outcome.ok for outcome in outcomes)


@pytest.mark.parametrize("write_expired_lines", [False, True])
async def test_expired_batches_give_typed_errors_for_unrun_requests(
    api: FakeBatchAPI, images: AsyncImages, write_expired_lines: bool
) -> None:
    api.end_as = "expired"
    api.write_expired_lines = write_expired_lines
    requests = [GenerateRequest(prompt=f"p{i}") for i in range(10)]
    job = await images.batches.wait(await images.batches.submit(requests), poll_interval=0.001)
    assert job.status == "expired"
    outcomes = {outcome.index: outcome for outcome in await all_outcomes(images, job)}
    assert sorted(outcomes) == list(range(10))
    assert all(outcomes[i].ok for i in range(5))
    for index in range(5, 10):
        error = outcomes[index].error
        if write_expired_lines:
            assert isinstance(error, BatchLineError)
            assert error.code == "batch_expired"
        else:
            assert isinstance(error, BatchNotRunError)
            assert error.batch_status == "expired"


async def test_a_failed_batch_fails_every_request(api: FakeBatchAPI, images: AsyncImages) -> None:
    api.end_as = "failed"
    job = await images.batches.submit([GenerateRequest(prompt="a"), GenerateRequest(prompt="b")])
    job = await images.batches.wait(job, poll_interval=0.001)
    assert job.status == "failed"
    assert job.batches[0].errors == ("bad input",)
    errors = [outcome.error for outcome in await all_outcomes(images, job)]
    assert all(isinstance(e, BatchNotRunError) and e.batch_status == "failed" for e in errors)
    assert len(errors) == 2


async def test_variation_requests_are_refused_before_anything_is_sent(
    api: FakeBatchAPI, images: AsyncImages, tmp_path: Path
) -> None:
    requests: list[Any] = [*mixed_requests(tmp_path, 6), VariationRequest(image=png(3))]
    with pytest.raises(ValueError, match="run_many"):
        await images.batches.submit(requests)
    assert api.calls == []


async def test_dall_e_2_edits_are_refused_before_anything_is_sent(
    api: FakeBatchAPI, images: AsyncImages, tmp_path: Path
) -> None:
    # Batched edits name their images by file id: the JSON form, GPT image models only.
    requests: list[Any] = [
        *mixed_requests(tmp_path, 4),
        EditRequest(image=png(5), prompt="a hat", model="dall-e-2"),
    ]
    with pytest.raises(InvalidRequestError, match="dall-e-2"):
        await images.batches.submit(requests)
    assert api.calls == []


async def test_a_submission_failing_half_way_cancels_and_deletes_what_it_made(
    api: FakeBatchAPI, images: AsyncImages, tmp_path: Path
) -> None:
    # Generations and edits make two batches: the second one's creation fails.
    api.creations_allowed = 1
    with pytest.raises(InternalServerError):
        await images.batches.submit(mixed_requests(tmp_path, 10))
    [batch] = api.batches.values()
    assert batch.document["status"] == "cancelling"
    assert api.files == {}  # the images and both input files were deleted
    assert ("POST", f"/v1/batches/{batch.document['id']}/cancel") in api.calls


async def test_a_bad_file_is_refused_before_anything_is_uploaded(
    api: FakeBatchAPI, images: AsyncImages, tmp_path: Path
) -> None:
    (tmp_path / "ok.png").write_bytes(png(5))
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    requests = [
        EditRequest(image=tmp_path / "ok.png", prompt="fine", model="gpt-image-1"),
        EditRequest(image=tmp_path / "bad.png", prompt="broken file", model="gpt-image-1"),
    ]
    with pytest.raises(InvalidFileError):
        await images.batches.submit(requests)
    assert api.calls == []


async def test_wait_times_out_with_the_job(api: FakeBatchAPI, images: AsyncImages) -> None:
    api.end_as = "never"
    job = await images.batches.submit([GenerateRequest(prompt="slow")])
    with pytest.raises(TimeoutError) as caught:
        await images.batches.wait(job, poll_interval=0.001, timeout=0.05)
    assert isinstance(caught.value, BatchTimeoutError)
    assert caught.value.job.id == job.id
    assert not caught.value.job.done
    assert len(api.retrieve_times) >= 2


async def test_wait_honours_retry_after(api: FakeBatchAPI, images: AsyncImages) -> None:
    api.retry_after = "0.2"
    job = await images.batches.submit([GenerateRequest(prompt="p")])
    await images.batches.wait(job, poll_interval=0.001)
    gaps = [b - a for a, b in itertools.pairwise(api.retrieve_times)]
    assert len(gaps) == len(PROGRESS)
    assert min(gaps) >= 0.19


async def test_cleanup_deletes_the_jobs_files(
    api: FakeBatchAPI, images: AsyncImages, tmp_path: Path
) -> None:
    job = await images.batches.submit(mixed_requests(tmp_path, count=9))
    job = await images.batches.wait(job, poll_interval=0.001)
    stored = {f"/v1/files/{file_id}" for file_id in api.files}
    assert len(stored) == 2 + 2 + 1 + 3  # inputs, outputs, one error file, three images
    assert len(await all_outcomes(images, job, cleanup=True)) == 9
    assert api.files == {}
    assert sorted(path for method, path in api.calls if method == "DELETE") == sorted(stored)


async def test_a_job_shows_no_secret(api: FakeBatchAPI, images: AsyncImages) -> None:
    job = await images.batches.submit([GenerateRequest(prompt="p")])
    assert API_KEY not in repr(job)
    assert API_KEY not in repr(images.batches)
    api.end_as = "never"
    with pytest.raises(BatchTimeoutError) as caught:
        await images.batches.wait(job, poll_interval=0.001, timeout=0.01)
    assert API_KEY not in str(caught.value)


async def test_more_than_fifty_thousand_lines_make_two_batches(
    api: FakeBatchAPI, images: AsyncImages
) -> None:
    job = await images.batches.submit(GenerateRequest(prompt="p") for _ in range(50_001))
    sizes = [len(batch.lines) for batch in api.batches.values()]
    assert sizes == [50_000, 1]
    assert len(job.batch_ids) == 2
    last = api.batches[job.batch_ids[1]].lines[0]
    assert last["custom_id"] == "request-50000"


# --- against the emulator's Batch API -----------------------------------------------------


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), batch_step_delay=0.01)
    async with Emulator(config) as emulator:
        yield emulator


def emulator_client(emulator: Emulator) -> AsyncImages:
    return AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)


async def test_the_emulator_runs_eighty_mixed_requests(emulator: Emulator, tmp_path: Path) -> None:
    requests = mixed_requests(tmp_path)
    # The emulator runs each line as a live call: an unknown field is its 400 (extra_body is
    # not checked by the client), with a request id.
    bad = {index for index, request in enumerate(requests) if "fail" in request.prompt}
    requests = [
        attrs.evolve(request, extra_body={"unknown_field": 1}) if index in bad else request
        for index, request in enumerate(requests)
    ]
    async with emulator_client(emulator) as images:
        job = await images.batches.submit(requests)
        progress: list[BatchRequestCounts] = []
        job = await images.batches.wait(job, poll_interval=0.005, on_progress=progress.append)
        assert job.status == "completed"
        assert progress[-1] == BatchRequestCounts(
            total=80, completed=80 - len(bad), failed=len(bad)
        )
        outcomes = await all_outcomes(images, job, cleanup=True)
    assert sorted(outcome.index for outcome in outcomes) == list(range(80))
    for outcome in outcomes:
        assert outcome.request is requests[outcome.index]
        if outcome.index in bad:
            assert isinstance(outcome.error, BadRequestError)
            assert outcome.error.request_id
        else:
            assert outcome.ok, outcome.error
    uploads = [call for call in emulator.requests if call.path == "/v1/files"]
    assert len(uploads) == 3 + 2  # three distinct images, two JSONL files
    assert len(emulator.files) == 0  # cleanup=True: inputs, outputs, errors and images


async def test_an_emulator_job_resumes_in_a_fresh_client(emulator: Emulator) -> None:
    requests = [GenerateRequest(prompt=f"p{i}", model="gpt-image-1") for i in range(6)]
    async with emulator_client(emulator) as images:
        job_id = (await images.batches.submit(requests)).id
    async with emulator_client(emulator) as fresh:
        job = await fresh.batches.wait(await fresh.batches.retrieve(job_id), poll_interval=0.005)
        outcomes = await all_outcomes(fresh, job)
    assert sorted((o.index, o.request) for o in outcomes) == sorted(enumerate(requests))
    assert all(outcome.ok for outcome in outcomes)


@pytest.mark.parametrize("ending", ["cancelled", "expired"])
async def test_an_emulator_job_cancelled_or_expired_accounts_for_every_request(
    ending: str,
) -> None:
    window = 0.3 if ending == "expired" else 3600.0
    config = EmulatorConfig(
        api_keys=frozenset({API_KEY}), batch_lines_per_second=20, batch_window=window
    )
    requests = [GenerateRequest(prompt=f"p{i}", model="gpt-image-1") for i in range(40)]
    async with Emulator(config) as emulator, emulator_client(emulator) as images:
        job = await images.batches.submit(requests)
        if ending == "cancelled":
            await asyncio.sleep(0.2)
            job = await images.batches.cancel(job)
            cancels = [call.path for call in emulator.requests if call.path.endswith("/cancel")]
            assert cancels == [f"/v1/batches/{job.id}/cancel"]
        job = await images.batches.wait(job, poll_interval=0.01, timeout=10)
        assert job.status == ending
        outcomes = await all_outcomes(images, job)
    assert sorted(outcome.index for outcome in outcomes) == list(range(40))
    unrun = [outcome.error for outcome in outcomes if not outcome.ok]
    assert 0 < len(unrun) < 40
    expected = BatchLineError if ending == "expired" else BatchNotRunError
    assert all(isinstance(error, expected) for error in unrun)


def test_the_sync_twin(tmp_path: Path) -> None:
    """``Images.batches`` runs the same job on the facade's loop; outcomes iterate in sync."""
    (tmp_path / "in.png").write_bytes(png(9))
    requests: list[GenerateRequest | EditRequest] = [
        GenerateRequest(prompt="a", model="gpt-image-1"),
        EditRequest(image=tmp_path / "in.png", prompt="b", model="gpt-image-1"),
    ]
    emulator = Emulator(EmulatorConfig(api_keys=frozenset({API_KEY})))
    with (
        run_emulator_in_thread(emulator) as base_url,
        Images(api_key=API_KEY, base_url=base_url, max_retries=0) as images,
    ):
        assert images.batches is images.batches
        job = images.batches.wait(images.batches.submit(requests), poll_interval=0.005)
        outcomes = sorted(images.batches.outcomes(job), key=lambda outcome: outcome.index)
    assert [outcome.request for outcome in outcomes] == requests
    assert all(outcome.ok for outcome in outcomes)
    assert sorted(call.path for call in emulator.requests if call.method == "POST") == [
        "/v1/batches",
        "/v1/batches",
        "/v1/files",
        "/v1/files",
        "/v1/files",
    ]
