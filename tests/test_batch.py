"""``images-async batch FILE.jsonl --out DIR``: one record per line, resumable after failures
and crashes.

The command runs in a subprocess (``python -m images_async``) against the emulator served
from a thread of the test process; what the emulator records shows which lines a re-run
really sends. ``parse_line`` and ``completed_keys`` are also tested in-process.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from plugins.api_server import TINY_PNG, Reply
from plugins.threaded_server import ThreadedImagesAPI, serving_in_thread

from images_async import EditRequest, GenerateRequest, InvalidRequestError, VariationRequest
from images_async.cli.batch import BadLineError, completed_keys, line_sha256, parse_line
from images_async.testing import Emulator, FaultPlan, RecordedCall
from images_async.testing.sample_images import image_size, solid_png

PROJECT_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sk-batch-test-0123456789abcdef"
#: Upper bound of one batch run, however slow the machine (a normal one takes about 1 s).
CALL_TIMEOUT = 60.0
WAIT_TIMEOUT = 20.0
POLL_INTERVAL = 0.02
#: Re-runs allowed before a batch with random faults must have finished.
MAX_RERUNS = 10


# -- helpers -------------------------------------------------------------------------------


def batch_command(source: Path, out: Path, *options: str) -> list[str]:
    return [
        sys.executable,
        "-W",
        "error",
        "-m",
        "images_async",
        "batch",
        str(source),
        "--out",
        str(out),
        *options,
    ]


def cli_env(base_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPENAI_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.update(OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=base_url)
    return env


def run_batch(
    server: Emulator | str, source: Path, out: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """One run of the command against ``server`` (an emulator or an API root URL), from the
    test's directory (not the input file's)."""
    base_url = server if isinstance(server, str) else server.base_url
    return subprocess.run(
        batch_command(source, out, *options),
        cwd=source.parent.parent,
        env=cli_env(base_url),
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )


def write_jsonl(path: Path, lines: Sequence[str | dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    texts = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("".join(f"{text}\n" for text in texts), encoding="utf-8")
    return path


def records(out: Path) -> list[dict[str, Any]]:
    """Every complete record of ``out/results.jsonl``, in order."""
    found = []
    for text in (out / "results.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            found.append(json.loads(text))
        except ValueError:
            continue  # a record cut short by a crash
    return found


def completed_lines(results: Path) -> set[int]:
    """The line numbers with a success record for their (line, hash) key."""
    return {line for line, _ in completed_keys(results)}


def latest_by_line(out: Path) -> dict[int, dict[str, Any]]:
    return {record["line"]: record for record in records(out)}


def api_calls(emulator: Emulator, since: int = 0) -> list[RecordedCall]:
    """The API calls (downloads left out) the emulator received after the first ``since``."""
    return [call for call in list(emulator.requests)[since:] if call.method == "POST"]


def prompts(calls: Sequence[RecordedCall]) -> set[str]:
    return {str(call.params.get("prompt")) for call in calls}


def assert_ok_files_exist(out: Path) -> None:
    """Every line recorded as a success has all its images on disk, as valid PNGs."""
    for record in records(out):
        if record["ok"]:
            assert record["files"], record
            for name in record["files"]:
                width, height = image_size((out / name).read_bytes())
                assert width > 0
                assert height > 0


def quick_lines(count: int) -> list[dict[str, Any]]:
    """``count`` cheap generate lines, each with its own prompt (``prompt 1``...)."""
    return [
        {
            "prompt": f"prompt {number}",
            "model": "dall-e-2",
            "size": "256x256",
            "response_format": "b64_json",
        }
        for number in range(1, count + 1)
    ]


# -- the command ---------------------------------------------------------------------------


def test_every_line_gets_one_record_and_bad_lines_do_not_stop_the_batch(
    emulator: Emulator, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    (jobs / "pictures").mkdir(parents=True)
    (jobs / "pictures" / "room.png").write_bytes(solid_png(256, 256))
    absolute_cat = tmp_path / "cat.png"
    absolute_cat.write_bytes(solid_png(64, 64))
    source = write_jsonl(
        jobs / "jobs.jsonl",
        [
            {"prompt": "a red kite", "model": "gpt-image-1", "quality": "low"},
            "{not json",
            {"endpoint": "inpaint", "prompt": "x"},
            {"prompt": "x", "colour": "red"},
            {"prompt": "x", "model": "dall-e-2", "n": 11},
            {
                "endpoint": "edit",
                "image": "pictures/room.png",
                "prompt": "add a plant",
                "model": "gpt-image-1",
            },
            "",
            {"endpoint": "variation", "image": str(absolute_cat), "n": 2, "size": "256x256"},
            {"endpoint": "edit", "image": "pictures/absent.png", "prompt": "x"},
        ],
    )
    out = tmp_path / "results"

    result = run_batch(emulator, source, out, "--max-retries", "0")

    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    assert "3 succeeded now" in result.stdout
    lines = [record["line"] for record in records(out)]
    assert sorted(lines) == [1, 2, 3, 4, 5, 6, 8, 9]  # the blank line 7 is no request
    latest = latest_by_line(out)
    assert {line for line, record in latest.items() if record["ok"]} == {1, 6, 8}
    assert latest[2]["error_type"] == "BadLineError"
    assert "JSON" in latest[2]["error"]
    assert "inpaint" in latest[3]["error"]
    assert "colour" in latest[4]["error"]
    assert latest[5]["error_type"] == "InvalidRequestError"
    assert "n" in latest[5]["error"]
    assert "absent.png" in latest[9]["error"]
    assert len(latest[8]["files"]) == 2
    assert_ok_files_exist(out)
    # Relative image paths are read from the input file's directory, not the working one.
    edits = [call for call in api_calls(emulator) if call.path.endswith("/edits")]
    assert [(f.filename, f.size) for f in edits[0].files] == [
        ("room.png", len((jobs / "pictures" / "room.png").read_bytes()))
    ]
    assert len(api_calls(emulator)) == 3  # bad lines never reach the server


def test_scripted_failures_are_retried_by_the_next_run_and_nothing_else(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "jobs" / "jobs.jsonl", quick_lines(6))
    out = tmp_path / "out"
    # One at a time, so the script's order is the lines' order: lines 1, 3 and 5 fail.
    emulator.config.faults = FaultPlan.scripted("500", "ok", "429", "ok", "reset", "ok")

    first = run_batch(emulator, source, out, "--max-retries", "0", "--concurrency", "1")

    assert first.returncode == 1, first.stderr
    latest = latest_by_line(out)
    assert {line for line, record in latest.items() if not record["ok"]} == {1, 3, 5}
    assert latest[1]["status_code"] == 500
    assert latest[3]["error_type"] == "RateLimitError"
    assert latest[5]["error_type"] == "APIConnectionError"
    assert_ok_files_exist(out)

    seen = len(emulator.requests)
    second = run_batch(emulator, source, out, "--max-retries", "0", "--concurrency", "1")

    assert second.returncode == 0, second.stdout + second.stderr
    assert "3 succeeded now, 3 were done before, 0 failed" in second.stdout
    assert prompts(api_calls(emulator, seen)) == {"prompt 1", "prompt 3", "prompt 5"}
    assert all(record["ok"] for record in latest_by_line(out).values())
    assert_ok_files_exist(out)

    seen = len(emulator.requests)
    third = run_batch(emulator, source, out, "--max-retries", "0")

    assert third.returncode == 0
    assert api_calls(emulator, seen) == []


def test_random_failures_converge_over_reruns(emulator: Emulator, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "jobs" / "jobs.jsonl", quick_lines(10))
    out = tmp_path / "out"
    # The draws are per call in arrival order, so each run's number of failures is fixed.
    emulator.config.faults = FaultPlan.at_rate(0.4, ["500", "503", "reset"], seed=11)
    exit_codes = []
    for _ in range(MAX_RERUNS):
        done_before = completed_lines(out / "results.jsonl")
        seen = len(emulator.requests)
        result = run_batch(emulator, source, out, "--max-retries", "0", "--concurrency", "4")
        exit_codes.append(result.returncode)
        assert result.stderr == ""
        sent = prompts(api_calls(emulator, seen))
        assert sent.isdisjoint(f"prompt {line}" for line in done_before)  # skipped, not sent
        assert len(sent) == 10 - len(done_before)
        assert_ok_files_exist(out)
        if result.returncode == 0:
            break

    assert exit_codes[0] == 1, "the seed should make the first run fail some lines"
    assert exit_codes[-1] == 0, exit_codes
    assert completed_lines(out / "results.jsonl") == set(range(1, 11))


def test_a_killed_run_loses_nothing_that_finished(emulator: Emulator, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "jobs" / "jobs.jsonl", quick_lines(12))
    out = tmp_path / "out"
    results = out / "results.jsonl"
    emulator.config.latency = 0.25
    process = subprocess.Popen(
        batch_command(source, out, "--concurrency", "2", "--max-retries", "0"),
        cwd=tmp_path,
        env=cli_env(emulator.base_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT_TIMEOUT
        while not (results.exists() and sum(r["ok"] for r in records(out)) >= 3):
            assert process.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no progress within the wait"
            time.sleep(POLL_INTERVAL)
        process.kill()  # SIGKILL: no cleanup of any kind
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT_TIMEOUT)

    finished = {record["line"] for record in records(out) if record["ok"]}
    assert 3 <= len(finished) < 12
    assert_ok_files_exist(out)

    emulator.config.latency = 0.0
    seen = len(emulator.requests)
    rerun = run_batch(emulator, source, out, "--max-retries", "0")

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    sent = prompts(api_calls(emulator, seen))
    assert sent == {f"prompt {line}" for line in range(1, 13)} - {
        f"prompt {line}" for line in finished
    }
    assert completed_lines(results) == set(range(1, 13))
    assert_ok_files_exist(out)


def test_a_record_cut_short_by_a_crash_is_tolerated(emulator: Emulator, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "jobs" / "jobs.jsonl", quick_lines(3))
    out = tmp_path / "out"
    results = out / "results.jsonl"
    assert run_batch(emulator, source, out).returncode == 0
    # Cut the last record in the middle, as a crash mid-write would.
    text = results.read_text(encoding="utf-8")
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    cut_line = json.loads(last)["line"]
    results.write_text(text[: len(text) - len(last) // 2 - 1], encoding="utf-8")
    assert completed_lines(results) == {1, 2, 3} - {cut_line}

    seen = len(emulator.requests)
    rerun = run_batch(emulator, source, out)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert prompts(api_calls(emulator, seen)) == {f"prompt {cut_line}"}
    assert completed_lines(results) == {1, 2, 3}
    # The record written after the broken line stands on a line of its own.
    seen = len(emulator.requests)
    assert run_batch(emulator, source, out).returncode == 0
    assert api_calls(emulator, seen) == []


def test_a_line_whose_images_cannot_be_read_fails_alone(
    threaded_api: ThreadedImagesAPI, tmp_path: Path
) -> None:
    lines: list[str | dict[str, Any]] = [*quick_lines(3), "[" * 100_000, *quick_lines(5)[4:]]
    source = write_jsonl(tmp_path / "jobs" / "jobs.jsonl", lines)
    out = tmp_path / "out"
    api_url = f"{threaded_api.base_url}/v1"
    # One at a time, so the replies go to lines 1, 2 and 3; line 4 never reaches the server.
    threaded_api.reply(
        Reply(),
        Reply(json={"created": 1, "data": [{"b64_json": "not base64!"}]}),
        Reply(json={"created": 1, "data": [{"revised_prompt": "neither b64_json nor url"}]}),
    )

    first = run_batch(api_url, source, out, "--max-retries", "0", "--concurrency", "1")

    assert first.returncode == 1, first.stdout + first.stderr
    assert first.stderr == ""
    latest = latest_by_line(out)
    assert sorted(latest) == [1, 2, 3, 4, 5]
    assert {line for line, record in latest.items() if record["ok"]} == {1, 5}
    assert "base64" in latest[2]["error"]
    assert latest[3]["error"]
    assert latest[4]["error_type"] == "BadLineError"
    assert_ok_files_exist(out)

    second = run_batch(api_url, source, out, "--max-retries", "0", "--concurrency", "1")

    assert second.returncode == 1  # line 4 stays bad
    assert "2 succeeded now, 2 were done before, 1 failed" in second.stdout
    assert {line for line, record in latest_by_line(out).items() if record["ok"]} == {1, 2, 3, 5}
    assert_ok_files_exist(out)


class SlowSecondImageAPI(ThreadedImagesAPI):
    """The recording API plus ``/slow/{name}``, an image download that does not finish
    before the client goes away (aiohttp cancels the handler then)."""

    def __init__(self) -> None:
        super().__init__()
        self.slow_downloads = 0

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/slow/{name}", self._slow_file)
        return app

    async def _slow_file(self, request: web.Request) -> web.Response:
        self.slow_downloads += 1
        await asyncio.sleep(CALL_TIMEOUT)
        return web.Response(body=TINY_PNG, content_type="image/png")


@pytest.fixture
def slow_api() -> Iterator[SlowSecondImageAPI]:
    api = SlowSecondImageAPI()
    with serving_in_thread(api.app()) as api.base_url:
        yield api


def _default_sigint() -> None:
    # A test run started in the background by a non-interactive shell ignores SIGINT, and
    # children inherit that; the child must get Python's KeyboardInterrupt handler instead.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_between_the_downloads_of_a_line_leaves_no_file(
    slow_api: SlowSecondImageAPI, tmp_path: Path
) -> None:
    line = {"prompt": "two kites", "model": "dall-e-2", "n": 2, "response_format": "url"}
    source = write_jsonl(tmp_path / "jobs" / "jobs.jsonl", [line])
    out = tmp_path / "out"
    urls = [f"{slow_api.base_url}/files/image-0.png", f"{slow_api.base_url}/slow/image-1.png"]
    slow_api.reply(Reply(json={"created": 1, "data": [{"url": url} for url in urls]}))
    process = subprocess.Popen(
        batch_command(source, out, "--max-retries", "0"),
        cwd=tmp_path,
        env=cli_env(f"{slow_api.base_url}/v1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + WAIT_TIMEOUT
        while slow_api.slow_downloads == 0:  # the first image is in, the second on its way
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the second download never started"
            time.sleep(POLL_INTERVAL)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=WAIT_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT_TIMEOUT)

    assert process.returncode == 130
    assert stderr.splitlines() == ["interrupted"]
    assert [path.name for path in out.iterdir()] == ["results.jsonl"]  # no image, no temp
    assert records(out) == []

    rerun = run_batch(f"{slow_api.base_url}/v1", source, out)  # default replies: fast URLs

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    [record] = records(out)
    assert len(record["files"]) == 2
    assert_ok_files_exist(out)


def image_files(out: Path) -> set[str]:
    return {path.name for path in out.iterdir() if path.name != "results.jsonl"}


def test_file_names_say_line_and_image_and_reruns_pile_nothing_up(
    emulator: Emulator, tmp_path: Path
) -> None:
    lines = quick_lines(2)
    lines[0]["n"] = 2
    source = write_jsonl(tmp_path / "jobs" / "jobs.jsonl", lines)
    out = tmp_path / "out"

    assert run_batch(emulator, source, out).returncode == 0
    latest = latest_by_line(out)
    first_files = image_files(out)
    assert first_files == {*latest[1]["files"], *latest[2]["files"]}
    assert len(first_files) == 3
    for line, record in latest.items():
        for image, name in enumerate(record["files"], start=1):
            assert re.fullmatch(rf"line-{line:05d}-[0-9a-f]{{8}}-image-{image}\.png", name), name

    # Results lost: the same lines run again and their files replace their own.
    (out / "results.jsonl").unlink()
    assert run_batch(emulator, source, out).returncode == 0
    assert image_files(out) == first_files

    # An edited line runs again; its new files stand beside the old line's, never on them.
    lines[0]["prompt"] = "an edited first line"
    write_jsonl(source, lines)
    seen = len(emulator.requests)
    assert run_batch(emulator, source, out).returncode == 0
    assert prompts(api_calls(emulator, seen)) == {"an edited first line"}
    new_files = set(latest_by_line(out)[1]["files"])
    assert len(new_files) == 2
    assert image_files(out) == first_files | new_files
    assert new_files.isdisjoint(first_files)


def test_resume_follows_the_text_of_each_line(emulator: Emulator, tmp_path: Path) -> None:
    lines: list[str | dict[str, Any]] = [*quick_lines(3)]
    source = write_jsonl(tmp_path / "jobs" / "jobs.jsonl", lines)
    out = tmp_path / "out"
    assert run_batch(emulator, source, out).returncode == 0

    lines[1] = {**quick_lines(2)[1], "prompt": "prompt 2, edited"}
    write_jsonl(source, lines)
    seen = len(emulator.requests)
    edited = run_batch(emulator, source, out)

    assert edited.returncode == 0, edited.stdout
    assert prompts(api_calls(emulator, seen)) == {"prompt 2, edited"}
    assert "1 succeeded now, 2 were done before, 0 failed" in edited.stdout

    # Re-formatting a line (key order, spaces) is no edit.
    lines[0] = json.dumps(dict(reversed(quick_lines(1)[0].items()))).replace(": ", ":  ")
    write_jsonl(source, lines)
    seen = len(emulator.requests)
    assert run_batch(emulator, source, out).returncode == 0
    assert api_calls(emulator, seen) == []

    # Lines that moved are not the lines recorded under their new numbers: they run again.
    write_jsonl(source, [{"prompt": "a new first line"}, *lines])
    seen = len(emulator.requests)
    assert run_batch(emulator, source, out).returncode == 0
    assert prompts(api_calls(emulator, seen)) == {
        "a new first line",
        "prompt 1",
        "prompt 2, edited",
        "prompt 3",
    }


def test_json_prints_every_record_as_a_json_line(emulator: Emulator, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "jobs" / "jobs.jsonl", [*quick_lines(2), "{not json"])
    out = tmp_path / "out"

    result = run_batch(emulator, source, out, "--json")

    assert result.returncode == 1
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(printed, key=lambda record: record["line"]) == sorted(
        records(out), key=lambda record: record["line"]
    )
    assert [record["ok"] for record in sorted(printed, key=lambda r: r["line"])] == [
        True,
        True,
        False,
    ]
    [summary] = result.stderr.splitlines()  # the summary keeps stdout parseable
    assert summary.startswith("batch: 2 succeeded now")


def test_help_shows_the_input_format_and_how_resuming_works(emulator: Emulator) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "images_async", "batch", "--help"],
        env=cli_env(emulator.base_url),
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )

    assert result.returncode == 0
    examples = [line.strip() for line in result.stdout.splitlines() if line.strip()[:1] == "{"]
    parsed = [parse_line(example, Path("/jobs")) for example in examples]
    assert {type(request) for request in parsed} == {
        GenerateRequest,
        EditRequest,
        VariationRequest,
    }
    text = " ".join(result.stdout.split())
    assert "results.jsonl" in text
    assert "text" in text  # a line is done only while its text is unchanged
    assert "--json" in text


# -- parse_line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "request_type"),
    [
        ('{"prompt": "a cat"}', GenerateRequest),
        ('{"endpoint": "generations", "prompt": "a cat", "model": "gpt-image-1"}', GenerateRequest),
        ('{"endpoint": "edit", "image": "a.png", "prompt": "x"}', EditRequest),
        ('{"endpoint": "edits", "image": ["a.png", "b.png"], "prompt": "x"}', EditRequest),
        ('{"endpoint": "variation", "image": "a.png"}', VariationRequest),
        ('{"endpoint": "create_variation", "image": "a.png", "n": 2}', VariationRequest),
    ],
)
def test_parse_line_builds_the_request(text: str, request_type: type[object]) -> None:
    assert type(parse_line(text, Path("/jobs"))) is request_type


def test_parse_line_resolves_image_paths_against_the_file_directory(tmp_path: Path) -> None:
    line = {
        "endpoint": "edit",
        "image": ["in/a.png", str(tmp_path / "b.png")],
        "mask": "masks/m.png",
        "prompt": "x",
    }
    request = parse_line(json.dumps(line), tmp_path / "jobs")

    assert isinstance(request, EditRequest)
    assert request.image == [str(tmp_path / "jobs" / "in" / "a.png"), str(tmp_path / "b.png")]
    assert request.mask == str(tmp_path / "jobs" / "masks" / "m.png")


@pytest.mark.parametrize(
    ("text", "error_type", "fragment"),
    [
        ("{oops", BadLineError, "JSON"),
        ("[" * 100_000, BadLineError, "JSON"),
        ('["a cat"]', BadLineError, "object"),
        ('{"endpoint": "inpaint", "prompt": "x"}', BadLineError, "inpaint"),
        ('{"endpoint": 3, "prompt": "x"}', BadLineError, "endpoint"),
        ('{"prompt": "x", "colour": "red"}', BadLineError, "colour"),
        ('{"endpoint": "variation", "image": "a.png", "prompt": "x"}', BadLineError, "prompt"),
        ('{"endpoint": "edit", "prompt": "x"}', BadLineError, "image"),
        ('{"prompt": ""}', InvalidRequestError, "prompt"),
        ('{"prompt": "x", "n": 0}', InvalidRequestError, "n"),
        ('{"prompt": 5}', InvalidRequestError, "prompt"),
    ],
)
def test_parse_line_rejects_bad_lines(
    text: str, error_type: type[Exception], fragment: str
) -> None:
    with pytest.raises(error_type, match=fragment) as error_info:
        parse_line(text, Path("/jobs"))
    assert isinstance(error_info.value, ValueError)


# -- completed_keys ------------------------------------------------------------------------


def test_completed_keys_of_a_missing_file(tmp_path: Path) -> None:
    assert completed_keys(tmp_path / "results.jsonl") == set()


def test_completed_keys_takes_the_latest_record_per_key_and_skips_garbage(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results.jsonl"
    a, b = line_sha256('{"prompt": "a"}'), line_sha256('{"prompt": "b"}')
    lines = [
        {"line": 1, "line_sha256": a, "ok": True, "files": ["a.png"]},
        {"line": 2, "line_sha256": a, "ok": False, "error": "500"},
        {"line": 3, "line_sha256": a, "ok": True, "files": ["b.png"]},
        {"line": 3, "line_sha256": a, "ok": False, "error": "gone"},  # a later failure wins
        {"line": 2, "line_sha256": a, "ok": True, "files": ["c.png"]},  # a later success too
        {"line": 1, "line_sha256": b, "ok": False, "error": "edited"},  # another text: own key
        {"line": 4, "ok": True, "files": ["d.png"]},  # no hash: cannot tell what was done
        "not json at all",
        '["a", "list"]',
        {"line": "5", "line_sha256": a, "ok": True},
        {"line_sha256": a, "ok": True},
        "",
        '{"line": 6, "line_sha256": "' + a + '", "ok": tr',  # the last write, cut short
    ]
    results.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines),
        encoding="utf-8",
    )

    assert completed_keys(results) == {(1, a), (2, a)}


def test_line_hash_ignores_formatting_but_not_content() -> None:
    assert line_sha256('{"prompt": "a", "n": 2}\n') == line_sha256('{"n":2,"prompt":"a"}')
    assert line_sha256('{"prompt": "a"}') != line_sha256('{"prompt": "b"}')
    assert line_sha256("{not json \n") == line_sha256("{not json")
    assert line_sha256("[" * 100_000) != line_sha256("[" * 99_999)
