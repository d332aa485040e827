"""Where the command line writes: ``--out`` is proven writable before anything is paid for,
and no text a server sends can steer a file outside it.

Commands run as a user runs them (``python -m images_async`` in a subprocess), against the
emulator or the recording test API (``threaded_api``), both served on 127.0.0.1 from a
thread of the test process. The recording API's scripted replies stand in for a server
that answers with a hostile ``output_format``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from plugins.api_server import TINY_PNG, Reply, images_body, stream_events
from plugins.threaded_server import ThreadedImagesAPI

from images_async.testing import Emulator, RecordedCall
from images_async.testing.sample_images import image_size, solid_png

PROJECT_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sk-cli-output-test-0123456789abcdef"
#: Upper bound of one command, however slow the machine (a normal one takes well under 1 s).
CALL_TIMEOUT = 60.0
#: What a hostile server puts where the image format belongs.
ESCAPING_FORMAT = "png/../../escaped"


# -- helpers -------------------------------------------------------------------------------


def cli_env(base_url: str) -> dict[str, str]:
    # Nothing of the machine's that would send the child elsewhere (Azure, a proxy).
    foreign = ("OPENAI_", "AZURE_OPENAI_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(foreign)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.update(OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=base_url)
    return env


def run_cli(args: Sequence[str], *, cwd: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    """Run one command to its end (bounded by ``CALL_TIMEOUT``)."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "images_async", *args],
        cwd=cwd,
        env=cli_env(base_url),
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )


def api_calls(emulator: Emulator) -> list[RecordedCall]:
    return [call for call in list(emulator.requests) if call.method == "POST"]


def everything_under(directory: Path) -> set[Path]:
    return set(directory.rglob("*"))


def hostile_body(content: bytes = TINY_PNG) -> dict[str, Any]:
    """A valid images response whose ``output_format`` tries to climb out of ``--out``."""
    body = images_body({}, "")
    body["output_format"] = ESCAPING_FORMAT
    body["data"] = [{"b64_json": base64.b64encode(content).decode()}]
    return body


@pytest.fixture
def api_url(threaded_api: ThreadedImagesAPI) -> str:
    return f"{threaded_api.base_url}/v1"


# -- --out is checked before the first request ---------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "a fox", "--model", "gpt-image-1"],
        ["generate", "a fox", "--model", "gpt-image-1", "--stream"],
        ["edit", "room.png", "--prompt", "add a plant", "--model", "gpt-image-1"],
        ["variations", "room.png", "--size", "256x256"],
        ["batch", "jobs.jsonl"],
        ["demo", "--variations", "1"],
    ],
    ids=["generate", "stream", "edit", "variations", "batch", "demo"],
)
def test_an_unwritable_out_is_one_line_and_costs_no_call(
    emulator: Emulator, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "room.png").write_bytes(solid_png(256, 256))
    (tmp_path / "jobs.jsonl").write_text('{"prompt": "a fox"}\n', encoding="utf-8")
    (tmp_path / "blocker").write_bytes(b"a file, not a directory")
    before = everything_under(tmp_path)

    result = run_cli([*args, "--out", "blocker/out"], cwd=tmp_path, base_url=emulator.base_url)

    assert result.returncode == 1, result
    [line] = result.stderr.splitlines()
    assert line.startswith("images-async: error: "), line
    assert "blocker" in line
    assert result.stdout == ""
    assert api_calls(emulator) == []
    assert everything_under(tmp_path) == before


def test_a_failed_command_leaves_no_empty_out_behind(emulator: Emulator, tmp_path: Path) -> None:
    result = run_cli(
        ["edit", "missing.png", "--prompt", "x", "--out", "new/out"],
        cwd=tmp_path,
        base_url=emulator.base_url,
    )

    assert result.returncode == 1
    assert "missing.png" in result.stderr
    assert list(tmp_path.iterdir()) == []


# -- file names come from known formats only -----------------------------------------------


def test_generate_names_files_from_known_formats_only(
    threaded_api: ThreadedImagesAPI, api_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # With these directories in place, "<name>.png/../../escaped" would resolve outside --out.
    (out / "a-fox-1.png").mkdir(parents=True)
    (out / "a-fox-1-2.png").mkdir()
    threaded_api.reply(Reply(json=hostile_body()), Reply(json=hostile_body(b"not an image")))

    first = run_cli(["generate", "a fox", "--out", "out"], cwd=tmp_path, base_url=api_url)
    second = run_cli(["generate", "a fox", "--out", "out"], cwd=tmp_path, base_url=api_url)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert not (tmp_path / "escaped").exists()
    png, unknown = tmp_path / first.stdout.strip(), tmp_path / second.stdout.strip()
    assert png.parent == unknown.parent == out
    assert png.suffix == ".png"  # sniffed from the bytes
    assert image_size(png.read_bytes()) == (4, 4)
    assert unknown.suffix == ".bin"  # neither a known format nor recognisable bytes
    assert unknown.read_bytes() == b"not an image"


def test_streamed_images_are_named_from_known_formats_only(
    threaded_api: ThreadedImagesAPI, api_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    for name in ("a-fox-partial-1.png", "a-fox-final.png"):
        (out / name).mkdir(parents=True)
    events = stream_events("image_generation", 1)
    for event in events:
        event["output_format"] = ESCAPING_FORMAT
    threaded_api.reply(Reply(events=events))

    result = run_cli(
        ["generate", "a fox", "--stream", "--partial-images", "1", "--out", "out"],
        cwd=tmp_path,
        base_url=api_url,
    )

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "escaped").exists()
    paths = [tmp_path / line.split(": ", 1)[1] for line in result.stdout.splitlines()]
    assert len(paths) == 2
    for path in paths:
        assert path.parent == out
        assert path.suffix == ".png"
        assert image_size(path.read_bytes()) == (4, 4)


def test_batch_names_files_from_known_formats_only(
    threaded_api: ThreadedImagesAPI, api_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "jobs.jsonl"
    source.write_text(json.dumps({"prompt": "a fox"}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    (out / "line-00001-1.png").mkdir(parents=True)  # the name the batch once used
    threaded_api.reply(Reply(json=hostile_body()))

    result = run_cli(["batch", "jobs.jsonl", "--out", "out"], cwd=tmp_path, base_url=api_url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "escaped").exists()
    [record] = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert record["ok"], record
    [name] = record["files"]
    assert Path(name).name == name
    assert name.endswith(".png")
    assert image_size((out / name).read_bytes()) == (4, 4)


def test_json_of_a_damaged_payload_prints_the_document_then_one_error_line(
    threaded_api: ThreadedImagesAPI, api_url: str, tmp_path: Path
) -> None:
    damaged = "iVBORw0KGgo!!"  # the JSON is printed as sent; saving the image fails
    threaded_api.reply(Reply(json={"created": 1, "data": [{"b64_json": damaged}]}))

    result = run_cli(
        ["generate", "a fox", "--json", "--max-retries", "0", "--out", "out"],
        cwd=tmp_path,
        base_url=api_url,
    )

    assert result.returncode == 1
    assert json.loads(result.stdout)["data"][0]["b64_json"] == damaged
    assert result.stderr.count("\n") == 1
    assert "base64" in result.stderr
