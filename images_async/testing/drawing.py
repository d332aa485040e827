"""Deterministic pictures for the emulator: patterns from a prompt, edits and variations.

This module owns every pixel the emulator draws. A picture is a pattern (stripes, checkers,
rings or gradients, sometimes with a disc on top) whose kind, palette and scale come from a
hash of the prompt and the image's index, so the same request always gives the same bytes
and different prompts give visibly different pictures. Edits repaint an uploaded image,
variations transform it, partial images are coarse mosaics of the final one.

Speed comes from never touching pixels one by one in Python: a row is assembled from runs
of one colour (``colour * length``), identical rows are shared, and per-row arithmetic on
whole rows uses big integers (:mod:`._row_arithmetic`). Reading and writing PNG files is
:mod:`images_async.testing.png_codec`'s business.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import itertools
import math
from collections.abc import Sequence

import attrs

from ._row_arithmetic import RowArithmetic, map_rows
from .png_codec import RGB, RGBA, Pixels, decode_png

__all__ = [
    "describe_picture",
    "edited_picture",
    "generated_picture",
    "partial_picture",
    "resized",
    "variation_picture",
]

_OPAQUE = 255
_KINDS = (
    "vertical stripes",
    "horizontal stripes",
    "diagonal stripes",
    "checkers",
    "concentric rings",
    "a horizontal gradient",
    "a vertical gradient",
    "a diagonal gradient",
)
_PATTERN_CACHE = 8
_PICTURE_CACHE = 32


# --- patterns -----------------------------------------------------------------------------


class _Bits:
    """Reads small numbers off a hash, in order."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._position = 0

    def byte(self) -> int:
        value = self._seed[self._position % len(self._seed)]
        self._position += 1
        return value

    def fraction(self) -> float:
        return self.byte() / 255.0


def _seed(prompt: str, index: int) -> bytes:
    return hashlib.sha512(f"{index}\0{prompt}".encode()).digest()


@attrs.frozen(kw_only=True)
class _Design:
    """What a seed says to draw."""

    kind: int
    palette: tuple[bytes, ...]
    """RGBA pixels, 2 to 4 of them."""
    unit_divisor: int
    direction: int
    centre: tuple[float, float]
    """As fractions of width and height."""
    disc: tuple[float, float, float] | None
    """Centre x, centre y and radius as fractions of the shorter edge, or no disc."""
    disc_colour: bytes


def _design(seed: bytes, transparent: bool) -> _Design:
    bits = _Bits(seed)
    kind = bits.byte() % len(_KINDS)
    count = 2 + bits.byte() % 3
    hue, saturation = bits.fraction(), 0.45 + 0.5 * bits.fraction()
    palette = []
    for number in range(count):
        value = 0.55 + 0.45 * bits.fraction()
        # Golden-ratio hue steps keep neighbouring colours apart.
        red, green, blue = colorsys.hsv_to_rgb((hue + number * 0.618) % 1.0, saturation, value)
        alpha = 0 if transparent and number == 0 else _OPAQUE
        palette.append(bytes((round(red * 255), round(green * 255), round(blue * 255), alpha)))
    unit_divisor = 4 + bits.byte() % 13
    direction = 1 if bits.byte() % 2 else -1
    centre = (0.2 + 0.6 * bits.fraction(), 0.2 + 0.6 * bits.fraction())
    has_disc = bits.byte() % 3 == 0 and _KINDS[kind] != "concentric rings"
    disc = (
        (0.25 + 0.5 * bits.fraction(), 0.25 + 0.5 * bits.fraction(), 0.1 + 0.2 * bits.fraction())
        if has_disc
        else None
    )
    red, green, blue = colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.9, 1.0)
    disc_colour = bytes((round(red * 255), round(green * 255), round(blue * 255), _OPAQUE))
    return _Design(
        kind=kind,
        palette=tuple(palette),
        unit_divisor=unit_divisor,
        direction=direction,
        centre=centre,
        disc=disc,
        disc_colour=disc_colour,
    )


