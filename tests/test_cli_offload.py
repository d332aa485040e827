"""``images-async batch FILE.jsonl --offload --out DIR``: the lines as one Batch API job.

The command runs as a user runs it (``python -m images_async`` in a subprocess, ``-W error``)
against the emulator served from a thread of the test process, whose Batch API runs the
lines at the pace its config sets. What the emulator records shows what was uploaded and
how many batches were created; a sync client asks it how a job stands.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from images_async import Images
from images_async.testing import Emulator, RecordedCall
from images_async.testing.sample_images import image_size, solid_png

PROJECT_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sk-offload-test-0123456789abcdef"
#: Upper bound of one command, however slow the machine (a normal one takes about 1 s).
CALL_TIMEOUT = 60.0
WAIT_TIMEOUT = 20.0
POLL_INTERVAL = 0.02
STATE_FILE = "offload-job.json"


# -- helpers -------------------------------------------------------------------------------


def cli_env(base_url: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(("OPENAI_", "AZURE_OPENAI_", "HTTP_PROXY", "HTTPS_PROXY"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.update(OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=base_url)
    return env


def command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-W", "error", "-m", "images_async", "batch", *args]


def run_cli(emulator: Emulator, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(args),
        cwd=cwd,
        env=cli_env(emulator.base_url),
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )


def offload(emulator: Emulator, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``batch jobs.jsonl --offload --out out`` with a short poll interval."""
    args = ["jobs.jsonl", "--offload", "--out", "out", "--poll-interval", "0.05", *options]
    return run_cli(emulator, cwd, *args)


