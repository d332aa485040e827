"""``images-async demo``: the offline tour as a user runs it, and the contact sheet it draws.

The tour runs as ``python -m images_async demo`` in a subprocess, with ``-W error``, no key
and a base URL nobody answers (which it must not use): a clean run leaves stderr empty. The
sheet's layout and captions are also checked in-process, from pictures made here with
Pillow.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageFont, ImageStat

from images_async.cli.contact_sheet import (
    BACKGROUND,
    CAPTION_FONT_SIZE,
    SHEET_COLUMNS,
    TILE_EDGE,
    Section,
    SheetLayout,
    Tile,
    contact_sheet,
    fitted,
)
from images_async.cli.demo import INSTALL_HINT

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Upper bound of one run, however slow the machine (a normal one takes about a second).
CALL_TIMEOUT = 60.0
#: Settings of the machine running the tests that would send a child elsewhere.
FOREIGN_SETTINGS = ("OPENAI_", "AZURE_OPENAI_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
#: The tour's pictures before the variations, in the sheet's order.
SINGLE_CALLS = [
    "1-generated",
    "2-edited",
    "3-stream-partial-1",
    "3-stream-partial-2",
    "3-stream-final",
]
OFFLOADED = ["5-offloaded-1", "5-offloaded-2", "5-offloaded-3"]

#: Run in a child: the command line with Pillow unimportable, as without the emulator extra.
WITHOUT_PILLOW = """
import sys
sys.modules["PIL"] = None  # makes `import PIL` fail as if it were not installed
from images_async.cli import main
sys.exit(main(sys.argv[1:]))
"""


def offline_env() -> dict[str, str]:
    """This environment without OPENAI_*, AZURE_OPENAI_* or proxies, with a base URL that
    nothing answers: the demo must use its own emulator."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(FOREIGN_SETTINGS)
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    return env


