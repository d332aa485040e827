"""The command line as a user runs it: ``python -m images_async`` in a subprocess.

Each command talks to the emulator, served on 127.0.0.1 from a thread of the test process
(``run_emulator_in_thread``), through ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` (or the
Azure options and ``AZURE_OPENAI_API_KEY``). The child runs with ``-W error`` and a clean
run must leave stderr empty, so a leaked session or a stray warning fails the test.
Argument checks, which end before anything runs, are tested in-process.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import attrs
import pytest

from images_async import AuthenticationError, Images, __version__
from images_async.cli import main
from images_async.testing import Emulator, FaultPlan, RecordedCall
from images_async.testing.sample_images import image_size, solid_png

PROJECT_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sk-cli-test-0123456789abcdef"
#: Upper bound of one command, however slow the machine (a normal one takes well under 1 s).
CALL_TIMEOUT = 60.0
#: Upper bound of every other wait: a line of output, a request arriving, a process ending.
WAIT_TIMEOUT = 20.0
POLL_INTERVAL = 0.02


# -- helpers -------------------------------------------------------------------------------


#: Settings of the machine running the tests that would send a child elsewhere: a proxy, or
#: Azure OpenAI (which ``AZURE_OPENAI_ENDPOINT`` selects).
FOREIGN_SETTINGS = ("OPENAI_", "AZURE_OPENAI_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def cli_env(base_url: str | None, *, api_key: str | None = API_KEY) -> dict[str, str]:
    """The environment of a child: this one without OPENAI_*, AZURE_OPENAI_* or proxies,
    plus the given settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(FOREIGN_SETTINGS)
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    if api_key is not None:
        env["OPENAI_API_KEY"] = api_key
    if base_url is not None:
        env["OPENAI_BASE_URL"] = base_url
    return env


def cli_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-W", "error", "-m", "images_async", *args]


