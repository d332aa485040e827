"""The demo's contact sheet: every picture of the tour, captioned, in one PNG.

This module owns the sheet's layout (:class:`SheetLayout`, arithmetic only: a title line,
then one section per step of the tour, each a heading over rows of tiles) and its drawing
with Pillow (:func:`contact_sheet`): each picture scaled into a square tile over a caption
band that says which call made it (:class:`Tile`) and what it asked for. The tour itself is
:mod:`.demo`'s; this module only draws what it is given.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TypeAlias

import attrs
from PIL import Image, ImageDraw, ImageFont

# The contact sheet's geometry, in pixels: each tile is a square picture over a caption band.
SHEET_COLUMNS = 8
TILE_EDGE = 192
GAP = 8
CAPTION_HEIGHT = 40
HEADING_HEIGHT = 32
TITLE_HEIGHT = 44
CELL_HEIGHT = TILE_EDGE + CAPTION_HEIGHT + GAP
# Sizes of Pillow's bundled font, chosen to stay legible when a page shrinks the sheet.
TITLE_FONT_SIZE = 22
HEADING_FONT_SIZE = 17
CAPTION_FONT_SIZE = 14
CAPTION_PADDING = 6
#: From the top of one caption line to the next.
CAPTION_LINE = CAPTION_FONT_SIZE + 4
ELLIPSIS = "…"
BACKGROUND = (28, 28, 32)
CAPTION_BAND = (44, 44, 52)
TITLE_INK = (245, 245, 245)
HEADING_INK = (150, 200, 255)
CALL_INK = (235, 235, 235)
DETAIL_INK = (170, 170, 180)

Box = tuple[int, int, int, int]
_Font: TypeAlias = ImageFont.FreeTypeFont | ImageFont.ImageFont


@attrs.frozen(kw_only=True)
class Tile:
    """One picture of the tour, and the call that made it."""

    picture: bytes
    call: str
    """The method and its key options, e.g. ``generate · gpt-image-1``."""
    detail: str = ""
    """What it was asked for, e.g. the prompt in quotes."""


@attrs.frozen(kw_only=True)
class Section:
    """A step of the tour: a heading over its tiles."""

    heading: str
    tiles: tuple[Tile, ...]


@attrs.frozen
class SheetLayout:
    """Where a contact sheet puts everything: arithmetic only, no pixels.

    A title line across the top, then each section: its heading, then its tiles in rows of
    ``columns``. A section starts on a new row, so the sheet reads in the tour's order. The
    sheet is as wide as its widest section needs, up to ``columns`` tiles.
    """

    section_sizes: tuple[int, ...]
    """How many tiles each section holds, in order."""
    columns: int = SHEET_COLUMNS

    @property
    def used_columns(self) -> int:
        """The tiles across the sheet: the widest section's, up to ``columns``."""
        return max(1, min(self.columns, max(self.section_sizes, default=1)))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the sheet."""
        width = GAP + self.used_columns * (TILE_EDGE + GAP)
        return width, self.section_top(len(self.section_sizes))

    def section_top(self, section: int) -> int:
        """The top of a section's heading (of ``len(section_sizes)``: the sheet's bottom)."""
        rows = sum(-(-count // self.used_columns) for count in self.section_sizes[:section])
        return TITLE_HEIGHT + section * HEADING_HEIGHT + rows * CELL_HEIGHT

    def tile_box(self, section: int, index: int) -> Box:
        """(left, top, right, bottom) of a tile's picture."""
        row, column = divmod(index, self.used_columns)
        left = GAP + column * (TILE_EDGE + GAP)
        top = self.section_top(section) + HEADING_HEIGHT + row * CELL_HEIGHT
        return left, top, left + TILE_EDGE, top + TILE_EDGE

    def caption_box(self, section: int, index: int) -> Box:
        """(left, top, right, bottom) of the band under a tile's picture."""
        left, _, right, bottom = self.tile_box(section, index)
        return left, bottom, right, bottom + CAPTION_HEIGHT


def _font(size: int) -> _Font:
    return ImageFont.load_default(size=size)


def fitted(text: str, font: _Font, width: int) -> str:
    """``text``, cut to the longest start that fits ``width`` pixels with an ellipsis after
    it (or whole when it fits)."""
    if font.getlength(text) <= width:
        return text
    shortest, longest = 0, len(text)  # the longest start known to fit, and one that does not
    while longest - shortest > 1:
        middle = (shortest + longest) // 2
        if font.getlength(text[:middle].rstrip() + ELLIPSIS) <= width:
            shortest = middle
        else:
            longest = middle
    return text[:shortest].rstrip() + ELLIPSIS


def _thumbnail(picture: bytes) -> Image.Image:
    """The picture scaled into a tile, centred on the sheet's background (transparent areas
    show the background)."""
    image: Image.Image = Image.open(io.BytesIO(picture))
    if image.mode not in ("RGB", "RGBA"):  # converted before scaling, which they would spoil
        image = image.convert("RGBA")
    scale = TILE_EDGE / max(image.size)
    fitting = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image = image.resize(fitting, reducing_gap=2.0)  # shrinks in steps: fast, still smooth
    tile = Image.new("RGB", (TILE_EDGE, TILE_EDGE), BACKGROUND)
    offset = ((TILE_EDGE - image.width) // 2, (TILE_EDGE - image.height) // 2)
    tile.paste(image, offset, image if image.mode == "RGBA" else None)
    return tile


def _caption(draw: ImageDraw.ImageDraw, band: Box, tile: Tile, font: _Font) -> None:
    """The band under a tile: the call on one line, what it asked for on the next."""
    draw.rectangle(band, CAPTION_BAND)
    x, y = band[0] + CAPTION_PADDING, band[1] + CAPTION_PADDING // 2
    width = band[2] - band[0] - 2 * CAPTION_PADDING
    draw.text((x, y), fitted(tile.call, font, width), CALL_INK, font)
    draw.text((x, y + CAPTION_LINE), fitted(tile.detail, font, width), DETAIL_INK, font)


def contact_sheet(title: str, sections: Sequence[Section]) -> bytes:
    """One PNG: ``title``, then every section's heading and captioned tiles (empty sections
    left out)."""
    sections = [section for section in sections if section.tiles]
    layout = SheetLayout(tuple(len(section.tiles) for section in sections))
    sheet = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    text_width = layout.size[0] - 2 * GAP
    title_font = _font(TITLE_FONT_SIZE)
    draw.text((GAP, GAP), fitted(title, title_font, text_width), TITLE_INK, title_font)
    heading_font, caption_font = _font(HEADING_FONT_SIZE), _font(CAPTION_FONT_SIZE)
    for number, section in enumerate(sections):
        heading = fitted(section.heading, heading_font, text_width)
        draw.text((GAP, layout.section_top(number) + GAP), heading, HEADING_INK, heading_font)
        for index, tile in enumerate(section.tiles):
            left, top, _, _ = layout.tile_box(number, index)
            sheet.paste(_thumbnail(tile.picture), (left, top))
            _caption(draw, layout.caption_box(number, index), tile, caption_font)
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG")
    return buffer.getvalue()
