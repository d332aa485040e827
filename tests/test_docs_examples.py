"""Every example in the documentation runs, as a user would run it, against the emulator.

Each ```` ```python ```` block of ``docs/*.md`` is a complete program: it runs in a
subprocess of its own, with the environment of a user whose ``OPENAI_BASE_URL`` points at an
emulator (served once for this module, on a thread) and whose ``COMPANY_PROXY_URL`` (the
proxies page's own setting) names a forward proxy to that emulator. The blocks of one page
run in order in one directory, which starts with the sample files the pages use
(``otter.png``, ``mask.png``...), so a block may open a file an earlier block wrote. A
block fails its test when it exits non-zero, runs longer than a minute, writes to stderr
without the page saying it may, or prints other than the ``output`` block after it shows.
Markers (see
:mod:`plugins.doc_examples`) turn a block into a pytest module, a ```` ```bash ```` block
into a shell script that runs, or skip it, with a reason.

Each block is its own test, named by its page and line: ``pytest -k "usage.md:42"``. Run
alone, a block first runs the blocks before it on its page, so it finds what they wrote.

Pages that describe the code in detail are also checked against it: the command-line page
lists exactly the options ``images-async COMMAND --help`` shows, and the errors page places
every public exception in its tree, under the classes it derives from.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from plugins.doc_examples import (
    DOCS,
    Block,
    Marker,
    page_blocks,
    pages,
    parse_marker,
    runnable_blocks,
    sample_files,
)
from plugins.forward_proxy import ForwardProxy, in_background
from yarl import URL

import images_async
from images_async.testing import Emulator, run_emulator_in_thread

#: Seconds one block may run.
BLOCK_TIMEOUT = 60.0
API_KEY = "sk-docs-example-key-0000"
AZURE_API_KEY = "azure-docs-example-key"
API_VERSION = "2025-04-01-preview"
#: The variable the proxies page reads its proxy's URL from (a setting of the user's program,
#: not one images-async reads).
PROXY_SETTING = "COMPANY_PROXY_URL"

#: Variables of the test's own environment a user's example must not inherit.
DROPPED_PREFIXES = ("OPENAI_", "AZURE_OPENAI_", "PYTEST_", "PYTHONWARNINGS", "COV_")
PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy"})


@attrs.define
class PageDirectory:
    """The directory the blocks of one page share, and which of them already ran there."""

    path: Path
    ran: set[int] = attrs.field(factory=set)


@attrs.define
class Workspace:
    """The environment the examples run in, the proxy it names, and one directory per page."""

    environment: dict[str, str]
    root: Path
    proxy: ForwardProxy
    directories: dict[str, PageDirectory] = attrs.field(factory=dict)

    def directory(self, page: str) -> PageDirectory:
        """The page's directory, made with the sample files on first use."""
        if page not in self.directories:
            path = self.root / page.removesuffix(".md")
            path.mkdir()
            for name, content in sample_files().items():
                (path / name).write_bytes(content)
            self.directories[page] = PageDirectory(path)
        return self.directories[page]


def user_environment(base_url: str, azure_endpoint: str, proxy_url: str) -> dict[str, str]:
    """This process's environment without API, proxy or pytest settings, plus the example
    settings: the key, the emulator as the API (and as Azure), the proxies page's proxy, the
    venv's tools on PATH."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(DROPPED_PREFIXES) and name.lower() not in PROXY_VARIABLES
    }
    environment.update(
        OPENAI_API_KEY=API_KEY,
        OPENAI_BASE_URL=base_url,
        AZURE_OPENAI_ENDPOINT=azure_endpoint,
        AZURE_OPENAI_API_KEY=AZURE_API_KEY,
        OPENAI_API_VERSION=API_VERSION,
        PATH=os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")]),
    )
    environment[PROXY_SETTING] = proxy_url
    return environment


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One emulator for the whole module, a forward proxy to it, and the pages' directories."""
    emulator = Emulator()
    with run_emulator_in_thread(emulator) as base_url:
        port = URL(base_url).port
        assert port is not None
        with in_background(ForwardProxy(port)) as proxy:
            environment = user_environment(base_url, emulator.azure_endpoint, proxy.url)
            yield Workspace(environment, tmp_path_factory.mktemp("docs-examples"), proxy)