def run_cli(
    args: Sequence[str], *, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run one command to its end (bounded by ``CALL_TIMEOUT``)."""
    return subprocess.run(
        cli_command(args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )


def _default_sigint() -> None:
    # A test run started in the background by a non-interactive shell ignores SIGINT, and
    # children inherit that; the child must get Python's KeyboardInterrupt handler instead.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(args: Sequence[str], *, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start one command and return at once, its output piped, Ctrl-C deliverable."""
    return subprocess.Popen(
        cli_command(args),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


@contextlib.contextmanager
def reaped(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """Whatever happens in the block, the process is gone and its pipes closed after it."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT_TIMEOUT)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def read_line(stream: IO[str] | None, timeout: float = WAIT_TIMEOUT) -> str:
    """The next line the child prints, or a failure after ``timeout`` seconds."""
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, f"no output within {timeout} s"
    return stream.readline()


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(POLL_INTERVAL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def api_calls(emulator: Emulator) -> list[RecordedCall]:
    """The API calls the emulator received (image downloads left out)."""
    return [call for call in list(emulator.requests) if call.method == "POST"]


def png_size(path: Path) -> tuple[int, int]:
    """The size of a PNG file; fails when it is not a PNG with an IHDR chunk."""
    return image_size(path.read_bytes())


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("images-async: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def env(emulator: Emulator) -> dict[str, str]:
    return cli_env(emulator.base_url)


# -- generate ------------------------------------------------------------------------------


def test_generate_writes_a_png_and_prints_its_path(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    prompt = "A sea otter, in a beret!"
    args = ["generate", prompt, "--model", "gpt-image-1", "--size", "1024x1536", "--out", "out"]
    result = run_cli(args, cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [str(Path("out", "a-sea-otter-in-a-beret-1.png"))]
    assert png_size(tmp_path / "out" / "a-sea-otter-in-a-beret-1.png") == (1024, 1536)
    [call] = api_calls(emulator)
    assert call.path == "/v1/images/generations"
    assert call.params == {"prompt": prompt, "model": "gpt-image-1", "size": "1024x1536"}


def test_generate_never_overwrites_a_file(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    taken = out / "a-fox-1.png"
    taken.write_bytes(b"not yours")
    args = ["generate", "a fox", "--model", "gpt-image-1", "--out", "out"]

    first = run_cli(args, cwd=tmp_path, env=env)
    second = run_cli(args, cwd=tmp_path, env=env)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    paths = [tmp_path / first.stdout.strip(), tmp_path / second.stdout.strip()]
    assert len({taken, *paths}) == 3
    assert taken.read_bytes() == b"not yours"
    for path in paths:
        assert path.parent == out
        assert path.name.startswith("a-fox-")
        assert png_size(path) == (1024, 1024)
    assert len(list(out.iterdir())) == 3


def test_generate_json_prints_the_response_document(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    args = ["generate", "a heron", "--model", "gpt-image-1", "--json", "--out", "out"]
    result = run_cli(args, cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # stdout is the document and nothing else
    assert isinstance(document["created"], int)
    assert document["output_format"] == "png"
    assert document["usage"]["total_tokens"] > 0
    [item] = document["data"]
    picture = base64.b64decode(item["b64_json"])
    assert image_size(picture) == (1024, 1024)
    [saved] = result.stderr.splitlines()  # the saved path goes to stderr then
    assert (tmp_path / saved).read_bytes() == picture


def test_generate_stream_writes_partial_and_final_images(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    args = ["generate", "a lighthouse", "--model", "gpt-image-1", "--out", "out"]
    result = run_cli([*args, "--stream", "--partial-images", "2"], cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    events = [line.split(": ", 1) for line in result.stdout.splitlines()]
    assert [kind for kind, _ in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    paths = [tmp_path / path for _, path in events]
    assert [path.name for path in paths] == [
        "a-lighthouse-partial-1.png",
        "a-lighthouse-partial-2.png",
        "a-lighthouse-final.png",
    ]
    assert all(png_size(path) == (1024, 1024) for path in paths)
    assert len({path.read_bytes() for path in paths}) == 3
    [call] = api_calls(emulator)
    assert call.params["stream"] is True
    assert call.params["partial_images"] == 2


def test_stream_names_files_after_each_event_format(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    args = ["generate", "a heron", "--model", "gpt-image-1", "--output-format", "webp"]
    result = run_cli(
        [*args, "--stream", "--partial-images", "1", "--out", "out"], cwd=tmp_path, env=env
    )

    assert result.returncode == 0, result.stderr
    names = [Path(line.split(": ", 1)[1]).name for line in result.stdout.splitlines()]
    assert names == ["a-heron-partial-1.webp", "a-heron-final.webp"]


# -- edit and variations -------------------------------------------------------------------


def test_edit_sends_every_image_and_the_mask(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "room.png").write_bytes(solid_png(256, 256))
    (tmp_path / "plant.png").write_bytes(solid_png(256, 256, (20, 160, 40, 255)))
    (tmp_path / "mask.png").write_bytes(solid_png(256, 256, (0, 0, 0, 0)))
    args = ["edit", "room.png", "plant.png", "--prompt", "add the plant", "--mask", "mask.png"]
    result = run_cli([*args, "--model", "gpt-image-1", "--out", "out"], cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    [printed] = result.stdout.splitlines()
    assert Path(printed).name == "edit-add-the-plant-1.png"
    assert png_size(tmp_path / printed) == (1024, 1024)
    [call] = api_calls(emulator)
    assert call.path == "/v1/images/edits"
    assert call.params == {"prompt": "add the plant", "model": "gpt-image-1"}
    assert [(f.field, f.filename, f.content_type) for f in call.files] == [
        ("image[]", "room.png", "image/png"),
        ("image[]", "plant.png", "image/png"),
        ("mask", "mask.png", "image/png"),
    ]


def test_variations_of_two_images(emulator: Emulator, env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(solid_png(64, 64))
    (tmp_path / "dog.png").write_bytes(solid_png(64, 64, (40, 40, 200, 255)))
    args = ["variations", "cat.png", "dog.png", "-n", "2", "--size", "256x256", "--out", "out"]
    result = run_cli(args, cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    printed = [Path(line) for line in result.stdout.splitlines()]
    assert [path.name for path in printed] == [
        "cat-variation-1.png",
        "cat-variation-2.png",
        "dog-variation-1.png",
        "dog-variation-2.png",
    ]
    assert all(png_size(tmp_path / path) == (256, 256) for path in printed)
    calls = api_calls(emulator)
    assert sorted(call.files[0].filename or "" for call in calls) == ["cat.png", "dog.png"]
    assert all(call.path == "/v1/images/variations" for call in calls)
    assert all(call.params == {"n": "2", "size": "256x256"} for call in calls)


def test_a_failed_variation_is_one_stderr_line_and_the_others_are_saved(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    emulator.config.faults = FaultPlan.scripted("500")  # the first call: cat.png, one at a time
    (tmp_path / "cat.png").write_bytes(solid_png(64, 64))
    (tmp_path / "dog.png").write_bytes(solid_png(64, 64, (40, 40, 200, 255)))
    args = ["variations", "cat.png", "dog.png", "--concurrency", "1", "--max-retries", "0"]
    result = run_cli([*args, "--out", "out"], cwd=tmp_path, env=env)

    assert result.returncode == 1
    [error] = result.stderr.splitlines()
    assert error.startswith("cat.png: "), error
    assert "500" in error, error
    assert [Path(line).name for line in result.stdout.splitlines()] == ["dog-variation-1.png"]
    assert len(api_calls(emulator)) == 2


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["generate", "", "--model", "gpt-image-1"], "prompt"),
        (["generate", "x", "--model", "dall-e-2", "--size", "1024x1536"], "size"),
        (["edit", "missing.png", "--prompt", "x"], "missing.png"),
        (["generate", "x", "--base-url", "not-a-url"], "not-a-url"),
    ],
    ids=["empty-prompt", "size-for-model", "missing-file", "bad-base-url"],
)
def test_invalid_input_is_one_line_and_sends_nothing(
    emulator: Emulator, env: dict[str, str], tmp_path: Path, args: list[str], fragment: str
) -> None:
    result = run_cli([*args, "--out", "out"], cwd=tmp_path, env=env)

    assert_one_line_error(result, fragment)
    assert api_calls(emulator) == []
    assert not (tmp_path / "out").exists()


def test_missing_api_key_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    env = cli_env(emulator.base_url, api_key=None)
    result = run_cli(["generate", "a cat", "--out", "out"], cwd=tmp_path, env=env)

    assert_one_line_error(result, "OPENAI_API_KEY")
    assert api_calls(emulator) == []


def test_server_error_without_retries_is_one_line(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    emulator.config.faults = FaultPlan.scripted("500")
    args = ["generate", "a cat", "--max-retries", "0", "--out", "out"]
    result = run_cli(args, cwd=tmp_path, env=env)

    assert_one_line_error(result, "500", "request_id=req_")
    assert len(api_calls(emulator)) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["variations", "a.png", "--concurrency", "0"],
        ["batch", "jobs.jsonl", "--concurrency", "-3"],
        ["generate", "x", "--timeout", "-1"],
        ["generate", "x", "--timeout", "nan"],
        ["generate", "x", "--max-retries", "-1"],
        ["serve", "--faults", "bogus"],
        ["serve", "--port", "99999"],
        ["serve", "--port", "-1"],
        ["demo", "--variations", "-1"],
    ],
    ids=lambda args: "-".join(args[-2:]),
)
def test_bad_option_values_are_usage_errors(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)

    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert last_line.startswith(f"images-async {args[0]}: error: argument {args[-2]}")


def test_closed_stdout_ends_quietly(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    process = start_cli(["generate", "a cat", "--json", "--out", "out"], cwd=tmp_path, env=env)
    with reaped(process):
        assert process.stdout is not None
        process.stdout.close()  # like `| head` going away before anything is printed
        assert process.stderr is not None
        stderr = process.stderr.read()
        process.wait(CALL_TIMEOUT)

    assert process.returncode == 1
    assert "Traceback" not in stderr
    assert "Broken pipe" not in stderr
    assert "Exception ignored" not in stderr


# -- serve, Ctrl-C -------------------------------------------------------------------------


def test_serve_answers_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    args = ["serve", "--port", str(port), "--api-key", API_KEY]
    process = start_cli(args, cwd=tmp_path, env=cli_env(None, api_key=None))
    with reaped(process):
        first_line = read_line(process.stdout)
        base_url = f"http://127.0.0.1:{port}/v1"
        assert base_url in first_line
        images = Images(api_key=API_KEY, base_url=base_url, max_retries=0)
        intruder = Images(api_key="sk-wrong-0123456789abcdef", base_url=base_url, max_retries=0)
        try:
            response = images.generate(prompt="a kite", model="gpt-image-1")
            with pytest.raises(AuthenticationError):
                intruder.generate(prompt="a kite")
        finally:
            images.close()
            intruder.close()
        assert image_size(response.data[0].decode()) == (1024, 1024)

        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=WAIT_TIMEOUT)

    assert process.returncode in (0, 130)
    assert stderr.strip() in ("", "interrupted")


def test_a_port_already_taken_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            ["serve", "--port", str(port)], cwd=tmp_path, env=cli_env(None, api_key=None)
        )

    assert_one_line_error(result, str(port))


def test_importing_main_module_runs_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import images_async.__main__"],
        cwd=tmp_path,
        env=cli_env(None, api_key=None),
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


#: Run in a child: ``main`` with the child's arguments, then which of our packages it loaded.
LOADED_PACKAGES_SCRIPT = """
import sys
from images_async.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
packages = {name.split(".")[1] for name in sys.modules if name.startswith("images_async.")}
print(status, " ".join(sorted(packages & {"cli", "testing"})))
"""


def test_the_client_loads_neither_the_command_line_nor_the_emulator(tmp_path: Path) -> None:
    script = "import sys, images_async; print(sorted(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=tmp_path,
        env=cli_env(None, api_key=None),
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=True,
    )

    assert "images_async.cli" not in result.stdout
    assert "images_async.testing" not in result.stdout


@pytest.mark.parametrize(
    "args",
    [["--help"], ["generate", "--help"], ["generate", "a fox", "--model", "gpt-image-1"]],
    ids=["help", "generate-help", "generate"],
)
def test_only_serve_and_demo_load_the_emulator(
    env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", LOADED_PACKAGES_SCRIPT, *args, "--out", "out"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )

    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == "0 cli"


def test_ctrl_c_during_slow_variations_exits_130_cleanly(
    emulator: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    emulator.config.latency = 60.0  # the answers never come in time; closing cuts them short
    (tmp_path / "cat.png").write_bytes(solid_png(64, 64))
    (tmp_path / "dog.png").write_bytes(solid_png(64, 64, (40, 40, 200, 255)))
    args = ["variations", "cat.png", "dog.png", "--max-retries", "0", "--out", "out"]
    process = start_cli(args, cwd=tmp_path, env=env)
    with reaped(process):
        wait_until(lambda: len(api_calls(emulator)) == 2)  # both requests are in flight
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=WAIT_TIMEOUT)

    assert process.returncode == 130
    assert stderr.splitlines() == ["interrupted"]  # no traceback, no unclosed-session noise
    assert stdout == ""
    assert not (tmp_path / "out").exists()


# -- Azure OpenAI and proxies (more in test_cli_network.py) -------------------------------


def test_azure_generate_in_a_child_is_clean(emulator: Emulator, tmp_path: Path) -> None:
    """As a user runs it: the Azure options, the key from the environment, stderr empty."""
    azure_key = "azure-cli-child-0123456789abcdef"
    emulator.config = attrs.evolve(
        emulator.config,
        api_keys=frozenset({azure_key}),
        azure_deployments={"images": "gpt-image-1"},
    )
    env = cli_env(None, api_key=None) | {"AZURE_OPENAI_API_KEY": azure_key}
    azure = ["--azure-endpoint", emulator.azure_endpoint, "--azure-deployment", "images"]
    args = ["generate", "a fox", *azure, "--api-version", "2025-04-01-preview", "--out", "out"]

    result = run_cli(args, cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [str(Path("out", "a-fox-1.png"))]
    [call] = api_calls(emulator)
    assert call.path == "/openai/deployments/images/images/generations"
    assert (call.api_version, call.status) == ("2025-04-01-preview", 200)
    assert "api-key" in call.headers


def test_a_missing_ca_bundle_in_a_child_is_a_usage_error(tmp_path: Path) -> None:
    args = ["generate", "a fox", "--ca-bundle", "missing.pem"]
    result = run_cli(args, cwd=tmp_path, env=cli_env(None))

    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(
        "error: argument --ca-bundle: missing.pem: no such file"
    )
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# -- version and help ----------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    result = run_cli(["--version"], cwd=tmp_path, env=cli_env(None, api_key=None))

    assert result.returncode == 0
    assert result.stdout.strip() == f"images-async {__version__}"


@pytest.mark.parametrize(
    "command", ["", "generate", "edit", "variations", "batch", "serve", "demo"]
)
def test_help(tmp_path: Path, command: str) -> None:
    args = [command, "--help"] if command else ["--help"]
    result = run_cli(args, cwd=tmp_path, env=cli_env(None, api_key=None))

    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith(f"usage: images-async {command}".rstrip())