def run_demo(
    args: Sequence[str], cwd: Path, *, script: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``images-async demo ARGS`` in a child (bounded by ``CALL_TIMEOUT``); with ``script``,
    that script runs the command line instead of ``-m images_async``."""
    runner = ["-m", "images_async"] if script is None else ["-c", script]
    return subprocess.run(
        [sys.executable, "-W", "error", *runner, "demo", *args],
        cwd=cwd,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )


def opened(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image


def colours(image: Image.Image) -> int:
    """How many different colours ``image`` has (at most 4096 counted)."""
    found = image.getcolors(maxcolors=4096)
    return 4096 if found is None else len(found)


def solid_png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def sections(*counts: int) -> list[Section]:
    """Sections of ``counts`` tiles, each tile a solid picture with a caption of its own."""
    return [
        Section(
            heading=f"section {number}",
            tiles=tuple(
                Tile(
                    picture=solid_png((40 * number % 256, 7 * index % 256, 200)),
                    call=f"call {number}.{index}",
                    detail=f'"prompt {index}"',
                )
                for index in range(count)
            ),
        )
        for number, count in enumerate(counts)
    ]


def sheet_of(*counts: int) -> Image.Image:
    return Image.open(io.BytesIO(contact_sheet("a title", sections(*counts))))


# -- the tour, as a user runs it ---------------------------------------------------------


def test_demo_writes_pictures_and_a_captioned_contact_sheet(tmp_path: Path) -> None:
    result = run_demo(["--out", "tour", "--variations", "12"], tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = tmp_path / "tour"
    variations = [f"4-variation-{i:02d}" for i in range(1, 13)]
    stems = [*SINGLE_CALLS, *variations, *OFFLOADED]
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [f"{stem}.png" for stem in stems] + ["contact-sheet.png"]
    )
    pictures = [opened(out / f"{stem}.png") for stem in stems]
    assert pictures[0].size == (1024, 1024)
    assert [picture.size for picture in pictures[5:17]] == [(256, 256)] * 12
    assert [picture.size for picture in pictures[17:]] == [(1024, 1024)] * 3

    sheet = opened(out / "contact-sheet.png").convert("RGB")
    layout = SheetLayout((5, 12, 3))
    assert sheet.size == layout.size
    places = [
        (section, index) for section, count in enumerate((5, 12, 3)) for index in range(count)
    ]
    for picture, (section, index) in zip(pictures, places, strict=True):
        tile = sheet.crop(layout.tile_box(section, index))
        expected = picture.convert("RGB").resize((TILE_EDGE, TILE_EDGE))
        difference = ImageStat.Stat(ImageChops.difference(tile, expected)).mean
        assert max(difference) < 12, (section, index)  # the tour's pictures, in its order
    bands = [sheet.crop(layout.caption_box(section, index)) for section, index in places]
    assert all(colours(band) > 8 for band in bands)  # text is drawn on every band
    assert len({band.tobytes() for band in bands}) == len(bands)  # each says something else

    summary = result.stdout.splitlines()
    assert any("12 variations" in line for line in summary)
    assert any(
        line.startswith("offloaded    3 generations as 1 batch (completed)") for line in summary
    )
    assert summary[-1].startswith("done: ")
    assert str(Path("tour", "contact-sheet.png")) in summary[-1]


def test_demo_variations_all_differ(tmp_path: Path) -> None:
    result = run_demo(["--out", "tour", "--variations", "40"], tmp_path)

    assert result.returncode == 0, result.stderr
    variations = sorted((tmp_path / "tour").glob("4-variation-*.png"))
    assert len(variations) == 40
    assert len({path.read_bytes() for path in variations}) == 40


def test_demo_runs_go_to_fresh_numbered_directories(tmp_path: Path) -> None:
    (tmp_path / "images-async-demo").mkdir()
    (tmp_path / "images-async-demo" / "notes.txt").write_text("mine", encoding="utf-8")

    first = run_demo([], tmp_path)  # the README's command, as it is
    second = run_demo(["--variations", "2"], tmp_path)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    root = tmp_path / "images-async-demo"
    assert sorted(path.name for path in root.iterdir()) == ["notes.txt", "run-1", "run-2"]
    assert (root / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert len(list((root / "run-1").iterdir())) == 1 + 1 + 3 + 32 + 3 + 1
    assert len(list((root / "run-2").iterdir())) == 1 + 1 + 3 + 2 + 3 + 1
    assert str(Path("images-async-demo", "run-2", "contact-sheet.png")) in second.stdout
    # Two variations: the sheet is five tiles wide, as wide as its widest section.
    assert opened(root / "run-2" / "contact-sheet.png").size == SheetLayout((5, 2, 3)).size


def test_demo_refuses_an_out_that_holds_files(tmp_path: Path) -> None:
    (tmp_path / "tour").mkdir()
    (tmp_path / "tour" / "1-generated.png").write_bytes(b"mine")

    result = run_demo(["--out", "tour"], tmp_path)

    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("images-async: error: ")
    assert "tour" in line
    assert result.stdout == ""
    assert [path.name for path in (tmp_path / "tour").iterdir()] == ["1-generated.png"]
    assert (tmp_path / "tour" / "1-generated.png").read_bytes() == b"mine"


def test_demo_without_pillow_says_how_to_install_it(tmp_path: Path) -> None:
    result = run_demo(["--out", "tour"], tmp_path, script=WITHOUT_PILLOW)

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("images-async demo: error: ")
    assert line.endswith('pip install "images-async[cli,emulator]"')
    assert INSTALL_HINT in line
    assert result.stdout == ""
    assert not (tmp_path / "tour").exists()


# -- the contact sheet ---------------------------------------------------------------------


def test_sheet_grows_one_row_per_row_of_tiles() -> None:
    heights = {count: sheet_of(5, count).size[1] for count in (1, 8, 9, 16, 17)}

    assert SHEET_COLUMNS == 8
    assert heights[1] == heights[8] < heights[9] == heights[16] < heights[17]
    row = heights[9] - heights[8]
    assert heights[17] - heights[16] == row
    assert row > TILE_EDGE + CAPTION_FONT_SIZE  # a picture and its caption band


def test_sheet_is_as_wide_as_its_widest_section() -> None:
    widths = {counts: sheet_of(*counts).size[0] for counts in [(3,), (5, 3), (8,), (2, 30)]}

    assert widths[(3,)] < widths[(5, 3)] < widths[(8,)] == widths[(2, 30)]
    column = (widths[(5, 3)] - widths[(3,)]) // 2
    assert widths[(8,)] - widths[(5, 3)] == 3 * column
    assert column > TILE_EDGE


def test_sheet_size_follows_its_layout_and_leaves_out_empty_sections() -> None:
    assert sheet_of(5, 0, 3).size == sheet_of(5, 3).size == SheetLayout((5, 3)).size
    assert sheet_of(5, 3).size != sheet_of(5, 3, 1).size


def test_every_tile_gets_its_picture_and_a_caption() -> None:
    drawn = sections(5, 11)
    sheet = Image.open(io.BytesIO(contact_sheet("a title", drawn))).convert("RGB")
    layout = SheetLayout((5, 11))

    for number, section in enumerate(drawn):
        for index, tile in enumerate(section.tiles):
            picture_colour = Image.open(io.BytesIO(tile.picture)).getpixel((0, 0))
            tile_area = sheet.crop(layout.tile_box(number, index))
            assert tile_area.getcolors() == [(TILE_EDGE * TILE_EDGE, picture_colour)]
            assert colours(sheet.crop(layout.caption_box(number, index))) > 8


def test_a_caption_too_long_for_its_tile_ends_with_an_ellipsis() -> None:
    font = ImageFont.load_default(size=CAPTION_FONT_SIZE)
    prompt = '"a very long prompt about a lighthouse, a fox, and a balloon over the sea"'

    short = fitted('"a fox"', font, 180)
    cut = fitted(prompt, font, 180)

    assert short == '"a fox"'
    assert cut.endswith("…")
    assert prompt.startswith(cut[:-1])
    assert font.getlength(cut) <= 180
    # The longest start that fits: one more character (after the space cut) does not.
    assert font.getlength(prompt[: len(cut) + 1].rstrip() + "…") > 180


@pytest.mark.parametrize("size", [(64, 64), (300, 100), (100, 300)])
def test_pictures_of_any_shape_fit_their_tile(size: tuple[int, int]) -> None:
    tile = Tile(picture=solid_png((250, 10, 10), size), call="generate", detail="")
    sheet = Image.open(
        io.BytesIO(contact_sheet("t", [Section(heading="s", tiles=(tile,))]))
    ).convert("RGB")

    area = sheet.crop(SheetLayout((1,)).tile_box(0, 0))
    red = sum(count for count, colour in area.getcolors() or [] if colour == (250, 10, 10))
    scale = TILE_EDGE / max(size)
    assert abs(red - round(size[0] * scale) * round(size[1] * scale)) <= 2 * TILE_EDGE


def test_transparent_areas_show_the_sheet_background() -> None:
    picture = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    picture.paste((10, 250, 10, 255), (0, 0, 128, 256))  # the left half opaque green
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    tile = Tile(picture=buffer.getvalue(), call="generate", detail="background=transparent")
    sheet = Image.open(
        io.BytesIO(contact_sheet("t", [Section(heading="s", tiles=(tile,))]))
    ).convert("RGB")

    left, top, right, bottom = SheetLayout((1,)).tile_box(0, 0)
    middle = (left + right) // 2
    assert sheet.crop((left, top, middle - 2, bottom)).getcolors() == [
        ((middle - 2 - left) * TILE_EDGE, (10, 250, 10))
    ]
    assert sheet.crop((middle + 2, top, right, bottom)).getcolors() == [
        ((right - middle - 2) * TILE_EDGE, BACKGROUND)
    ]