def command(block: Block, directory: Path, scripts: Path) -> list[str]:
    """The command that runs ``block`` in ``directory`` (writing what it needs first)."""
    if block.mode == "shell":
        return ["bash", "-euo", "pipefail", "-c", block.code]
    if block.mode == "pytest":
        (directory / "test_example.py").write_text(block.code, encoding="utf-8")
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"]
    # Padded to its place on the page, so a traceback names the page's own line numbers.
    script = scripts / f"{block.page.removesuffix('.md')}-{block.line}.py"
    script.write_text("\n" * block.line + block.code, encoding="utf-8")
    return [sys.executable, str(script)]


def run(block: Block, workspace: Workspace) -> subprocess.CompletedProcess[str]:
    """Run ``block`` in its page's directory; the whole process group dies on timeout."""
    page = workspace.directory(block.page)
    page.ran.add(block.line)
    scripts = workspace.root / "scripts"
    scripts.mkdir(exist_ok=True)
    environment = dict(workspace.environment)
    if block.mode == "shell" and not block.azure:
        del environment["AZURE_OPENAI_ENDPOINT"]  # it would send the command line to Azure
    process = subprocess.Popen(
        command(block, page.path, scripts),
        cwd=page.path,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own: killing it ends what the block started
    )
    try:
        stdout, stderr = process.communicate(timeout=BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired:
        stdout, stderr = _kill(process)
        stderr += f"\n[timed out after {BLOCK_TIMEOUT:.0f} s]"
        return subprocess.CompletedProcess(process.args, -9, stdout, stderr)
    finally:
        _kill_group(process)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _kill(process: subprocess.Popen[str]) -> tuple[str, str]:
    _kill_group(process)
    stdout, stderr = process.communicate(timeout=BLOCK_TIMEOUT)
    return stdout, stderr


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group already ended
        os.killpg(process.pid, signal.SIGKILL)


def failure(block: Block, result: subprocess.CompletedProcess[str]) -> str | None:
    """Why ``result`` fails ``block``, or None when it passes."""
    expected = block.expected_output
    if expected is not None and result.returncode == 0 and result.stdout != expected:
        return (
            f"{block.test_id} ({block.mode}) printed other output than the page shows\n"
            f"--- the page ---\n{expected}--- printed ---\n{result.stdout}"
        )
    if result.returncode == 0 and (block.stderr_ok or not result.stderr):
        return None
    why = f"exit status {result.returncode}" if result.returncode else "it wrote to stderr"
    return (
        f"{block.test_id} ({block.mode}) failed: {why}\n"
        f"--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}"
    )


BLOCKS = runnable_blocks()


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(
            block,
            id=block.test_id,
            marks=[pytest.mark.skip(reason=block.skip_reason)] if block.skip_reason else [],
        )
        for block in BLOCKS
    ],
)
def test_example_runs(block: Block, workspace: Workspace) -> None:
    page = workspace.directory(block.page)
    earlier = [
        other
        for other in BLOCKS
        if other.page == block.page and other.line < block.line and not other.skip_reason
    ]
    for other in earlier:
        if other.line not in page.ran:  # this block was selected alone: set its page up
            problem = failure(other, run(other, workspace))
            if problem is not None:
                pytest.fail(f"an earlier block of the page failed:\n{problem}", pytrace=False)

    problem = failure(block, run(block, workspace))

    if problem is not None:
        pytest.fail(problem, pytrace=False)


def test_the_proxy_example_goes_through_the_proxy(workspace: Workspace) -> None:
    [block] = [b for b in BLOCKS if b.page == "proxies.md" and PROXY_SETTING in b.code]
    before = len(workspace.proxy.requests)

    problem = failure(block, run(block, workspace))

    assert problem is None
    # Its one call, a generation answered inline (saving it fetches nothing).
    assert [r.method for r in workspace.proxy.requests[before:]] == ["POST"]


# -- the markers ---------------------------------------------------------------------------


def test_markers_are_well_formed() -> None:
    problems: list[str] = []
    for page in pages():
        blocks, stray = page_blocks(page)
        problems += [
            f"{page.name}:{marker.line}: a marker must be on the line right before a fence"
            for marker in stray
        ]
        for block in blocks:
            if block.marker is not None:
                problems += [f"{block.test_id}: {p}" for p in marker_problems(block, block.marker)]
        shown = sum(block.shows_output for block in blocks)
        attached = sum(block.expected_output is not None for block in blocks)
        if shown != attached:
            problems.append(f"{page.name}: an output block follows no example (or a second one)")
    assert problems == []


