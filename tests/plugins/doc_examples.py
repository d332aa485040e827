"""The runnable examples of the documentation: finding them in ``docs/*.md``, reading their
markers, and the sample files they may open.

A block is a fenced code block with its page and the line of its opening fence. The
``<!-- example: ... -->`` comment on the line right before a fence says how it runs:

* ``pytest`` — a ```` ```python ```` block that is a test module, run by pytest;
* ``shell`` — a ```` ```bash ```` block run by bash (plain ``bash`` blocks are not run);
* ``stderr-ok`` — the block may write to stderr (its logging is the point);
* ``azure`` — a shell block that runs with ``AZURE_OPENAI_ENDPOINT`` set (see below);
* ``not run — REASON`` — skipped, and the reason is required;
* ``output`` — on a ```` ```text ```` block: what the example right before it prints,
  exactly, so a page never shows output the code no longer gives (after a block that does
  not run, it shows nothing checked, and the page is reported).

Several markers go in one comment, separated by commas (``<!-- example: shell, stderr-ok
-->``). Every other ```` ```python ```` block runs as a script.

Python blocks see both the OpenAI and the Azure settings (a client's class picks the API).
Shell blocks run as a user of the OpenAI API would, without ``AZURE_OPENAI_ENDPOINT``: the
command line calls Azure OpenAI whenever that variable is set, so a block meant for Azure
says so with the ``azure`` marker.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import attrs
from PIL import Image, ImageDraw

DOCS = Path(__file__).resolve().parents[2] / "docs"

#: The markers a comment may hold, besides ``not run — REASON``.
PLAIN_MARKERS = frozenset({"pytest", "shell", "stderr-ok", "azure", "output"})
NOT_RUN = re.compile(r"^not run\s*(?:—|-|:)\s*(?P<reason>\S.*)$")
MARKER_COMMENT = re.compile(r"^\s*<!--\s*example:(?P<body>.*?)-->\s*$")
#: A fence opening or closing: three or more backticks or tildes, then the info string.
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@attrs.frozen(kw_only=True)
class Marker:
    """What one ``<!-- example: ... -->`` comment says, and where it is."""

    line: int  #: the comment's line number (from 1)
    kinds: frozenset[str]  #: the plain markers it names
    not_run_reason: str | None  #: why the block is skipped, when it is
    problems: tuple[str, ...]  #: what is malformed in it (nothing when well formed)


@attrs.frozen(kw_only=True)
class Block:
    """One fenced code block of a page."""

    page: str  #: the page's file name, e.g. ``usage.md``
    line: int  #: the line of the opening fence (from 1)
    language: str  #: the first word of the info string (``python``, ``bash``, ``{toctree}``)
    code: str
    marker: Marker | None  #: the comment on the line right before the fence
    expected_output: str | None = None  #: its stdout, as an ``output`` block shows it

    @property
    def test_id(self) -> str:
        """How the block's test is named: ``page.md:LINE``."""
        return f"{self.page}:{self.line}"

    @property
    def mode(self) -> str | None:
        """How the block runs: ``script``, ``pytest``, ``shell``, or None (not run)."""
        kinds = self.marker.kinds if self.marker else frozenset()
        if self.language == "python":
            return "pytest" if "pytest" in kinds else "script"
        if self.language == "bash" and "shell" in kinds:
            return "shell"
        return None

    @property
    def skip_reason(self) -> str | None:
        """Why a block that would run is skipped (``not run — REASON``), or None."""
        return self.marker.not_run_reason if self.marker else None

    @property
    def shows_output(self) -> bool:
        """Whether this block is the expected output of the example before it."""
        return self.marker is not None and "output" in self.marker.kinds

    @property
    def azure(self) -> bool:
        """Whether a shell block runs with ``AZURE_OPENAI_ENDPOINT`` set."""
        return self.marker is not None and "azure" in self.marker.kinds

    @property
    def stderr_ok(self) -> bool:
        """Whether the block may write to stderr."""
        return self.marker is not None and "stderr-ok" in self.marker.kinds