def _default_sigint() -> None:
    # A test run started in the background by a non-interactive shell ignores SIGINT, and
    # children inherit that; the child must get Python's KeyboardInterrupt handler instead.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted_offload(emulator: Emulator, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Start an offload, send Ctrl-C once its state file names the job, and let it end."""
    process = subprocess.Popen(
        command(["jobs.jsonl", "--offload", "--out", "out", "--poll-interval", "0.05"]),
        cwd=cwd,
        env=cli_env(emulator.base_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        wait_until(lambda: (cwd / "out" / STATE_FILE).exists() or process.poll() is not None)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=WAIT_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=WAIT_TIMEOUT)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(POLL_INTERVAL)


def write_jsonl(path: Path, lines: Sequence[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def generate_lines(count: int) -> list[dict[str, Any]]:
    return [
        {"prompt": f"prompt {n}", "model": "dall-e-2", "size": "256x256"}
        for n in range(1, count + 1)
    ]


def calls_to(emulator: Emulator, method: str, path: str) -> list[RecordedCall]:
    return [c for c in list(emulator.requests) if c.method == method and c.path == path]


def records(out: Path) -> list[dict[str, Any]]:
    text = (out / "results.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def state(out: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((out / STATE_FILE).read_text(encoding="utf-8"))
    return document


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], status: int, *parts: str
) -> None:
    assert result.returncode == status, result
    (line,) = result.stderr.splitlines()
    assert line.startswith("images-async: error: "), line
    for part in parts:
        assert part in line


# -- the tests -----------------------------------------------------------------------------


def test_a_mixed_file_is_one_job_saved_as_the_live_batch_saves_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "room.png").write_bytes(solid_png(64, 64))
    (tmp_path / "mask.png").write_bytes(solid_png(64, 64, (0, 0, 0, 0)))
    (tmp_path / "room-copy.png").write_bytes(solid_png(64, 64))  # same bytes: one upload
    edit = {"endpoint": "edit", "model": "gpt-image-1", "quality": "low"}
    write_jsonl(
        tmp_path / "jobs.jsonl",
        [
            *generate_lines(2),
            {**edit, "image": "room.png", "mask": "mask.png", "prompt": "add a plant"},
            {**edit, "image": "room-copy.png", "prompt": "paint it blue"},
        ],
    )

    result = offload(emulator, tmp_path)

    assert result.returncode == 0, result
    assert result.stderr == ""
    out = tmp_path / "out"
    job_id = state(out)["job_id"]
    assert f"submitted batch job {job_id} (4 requests)" in result.stdout
    # One job: a batch per endpoint, each input file and each distinct image uploaded once.
    created = calls_to(emulator, "POST", "/v1/batches")
    assert sorted(str(call.params["endpoint"]) for call in created) == [
        "/v1/images/edits",
        "/v1/images/generations",
    ]
    uploads = calls_to(emulator, "POST", "/v1/files")
    assert sorted(str(call.params["purpose"]) for call in uploads) == [
        "batch",
        "batch",
        "vision",
        "vision",
    ]
    assert calls_to(emulator, "POST", "/v1/images/generations") == []  # nothing ran live
    by_line = {record["line"]: record for record in records(out)}
    assert sorted(by_line) == [1, 2, 3, 4]
    for record in by_line.values():
        assert record["ok"] is True, record
        assert set(record) == {"line", "line_sha256", "ok", "created", "files"}
        (name,) = record["files"]
        assert name.startswith(f"line-{record['line']:05d}-{record['line_sha256'][:8]}-image-1")
        assert image_size((out / name).read_bytes())[0] > 0
    assert API_KEY not in (out / STATE_FILE).read_text(encoding="utf-8")
    assert API_KEY not in result.stdout

    # A live run of the same file reads those records: nothing left to send.
    live = run_cli(emulator, tmp_path, "jobs.jsonl", "--out", "out")
    assert live.returncode == 0, live
    assert calls_to(emulator, "POST", "/v1/images/generations") == []
    assert calls_to(emulator, "POST", "/v1/images/edits") == []


def test_ctrl_c_while_waiting_then_a_rerun_picks_up_the_same_job(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.config.batch_step_delay = 0.3
    emulator.config.batch_lines_per_second = 20.0
    write_jsonl(tmp_path / "jobs.jsonl", generate_lines(4))

    stopped = interrupted_offload(emulator, tmp_path)

    assert stopped.returncode == 130, stopped
    job_id = state(tmp_path / "out")["job_id"]
    assert state(tmp_path / "out")["saved"] is False
    assert job_id in stopped.stderr
    assert "run the same command again" in stopped.stderr
    assert stopped.stderr.splitlines()[-1] == "interrupted"
    assert "Traceback" not in stopped.stderr
    assert not (tmp_path / "out" / "results.jsonl").exists()

    resumed = offload(emulator, tmp_path)

    assert resumed.returncode == 0, resumed
    assert resumed.stderr == ""
    assert f"picking up batch job {job_id}" in resumed.stdout
    assert len(calls_to(emulator, "POST", "/v1/batches")) == 1  # one batch in all
    assert len(calls_to(emulator, "GET", f"/v1/batches/{job_id}")) >= 2
    assert sorted(record["line"] for record in records(tmp_path / "out")) == [1, 2, 3, 4]
    assert all(record["ok"] for record in records(tmp_path / "out"))
    assert state(tmp_path / "out")["saved"] is True

    again = offload(emulator, tmp_path)  # a finished job: saved before, nothing sent
    assert again.returncode == 0, again
    assert "was saved before" in again.stdout
    assert len(calls_to(emulator, "POST", "/v1/batches")) == 1
    assert len(records(tmp_path / "out")) == 4


def test_status_prints_the_job_and_its_counts(emulator: Emulator, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "jobs.jsonl", generate_lines(3))
    assert offload(emulator, tmp_path).returncode == 0
    job_id = state(tmp_path / "out")["job_id"]
    before = len(emulator.requests)

    result = run_cli(emulator, tmp_path, "--status", "out")

    assert result.returncode == 0, result
    assert result.stderr == ""
    assert result.stdout.strip() == (
        f"job {job_id}: completed, 3 of 3 requests done (0 failed); its results are saved"
    )
    asked = list(emulator.requests)[before:]
    assert [(call.method, call.path) for call in asked] == [("GET", f"/v1/batches/{job_id}")]


def test_cancel_stops_the_job_and_a_rerun_saves_what_it_finished(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.config.batch_lines_per_second = 1.0  # 6 s for the lines: the cancel comes first
    write_jsonl(tmp_path / "jobs.jsonl", generate_lines(6))
    assert interrupted_offload(emulator, tmp_path).returncode == 130
    job_id = state(tmp_path / "out")["job_id"]

    cancelled = run_cli(emulator, tmp_path, "--cancel", "out")

    assert cancelled.returncode == 0, cancelled
    assert cancelled.stdout.startswith(f"job {job_id}: cancel")
    assert len(calls_to(emulator, "POST", f"/v1/batches/{job_id}/cancel")) == 1
    with Images(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images:
        assert images.batches.retrieve(job_id).status in {"cancelling", "cancelled"}

    saved = offload(emulator, tmp_path)

    assert saved.returncode == 1, saved  # some lines never ran
    assert len(calls_to(emulator, "POST", "/v1/batches")) == 1
    found = records(tmp_path / "out")
    assert sorted(record["line"] for record in found) == [1, 2, 3, 4, 5, 6]
    not_run = [record for record in found if not record["ok"]]
    assert not_run
    assert {record["error_type"] for record in not_run} == {"BatchNotRunError"}
    for record in found:
        if record["ok"]:
            assert (tmp_path / "out" / record["files"][0]).is_file()


def test_a_variation_line_is_refused_before_anything_is_uploaded(
    emulator: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "cat.png").write_bytes(solid_png(64, 64))
    variation = {"endpoint": "variation", "image": "cat.png", "size": "256x256"}
    write_jsonl(tmp_path / "jobs.jsonl", [*generate_lines(1), variation])

    result = offload(emulator, tmp_path)

    assert_one_line_error(result, 1, "line 2", "variations", "without --offload")
    assert list(emulator.requests) == []
    assert not (tmp_path / "out" / STATE_FILE).exists()


def test_a_changed_input_with_a_job_in_out_is_a_usage_error(
    emulator: Emulator, tmp_path: Path
) -> None:
    write_jsonl(tmp_path / "jobs.jsonl", generate_lines(2))
    assert offload(emulator, tmp_path).returncode == 0
    job_id = state(tmp_path / "out")["job_id"]
    write_jsonl(tmp_path / "jobs.jsonl", generate_lines(3))
    before = len(emulator.requests)

    result = offload(emulator, tmp_path)

    assert_one_line_error(result, 2, job_id, STATE_FILE)
    assert len(emulator.requests) == before  # nothing asked, nothing submitted
    assert state(tmp_path / "out")["job_id"] == job_id


@pytest.mark.parametrize("args", [["--status", "out"], ["--cancel", "out"]])
def test_status_and_cancel_without_a_job_are_one_line(
    emulator: Emulator, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "out").mkdir()
    result = run_cli(emulator, tmp_path, *args)
    assert_one_line_error(result, 1, "no offloaded batch job")
    assert list(emulator.requests) == []


@pytest.mark.parametrize(
    "args", [[], ["jobs.jsonl", "--status", "out"], ["--status", "a", "--cancel", "b"]]
)
def test_batch_wants_one_of_a_file_status_or_cancel(tmp_path: Path, args: list[str]) -> None:
    result = subprocess.run(
        command(args),
        cwd=tmp_path,
        env=cli_env("http://unused.invalid/v1"),
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert "one of them" in result.stderr
