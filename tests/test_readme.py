"""README.md stays true: its first commands, the demo's contact sheet it shows, that its
examples compile, and that the async example runs as written against the emulator.

Code is compiled padded to its place in README.md, so a failure names the README's own line.
"""

from __future__ import annotations

import ast
import gc
import re
from pathlib import Path
from types import CodeType

import pytest
from PIL import Image

from images_async.cli.contact_sheet import SheetLayout
from images_async.testing import Emulator, run_emulator_in_thread

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(?P<language>[\w-]*)\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)
MAIN_JOB = 'python -m pip install ".[cli,emulator]" && python -m images_async demo'
TESTS = "python -m pip install nox && python -m nox"
#: A Markdown image: ``![alternative text](path)``.
IMAGE_LINK = re.compile(r"!\[(?P<text>[^\]]+)\]\((?P<path>[^)\s]+)\)")
#: The sections of the default demo run's contact sheet: single calls, variations, batch.
DEFAULT_DEMO_SECTIONS = (5, 32, 3)
#: Kept small enough for the repository and a page that loads quickly.
MAX_PICTURE_BYTES = 400_000


def code_blocks(language: str) -> list[tuple[int, str]]:
    """Every fenced block in ``language``: (line number of its first line, its code)."""
    text = README.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start("code")) + 1, match["code"])
        for match in FENCE.finditer(text)
        if match["language"] == language
    ]


def compiled(first_line: int, code: str) -> CodeType:
    """``code`` compiled as a snippet of README.md (top-level ``await`` allowed: the short
    snippets are written as if inside ``async def``)."""
    padded = "\n" * (first_line - 1) + code
    code_object: CodeType = compile(
        padded, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    return code_object


def test_first_bash_block_starts_with_the_main_job_and_the_tests() -> None:
    _, code = code_blocks("bash")[0]
    main_job, tests = code.splitlines()[:2]

    assert main_job.split("#", 1)[0].strip() == MAIN_JOB
    assert "main job" in main_job.split("#", 1)[1]
    assert tests.split("#", 1)[0].strip() == TESTS
    assert "tests" in tests.split("#", 1)[1]


def test_readme_shows_a_current_demo_contact_sheet() -> None:
    text = README.read_text(encoding="utf-8")
    intro_ends = text.index("\n## ")
    shown = [link for link in IMAGE_LINK.finditer(text) if "contact-sheet" in link["path"]]

    [link] = shown
    assert intro_ends < link.start() < text.index("\n## ", intro_ends + 1)  # right after it
    assert re.fullmatch(r"docs/images/demo-contact-sheet\.(png|jpg|webp)", link["path"])
    picture = README.parent / link["path"]
    assert picture.stat().st_size < MAX_PICTURE_BYTES
    with Image.open(picture) as sheet:
        # A sheet of today's layout: regenerate it from a default run when the layout changes.
        assert sheet.size == SheetLayout(DEFAULT_DEMO_SECTIONS).size


PYTHON_BLOCKS = code_blocks("python")


def test_readme_has_python_examples() -> None:
    assert len(PYTHON_BLOCKS) >= 3


@pytest.mark.parametrize(
    ("first_line", "code"), PYTHON_BLOCKS, ids=[f"line-{line}" for line, _ in PYTHON_BLOCKS]
)
def test_python_block_compiles(first_line: int, code: str) -> None:
    compiled(first_line, code)


def test_async_example_runs_against_the_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [(first_line, code)] = [block for block in PYTHON_BLOCKS if "asyncio.run(main())" in block[1]]
    Image.new("RGBA", (256, 256), (120, 30, 160, 255)).save(tmp_path / "hat.png", "PNG")
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    emulator = Emulator()

    with run_emulator_in_thread(emulator) as base_url:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-test-0123456789abcdef")
        exec(compiled(first_line, code), {"__name__": "__main__"})
        gc.collect()  # settle what the example left behind while the filter above applies

    assert capsys.readouterr().out.splitlines() == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    with Image.open(tmp_path / "otter.png") as otter:
        assert otter.size == (1024, 1024)
    calls = [call for call in emulator.requests if call.method == "POST"]
    assert [call.path for call in calls] == [
        "/v1/images/generations",
        "/v1/images/edits",
        "/v1/images/variations",
        "/v1/images/generations",
    ]
    assert [(f.field, f.filename) for f in calls[1].files] == [
        ("image[]", "otter.png"),
        ("image[]", "hat.png"),
    ]
    assert calls[2].params == {"n": "3"}