def marker_problems(block: Block, marker: Marker) -> list[str]:
    """What is wrong with ``marker`` on ``block``: malformed, or not for this kind of block."""
    problems = list(marker.problems)
    if "pytest" in marker.kinds and block.language != "python":
        problems.append("'pytest' marks a python block")
    if "shell" in marker.kinds and block.language != "bash":
        problems.append("'shell' marks a bash block")
    if "azure" in marker.kinds and "shell" not in marker.kinds:
        problems.append("'azure' goes with 'shell' (python blocks always see the Azure settings)")
    if "output" in marker.kinds and (block.language != "text" or marker.kinds != {"output"}):
        problems.append("'output' marks a text block, alone")
    if block.mode is None and (marker.kinds - {"output"} or marker.not_run_reason):
        problems.append(f"a {block.language or 'plain'} block never runs: it takes no marker")
    return problems


def test_every_page_with_python_examples_runs_one() -> None:
    pages_with_python = {
        page.name for page in pages() if any(b.language == "python" for b in page_blocks(page)[0])
    }
    pages_running_one = {block.page for block in BLOCKS if not block.skip_reason}
    assert sorted(pages_with_python - pages_running_one) == []


@pytest.mark.parametrize(
    ("comment", "problem"),
    [
        ("<!-- example: shel -->", "unknown marker 'shel'"),
        ("<!-- example: not run -->", "'not run' needs a reason"),
        ("<!-- example: shell, not run: -->", "'not run' needs a reason"),
        ("<!-- example: pytest shell -->", "unknown marker 'pytest shell'"),
        ("<!-- example: -->", "no marker"),
    ],
)
def test_malformed_markers_are_reported(comment: str, problem: str) -> None:
    marker = parse_marker(7, comment)

    assert marker is not None
    assert [p for p in marker.problems if p.startswith(problem)] != []


def test_markers_are_read() -> None:
    marker = parse_marker(3, "<!-- example: shell, stderr-ok -->")
    skipped = parse_marker(4, "<!-- example: not run — signs in, so it needs an account -->")

    assert marker is not None
    assert marker.kinds == {"shell", "stderr-ok"}
    assert marker.problems == ()
    assert skipped is not None
    assert skipped.not_run_reason == "signs in, so it needs an account"
    assert parse_marker(5, "<!-- a comment -->") is None


def test_blocks_are_found_with_their_lines_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n<!-- example: stderr-ok -->\n```python\nprint(1)\n```\n\n"
        "````markdown\n```python\nnot a block\n```\n````\n<!-- example: shell -->\n\n"
        "```bash\necho hi\n```\n\nIt prints:\n\n<!-- example: output -->\n```text\n1\n```\n",
        encoding="utf-8",
    )

    blocks, stray = page_blocks(page)

    assert [(b.test_id, b.language, b.code, b.mode) for b in blocks] == [
        ("page.md:4", "python", "print(1)\n", "script"),
        ("page.md:8", "markdown", "```python\nnot a block\n```\n", None),
        ("page.md:15", "bash", "echo hi\n", None),
        ("page.md:22", "text", "1\n", None),
    ]
    assert blocks[0].stderr_ok
    assert blocks[0].expected_output is None  # other blocks stand between it and the output
    assert [marker.line for marker in stray] == [13]