def _runs(palette: Sequence[bytes], start: int, length: int, unit: int) -> bytes:
    """``length`` pixels of stripes ``unit`` wide, cycling the palette from pixel ``start``."""
    parts = []
    position = start
    end = start + length
    while position < end:  # advances by at least one pixel per pass
        band = position // unit
        stop = min((band + 1) * unit, end)
        parts.append(palette[band % len(palette)] * (stop - position))
        position = stop
    return b"".join(parts)


def _lerp(first: bytes, second: bytes, t: float) -> bytes:
    return bytes(round(a + (b - a) * t) for a, b in zip(first, second, strict=True))


def _gradient(palette: Sequence[bytes], length: int) -> list[bytes]:
    """``length`` pixels running through the palette's colours in order."""
    spans = len(palette) - 1
    pixels = []
    for position in range(length):
        t = position / max(length - 1, 1) * spans
        span = min(int(t), spans - 1)
        pixels.append(_lerp(palette[span], palette[span + 1], t - span))
    return pixels


def _ring_row(design: _Design, width: int, dy: float, cx: float, unit: int) -> bytes:
    """One row of concentric rings: the ring index only changes at computable columns."""
    cuts = {0, width}
    farthest = math.hypot(max(cx, width - cx), abs(dy)) + unit
    ring = int(abs(dy) // unit) + 1
    while ring * unit <= farthest:  # ring grows by one per pass up to a bound
        reach = math.sqrt((ring * unit) ** 2 - dy * dy)
        for cut in (math.ceil(cx - 0.5 + reach), math.floor(cx - 0.5 - reach) + 1):
            if 0 < cut < width:
                cuts.add(cut)
        ring += 1
    edges = sorted(cuts)
    parts = []
    for start, stop in itertools.pairwise(edges):
        index = int(math.hypot(start + 0.5 - cx, dy) // unit)
        parts.append(design.palette[index % len(design.palette)] * (stop - start))
    return b"".join(parts)


def _base_rows(design: _Design, width: int, height: int) -> list[bytes]:
    kind = _KINDS[design.kind]
    palette = design.palette
    unit = max(2, min(width, height) // design.unit_divisor)
    if kind == "vertical stripes":
        return [_runs(palette, 0, width, unit)] * height
    if kind == "horizontal stripes":
        solid = [colour * width for colour in palette]
        return [solid[(y // unit) % len(solid)] for y in range(height)]
    if kind == "diagonal stripes":
        period = unit * len(palette)
        long_row = _runs(palette, 0, width + period, unit)
        offsets = [(design.direction * y) % period for y in range(height)]
        return [long_row[offset * RGBA : (offset + width) * RGBA] for offset in offsets]
    if kind == "checkers":
        first = _runs(palette, 0, width, unit)
        second = _runs(palette, unit, width, unit)
        return [first if (y // unit) % 2 == 0 else second for y in range(height)]
    if kind == "concentric rings":
        cx, cy = design.centre[0] * width, design.centre[1] * height
        return [_ring_row(design, width, y + 0.5 - cy, cx, unit) for y in range(height)]
    if kind == "a horizontal gradient":
        return [b"".join(_gradient(palette, width))] * height
    if kind == "a vertical gradient":
        return [colour * width for colour in _gradient(palette, height)]
    long_pixels = b"".join(_gradient(palette, width + height))
    starts = [y if design.direction > 0 else height - 1 - y for y in range(height)]
    return [long_pixels[start * RGBA : (start + width) * RGBA] for start in starts]


def _with_disc(design: _Design, rows: list[bytes], width: int, height: int) -> list[bytes]:
    if design.disc is None:
        return rows
    shorter = min(width, height)
    cx, cy, radius = design.disc[0] * width, design.disc[1] * height, design.disc[2] * shorter
    colour = design.disc_colour
    out = list(rows)
    for y in range(max(0, int(cy - radius)), min(height, int(cy + radius) + 1)):
        dy = y + 0.5 - cy
        if abs(dy) >= radius:
            continue
        reach = math.sqrt(radius * radius - dy * dy)
        left = max(0, math.ceil(cx - 0.5 - reach))
        right = min(width, math.floor(cx - 0.5 + reach) + 1)
        if left < right:
            row = out[y]
            out[y] = row[: left * RGBA] + colour * (right - left) + row[right * RGBA :]
    return out


@functools.lru_cache(maxsize=_PATTERN_CACHE)
def _pattern(seed: bytes, width: int, height: int, transparent: bool) -> Pixels:
    design = _design(seed, transparent)
    rows = _with_disc(design, _base_rows(design, width, height), width, height)
    return Pixels(width=width, height=height, channels=RGBA, rows=tuple(rows))


# --- public pictures ----------------------------------------------------------------------


@functools.lru_cache(maxsize=_PICTURE_CACHE)
def generated_picture(
    prompt: str, width: int, height: int, *, index: int = 0, transparent: bool = False
) -> bytes:
    """The PNG for ``prompt``'s image number ``index`` at ``width`` x ``height``.

    RGB, or RGBA with a fully transparent background colour when ``transparent``.
    """
    pixels = _pattern(_seed(prompt, index), width, height, transparent)
    return (pixels if transparent else pixels.to_rgb()).encode()


def describe_picture(prompt: str, *, index: int = 0) -> str:
    """A few words about what :func:`generated_picture` draws for this prompt."""
    design = _design(_seed(prompt, index), transparent=False)
    words = _KINDS[design.kind]
    if design.disc is not None:
        words += " under a bright disc"
    return f"{words} in {len(design.palette)} colours"


def resized(pixels: Pixels, width: int, height: int) -> Pixels:
    """Nearest-neighbour scaling; rows that come from one source row are shared."""
    if (pixels.width, pixels.height) == (width, height):
        return pixels
    bpp = pixels.channels
    columns = [x * pixels.width // width for x in range(width)]

    done: dict[int, bytes] = {}

    def scaled(source_y: int) -> bytes:
        if source_y not in done:
            row = pixels.rows[source_y]
            done[source_y] = b"".join(row[x * bpp : (x + 1) * bpp] for x in columns)
        return done[source_y]

    rows = tuple(scaled(y * pixels.height // height) for y in range(height))
    return Pixels(width=width, height=height, channels=bpp, rows=rows)


def _decoded_or_none(data: bytes) -> Pixels | None:
    try:
        return decode_png(data)
    except ValueError:
        return None


def _transparency_selectors(source: Pixels) -> list[bytes] | None:
    """Per row, 0xFF x 4 where ``source`` is fully transparent; None if nothing is."""
    if not source.has_alpha:
        return None
    alpha_only = bytes([0xFF]) + bytes(255)  # alpha 0 -> 0xFF, any other alpha -> 0x00
    width = source.width
    selectors: list[bytes] = []
    anything = False
    for row in source.rows:
        alpha = row[source.channels - 1 :: source.channels].translate(alpha_only)
        if 0xFF in alpha:
            expanded = bytearray(width * RGBA)
            for channel in range(RGBA):
                expanded[channel::RGBA] = alpha
            selectors.append(bytes(expanded))
            anything = True
        else:
            selectors.append(b"")
    return selectors if anything else None


def edited_picture(
    image: bytes,
    prompt: str,
    width: int,
    height: int,
    *,
    mask: bytes | None = None,
    index: int = 0,
) -> bytes:
    """``image`` with its transparent area repainted with ``prompt``'s pattern.

    The area is where ``mask`` is fully transparent, or where the image itself is when there
    is no mask. With no transparent area at all, the pattern is blended over the whole
    image. An image this module cannot decode gives a fresh picture instead.
    """
    base = _decoded_or_none(image)
    if base is None:
        return generated_picture(f"{prompt}\0{hashlib.sha256(image).hexdigest()}", width, height)
    keep_alpha = base.has_alpha
    base = resized(base.to_rgba(), width, height)
    pattern = _pattern(_seed(prompt, index), width, height, False)
    area_source = _decoded_or_none(mask) if mask is not None else base
    if area_source is not None:
        area_source = resized(area_source, width, height)
    selectors = _transparency_selectors(area_source) if area_source is not None else None
    swar = RowArithmetic(width * RGBA)
    if selectors is None:
        rows = [swar.average(b, p) for b, p in zip(base.rows, pattern.rows, strict=True)]
    else:
        rows = [
            swar.select(p, b, s) if s else b
            for b, p, s in zip(base.rows, pattern.rows, selectors, strict=True)
        ]
    result = Pixels(width=width, height=height, channels=RGBA, rows=tuple(rows))
    return (result if keep_alpha else result.to_rgb()).encode()


def _mirrored(row: bytes) -> bytes:
    # Reversing the bytes reverses the pixels and, inside each pixel, the channels.
    backwards = row[::-1]
    out = bytearray(len(row))
    for channel in range(RGB):
        out[channel::RGB] = backwards[RGB - 1 - channel :: RGB]
    return bytes(out)


def _channels_rotated(row: bytes) -> bytes:
    out = bytearray(len(row))
    for channel in range(RGB):
        out[channel::RGB] = row[(channel + 1) % RGB :: RGB]
    return bytes(out)


def variation_picture(image: bytes, width: int, height: int, *, index: int = 0) -> bytes:
    """An RGB variation of ``image``: visibly the same picture, transformed.

    Variation 0 is mirrored left to right, 1 has its colour channels rotated (R<-G<-B),
    2 is flipped upside down, 3 is turned by 180 degrees with rotated channels; from 4 on,
    the same four transformations are also tinted with a colour of their own. An image this
    module cannot decode gives a fresh picture instead.
    """
    source = _decoded_or_none(image)
    if source is None:
        return generated_picture(hashlib.sha256(image).hexdigest(), width, height, index=index)
    pixels = resized(source.to_rgb(), width, height)
    rows = list(pixels.rows)
    transform = index % 4
    if transform in (0, 3):
        rows = list(map_rows(rows, _mirrored))
    if transform in (1, 3):
        rows = list(map_rows(rows, _channels_rotated))
    if transform in (2, 3):
        rows.reverse()
    if index >= 4:
        tint = _design(_seed("variation", index), False).palette[-1][:RGB] * width
        swar = RowArithmetic(width * RGB)
        rows = list(map_rows(rows, lambda row: swar.average(row, tint)))
    return Pixels(width=width, height=height, channels=RGB, rows=tuple(rows)).encode()


def partial_picture(final: bytes, index: int) -> bytes:
    """Partial image number ``index`` on the way to ``final``: a coarse mosaic of it.

    Blocks halve with each index, starting at a quarter of the shorter edge, so partial
    images sharpen as a stream goes on. Pictures this module cannot decode are returned
    unchanged.
    """
    pixels = _decoded_or_none(final)
    if pixels is None:
        return final
    block = max(2, min(pixels.width, pixels.height) // (4 * 2**index))
    bpp = pixels.channels
    width = pixels.width

    def coarse(row: bytes) -> bytes:
        samples = [row[x * bpp : (x + 1) * bpp] * block for x in range(0, width, block)]
        return b"".join(samples)[: width * bpp]

    rows: list[bytes] = []
    for y in range(pixels.height):
        top = y - y % block
        rows.append(rows[top] if top != y else coarse(pixels.rows[y]))
    return Pixels(width=width, height=pixels.height, channels=bpp, rows=tuple(rows)).encode()