def parse_marker(line_number: int, text: str) -> Marker | None:
    """The marker ``text`` holds, or None when it is no ``<!-- example: -->`` comment."""
    found = MARKER_COMMENT.match(text)
    if found is None:
        return None
    kinds: set[str] = set()
    reason: str | None = None
    problems: list[str] = []
    body = found["body"].strip()
    # A reason may hold commas: "not run" takes the rest of the comment.
    head, not_run_word, reason_text = body.partition("not run")
    parts = [part.strip() for part in head.split(",") if part.strip()]
    if not_run_word:
        parts.append(not_run_word + reason_text)
    for part in parts:
        not_run = NOT_RUN.match(part)
        if part in PLAIN_MARKERS:
            kinds.add(part)
        elif not_run is not None:
            reason = not_run["reason"].strip()
        elif part.startswith("not run"):
            problems.append("'not run' needs a reason: <!-- example: not run — REASON -->")
        else:
            problems.append(f"unknown marker {part!r}")
    if not parts:
        problems.append("no marker: <!-- example: pytest|shell|stderr-ok|azure|not run — ... -->")
    return Marker(
        line=line_number, kinds=frozenset(kinds), not_run_reason=reason, problems=tuple(problems)
    )


def page_blocks(page: Path) -> tuple[list[Block], list[Marker]]:
    """The fenced blocks of ``page``, and the markers that stand before no fence."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    stray: list[Marker] = []
    pending: Marker | None = None
    index = 0
    while index < len(lines):
        text = lines[index]
        opening = FENCE.match(text)
        if opening is None:
            if pending is not None:
                stray.append(pending)
            pending = parse_marker(index + 1, text)
            index += 1
            continue
        fence = opening["fence"]
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = index + 1
        while end < len(lines) and closing.match(lines[end]) is None:
            end += 1
        info = opening["info"].strip()
        blocks.append(
            Block(
                page=page.name,
                line=index + 1,
                language=info.split()[0] if info else "",
                code="".join(line + "\n" for line in lines[index + 1 : end]),
                marker=pending,
            )
        )
        pending = None
        index = end + 1
    if pending is not None:
        stray.append(pending)
    return _with_expected_outputs(blocks), stray


def _with_expected_outputs(blocks: list[Block]) -> list[Block]:
    """``blocks``, each example that runs given the ``output`` block right after it, if any.

    Only the very next block counts: an output block after a skipped example, or after a
    block that never runs, would show what no test checks."""
    for index in range(1, len(blocks)):
        example = blocks[index - 1]
        if blocks[index].shows_output and example.mode and example.skip_reason is None:
            blocks[index - 1] = attrs.evolve(example, expected_output=blocks[index].code)
    return blocks


def pages() -> list[Path]:
    """The documentation's Markdown pages, by name."""
    return sorted(DOCS.glob("*.md"))


def runnable_blocks() -> list[Block]:
    """Every block that runs (or is skipped with a reason), page by page, in page order."""
    return [block for page in pages() for block in page_blocks(page)[0] if block.mode]


# -- sample files --------------------------------------------------------------------------

#: Three lines in the command line's batch format: one per endpoint.
REQUESTS_JSONL = (
    {"prompt": "an otter reading a newspaper", "model": "gpt-image-1", "quality": "low"},
    {"endpoint": "edit", "image": "otter.png", "mask": "mask.png", "prompt": "add a top hat"},
    {"endpoint": "variation", "image": "square.png", "n": 2, "size": "256x256"},
)


def _encoded(picture: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, image_format)
    return buffer.getvalue()


def sample_files() -> dict[str, bytes]:
    """The files every page's directory starts with, by name."""
    mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    ImageDraw.Draw(mask).ellipse((256, 256, 768, 768), fill=(0, 0, 0, 0))
    hat = Image.new("RGBA", (1024, 1024), (0, 0, 0, 0))
    ImageDraw.Draw(hat).rectangle((352, 160, 672, 560), fill=(40, 30, 90, 255))
    lines = "".join(json.dumps(line) + "\n" for line in REQUESTS_JSONL)
    return {
        "otter.png": _encoded(Image.new("RGB", (1024, 1024), (110, 80, 50)), "PNG"),
        "hat.png": _encoded(hat, "PNG"),
        "mask.png": _encoded(mask, "PNG"),
        "square.png": _encoded(Image.new("RGB", (256, 256), (30, 120, 200)), "PNG"),
        "photo.jpg": _encoded(Image.new("RGB", (1024, 768), (200, 170, 90)), "JPEG"),
        "requests.jsonl": lines.encode(),
    }