def test_an_output_block_shows_only_the_example_right_before_it(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nprint(1)\n```\n\n```text\nnot run\n```\n\n"
        "<!-- example: output -->\n```text\n1\n```\n\n"
        "<!-- example: not run — needs an account -->\n```python\nprint(2)\n```\n\n"
        "<!-- example: output -->\n```text\n2\n```\n\n"
        "```python\nprint(3)\n```\n\n<!-- example: output -->\n```text\n3\n```\n",
        encoding="utf-8",
    )

    blocks, _ = page_blocks(page)

    assert [(b.line, b.expected_output) for b in blocks if b.mode] == [
        (1, None),  # a plain text block stands between it and the output block
        (15, None),  # skipped: what the page shows would never be checked
        (24, "3\n"),
    ]


def test_output_other_than_the_page_shows_fails_the_example() -> None:
    [block] = [b for b in BLOCKS if b.expected_output is not None][:1]
    assert block.expected_output is not None
    printed = subprocess.CompletedProcess(["python"], 0, block.expected_output + "more\n", "")

    same = subprocess.CompletedProcess(["python"], 0, block.expected_output, "")

    assert failure(block, same) is None
    assert failure(block, printed) is not None


# -- pages that must follow the code -------------------------------------------------------

#: The commands that call the API: their page sections share "Options of every API command".
API_COMMANDS = frozenset({"generate", "edit", "variations", "batch"})
COMMON_OPTIONS_HEADING = "Options of every API command"
#: An option as written: ``-n``, ``--max-retries``; not a hyphen inside a word or a name.
OPTION = re.compile(r"(?<![^\s\[(,])--?[a-z][a-z0-9-]*")
CODE_SPAN = re.compile(r"`([^`\n]+)`")


def help_text(*arguments: str) -> str:
    """What ``images-async ARGUMENTS --help`` prints."""
    result = subprocess.run(
        [sys.executable, "-m", "images_async", *arguments, "--help"],
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
        check=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    return result.stdout


def page_sections(page: Path) -> dict[str, str]:
    """The text under each ``## heading`` of ``page`` (subsections included), fenced blocks
    left out."""
    blocks, _ = page_blocks(page)
    lines = page.read_text(encoding="utf-8").splitlines()
    for block in blocks:  # blank out fenced blocks: examples do not document options
        end = block.line + block.code.count("\n")
        lines[block.line - 1 : end + 1] = [""] * (end + 2 - block.line)
    sections: dict[str, str] = {}
    heading = ""
    for line in lines:
        if line.startswith("## "):
            heading = line.removeprefix("## ").strip()
        sections[heading] = sections.get(heading, "") + line + "\n"
    return sections


def documented_options(text: str) -> set[str]:
    """The options named in the code spans of ``text``."""
    return {option for span in CODE_SPAN.findall(text) for option in OPTION.findall(span)}


def test_cli_page_has_a_section_per_command() -> None:
    commands = re.findall(r"^ {4}(\w+)", help_text(), flags=re.MULTILINE)
    sections = page_sections(DOCS / "cli.md")

    assert len(commands) >= 6
    assert sorted(set(commands) - set(sections)) == []


@pytest.mark.parametrize("command", ["generate", "edit", "variations", "batch", "serve", "demo"])
def test_cli_page_lists_every_option_of(command: str) -> None:
    text = help_text(command)
    usage = text.split("\n\n", 1)[0]
    sections = page_sections(DOCS / "cli.md")
    page = documented_options(sections[command])
    if command in API_COMMANDS:
        page |= documented_options(sections[COMMON_OPTIONS_HEADING])

    assert sorted(set(OPTION.findall(usage)) - {"-h"} - page) == []  # every option documented
    assert sorted(page - set(OPTION.findall(text))) == []  # and no option the command lacks


def test_errors_page_places_every_exception_in_the_tree() -> None:
    exceptions = [
        name
        for name in images_async.__all__
        if isinstance(value := getattr(images_async, name), type)
        and issubclass(value, Exception)
        and not issubclass(value, Warning)
    ]
    [tree] = [b.code for b in page_blocks(DOCS / "errors.md")[0] if "ImagesError\n" in b.code]
    # Each entry's first name: "│   ├── InvalidFileError  ..." (not the "(also ValueError)").
    in_tree = set(re.findall(r"^[│ ]*(?:[├└]── )?(\w+Error)\b", tree, flags=re.MULTILINE))

    assert len(exceptions) >= 25
    assert sorted(set(exceptions) - in_tree) == []
    assert sorted(in_tree - set(exceptions)) == []


#: One entry of the errors page's tree: its indent, its name, and the builtin it also is.
TREE_ENTRY = re.compile(
    r"^(?P<indent>[│ ]*)(?P<branch>[├└]── )?(?P<name>\w+)(?: \(also (?P<also>\w+)\))?"
)


def test_errors_page_tree_shows_each_exceptions_bases() -> None:
    [tree] = [b.code for b in page_blocks(DOCS / "errors.md")[0] if "ImagesError\n" in b.code]
    ancestors: list[str] = []
    wrong: list[str] = []
    for line in tree.splitlines():
        entry = TREE_ENTRY.match(line)
        assert entry is not None, line
        depth = len(entry["indent"]) // 4 + (entry["branch"] is not None)
        ancestors = ancestors[:depth]
        parent = ancestors[-1] if ancestors else "Exception"
        shown = [parent, entry["also"]] if entry["also"] else [parent]
        bases = [base.__name__ for base in getattr(images_async, entry["name"]).__bases__]
        if bases != shown:
            wrong.append(f"{entry['name']}: the page shows {shown}, the class has {bases}")
        ancestors.append(entry["name"])

    assert wrong == []
