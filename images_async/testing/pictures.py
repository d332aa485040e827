"""The emulator's pictures: what a generated, edited or varied image shows.

This module owns every pixel the emulator draws, with Pillow, deterministically (the same
request always gives the same picture) and so that a person can tell what was asked:

* A generated picture is a composition derived from the prompt: a two-colour gradient
  background from the whole prompt, then one shape per significant word (its kind and
  colour from the word's hash, its place from the word's hash and the image's index),
  and the prompt itself in large type on a contrasting band at the bottom, with the
  image's number in a corner when a request asks for several. ``quality`` sets the detail:
  low draws at a quarter of the resolution and fewer shapes, medium at half.
* An edit repaints exactly the mask's fully transparent area (or, without a mask, the
  image's own) with the edit prompt's picture, drawn to fit the area's bounding box; every
  other pixel is the input's.
  With nothing transparent, the prompt's shapes and words are drawn over the input.
* A variation is the input transformed, a different transformation per index (mirror,
  hue shift, rotation, zoom, posterize...), numbered in a corner.
* Partial images are the final picture pixelated, finer with each index.

Pictures are Pillow images; :func:`encode_picture` writes one as the emulator answers it
(PNG, JPEG or WEBP, at a compression), so a test can build the bytes it expects.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import math
import re
import textwrap
from collections.abc import Callable, Sequence

import attrs

from ._image_codec import decode_upload, encode_picture
from ._pillow import Image, ImageDraw, ImageFont, ImageOps

__all__ = [
    "describe_picture",
    "edited_picture",
    "encode_picture",
    "generated_picture",
    "partial_pictures",
    "variation_picture",
]

RGB = tuple[int, int, int]

_STOP_WORDS = frozenset(
    ("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is"),
) | frozenset(("it", "its", "of", "on", "or", "over", "that", "the", "this", "to", "with"))
_SHAPES = ("circle", "square", "triangle", "diamond", "ring", "star", "bar")
#: Shapes drawn and the scale drawn at, per quality (auto draws like high).
_DETAIL = {"low": (4, 4), "medium": (7, 2), "high": (12, 1), "auto": (12, 1)}
_BAND_SHARE = 0.28  # of the height, for the prompt's words
_TEXT_SHARE = 0.1  # type size, of the shorter edge
_MIN_TYPE = 10
_MAX_LINES = 2


def _digest(*parts: object) -> bytes:
    # "surrogatepass": a prompt given straight to these functions may hold a lone surrogate.
    text = "\0".join(str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _colour(hue: float, saturation: float, value: float) -> RGB:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _luminance(colour: RGB) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's own scalable font (10.1+): no font file to find on the machine.
    return ImageFont.load_default(size=size)


# --- what a prompt says to draw ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Shape:
    word: str
    kind: str
    colour: RGB
    centre: tuple[float, float]
    """As fractions of the picture area's width and height."""
    radius: float
    """As a fraction of the shorter edge."""
    turn: int
    """Degrees, for shapes that have a direction."""


@attrs.frozen(kw_only=True)
class _Composition:
    top: RGB
    bottom: RGB
    shapes: tuple[_Shape, ...]
    text: str


def _significant_words(prompt: str) -> list[str]:
    words = re.findall(r"[^\W_]+", prompt.lower())
    chosen = [word for word in words if word not in _STOP_WORDS and len(word) > 2]
    unique = list(dict.fromkeys(chosen or words))
    return unique or [prompt or "nothing"]


def _composition(prompt: str, index: int, shape_count: int) -> _Composition:
    whole = _digest("prompt", prompt)
    hue = whole[0] / 255
    top = _colour(hue, 0.35 + whole[1] / 800, 0.75 + whole[2] / 1100)
    bottom = _colour(hue + 0.2 + whole[3] / 850, 0.55 + whole[4] / 800, 0.45 + whole[5] / 900)
    shapes = []
    for word in _significant_words(prompt)[:shape_count]:
        looks = _digest("word", word)
        place = _digest("place", word, index)
        shapes.append(
            _Shape(
                word=word,
                kind=_SHAPES[looks[0] % len(_SHAPES)],
                colour=_colour(looks[1] / 255, 0.6 + looks[2] / 700, 0.8 + looks[3] / 1300),
                centre=(0.12 + 0.76 * place[0] / 255, 0.15 + 0.7 * place[1] / 255),
                radius=0.08 + 0.1 * place[2] / 255,
                turn=place[3] * 360 // 256,
            )
        )
    text = " ".join(prompt.split()) or "(no prompt)"
    return _Composition(top=top, bottom=bottom, shapes=tuple(shapes), text=text)


def describe_picture(prompt: str, *, index: int = 0, quality: str = "high") -> str:
    """A few words about what :func:`generated_picture` draws for this prompt."""
    composition = _composition(prompt, index, _DETAIL.get(quality, _DETAIL["high"])[0])
    things = [f"a {shape.kind} for '{shape.word}'" for shape in composition.shapes]
    listed = ", ".join(things[:-1]) + (" and " if len(things) > 1 else "") + things[-1]
    return f"{listed} over a gradient, with the prompt written on a band"


# --- drawing -------------------------------------------------------------------------------


def _gradient(top: RGB, bottom: RGB, width: int, height: int) -> Image.Image:
    ramp = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    return Image.composite(
        Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), ramp
    )


def _polygon(kind: str, cx: float, cy: float, r: float, turn: int) -> list[tuple[float, float]]:
    if kind == "star":
        points = []
        for step in range(10):
            reach = r if step % 2 == 0 else r * 0.45
            angle = math.radians(turn + step * 36)
            points.append((cx + reach * math.sin(angle), cy - reach * math.cos(angle)))
        return points
    corners = {"triangle": 3, "diamond": 4}[kind]
    start = turn if kind == "triangle" else 0
    return [
        (
            cx + r * math.sin(math.radians(start + k * 360 / corners)),
            cy - r * math.cos(math.radians(start + k * 360 / corners)),
        )
        for k in range(corners)
    ]


def _rounded_rectangle(
    draw: ImageDraw.ImageDraw,
    box: tuple[float, float, float, float],
    *,
    radius: float,
    fill: tuple[int, ...],
    outline: tuple[int, ...] | None = None,
    width: int = 1,
) -> None:
    """``draw.rounded_rectangle``, or a plain rectangle where the box is too small to round:
    Pillow before 10.2 fails on a box narrower than its rounded corners and a pixel."""
    left, top, right, bottom = box
    if radius < 1 or min(right - left, bottom - top) < 2 * radius + 2:
        draw.rectangle(box, fill=fill, outline=outline, width=width)
        return
    draw.rounded_rectangle(box, radius=radius, fill=fill, outline=outline, width=width)


def _draw_shape(
    draw: ImageDraw.ImageDraw, shape: _Shape, area: tuple[int, int], outline: bool
) -> None:
    width, height = area
    cx, cy = shape.centre[0] * width, shape.centre[1] * height
    r = shape.radius * min(width, height)
    edge = max(1, round(r / 10)) if outline else 0
    ink = tuple(channel // 3 for channel in shape.colour)
    box = (cx - r, cy - r, cx + r, cy + r)
    fill = shape.colour
    if shape.kind == "circle":
        draw.ellipse(box, fill=fill, outline=ink if edge else None, width=edge)
    elif shape.kind == "square":
        _rounded_rectangle(
            draw, box, radius=r / 5, fill=fill, outline=ink if edge else None, width=edge
        )
    elif shape.kind == "ring":
        draw.ellipse(box, outline=fill, width=max(2, round(r / 3)))
    elif shape.kind == "bar":
        _rounded_rectangle(
            draw,
            (cx - r * 1.6, cy - r / 3, cx + r * 1.6, cy + r / 3),
            radius=r / 4,
            fill=fill,
            outline=ink if edge else None,
            width=edge,
        )
    else:
        draw.polygon(
            _polygon(shape.kind, cx, cy, r, shape.turn),
            fill=fill,
            outline=ink if edge else None,
            width=edge,
        )
    if outline and shape.kind in ("circle", "square"):
        # A highlight: the detail that only high quality has.
        light = tuple(min(255, channel + 70) for channel in shape.colour)
        draw.ellipse((cx - r / 2, cy - r / 2, cx - r / 6, cy - r / 6), fill=light)


def _wrapped(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float
) -> list[str]:
    """``text`` in lines no wider than ``width``, at most ``_MAX_LINES`` of them."""
    average = max(font.getlength("abcdefghij") / 10, 1.0)
    lines = textwrap.wrap(text, width=max(4, int(width / average)), break_long_words=True)
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], lines[_MAX_LINES - 1].rstrip(" .,") + "..."]
    return lines


def _draw_band(picture: Image.Image, text: str, dark: bool) -> None:
    """The prompt in large type on a band across the bottom, contrasting with the picture."""
    width, height = picture.size
    band_top = round(height * (1 - _BAND_SHARE))
    draw = ImageDraw.Draw(picture)
    band, ink = ((24, 24, 32), (255, 255, 255)) if dark else ((246, 244, 236), (20, 20, 28))
    draw.rectangle(
        (0, band_top, width, height), fill=band if picture.mode == "RGB" else (*band, 255)
    )
    size = max(_MIN_TYPE, round(min(width, height) * _TEXT_SHARE))
    font = _font(size)
    margin = max(2, size // 3)
    lines = _wrapped(text, font, width - 2 * margin)
    while size > _MIN_TYPE and len(lines) * size * 1.2 > height - band_top - margin:
        size = max(_MIN_TYPE, size * 4 // 5)
        font = _font(size)
        lines = _wrapped(text, font, width - 2 * margin)
    y = band_top + margin / 2
    for line in lines:
        draw.text((margin, y), line, font=font, fill=ink)
        y += size * 1.2


def _draw_badge(picture: Image.Image, label: str) -> None:
    """A small numbered tag in the top-right corner."""
    width, height = picture.size
    size = max(_MIN_TYPE, round(min(width, height) * 0.06))
    font = _font(size)
    draw = ImageDraw.Draw(picture)
    right = width - size // 3
    left = right - font.getlength(label) - size * 0.6
    box = (left, size // 3, right, size // 3 + size * 1.3)
    fill = (20, 20, 28) if picture.mode == "RGB" else (20, 20, 28, 255)
    _rounded_rectangle(draw, box, radius=size // 3, fill=fill)
    draw.text((left + size * 0.3, size // 3 + size * 0.12), label, font=font, fill=(255, 255, 255))


def _shapes_layer(
    composition: _Composition, base: Image.Image, size: tuple[int, int], scale: int
) -> Image.Image:
    """``base`` with the composition's shapes over its picture area (not the band), drawn at
    ``1 / scale`` of ``size`` and scaled up to it; ``base`` may already be that small."""
    width, height = size
    small_size = (max(1, width // scale), max(1, height // scale))
    small = base.copy() if base.size == small_size else base.resize(small_size)
    area = (small_size[0], max(1, round(height * (1 - _BAND_SHARE)) // scale))
    draw = ImageDraw.Draw(small)
    for shape in composition.shapes:
        _draw_shape(draw, shape, area, outline=scale == 1)
    return small if scale == 1 else small.resize(size, Image.Resampling.NEAREST)


def generated_picture(
    prompt: str,
    width: int,
    height: int,
    *,
    index: int = 0,
    count: int = 1,
    quality: str = "high",
    transparent: bool = False,
) -> Image.Image:
    """The picture for ``prompt``'s image number ``index`` (of ``count``), as a new image.

    RGB, or RGBA with a fully transparent background (alpha 0 around the shapes and the
    band) when ``transparent``.
    """
    # Drawn afresh every time: drawing costs about what encoding does, and a cache of
    # pictures up to 3840x2160 would hold hundreds of megabytes in a long-running server.
    shape_count, scale = _DETAIL.get(quality, _DETAIL["high"])
    composition = _composition(prompt, index, shape_count)
    small_size = (max(1, width // scale), max(1, height // scale))
    if transparent:
        base = Image.new("RGBA", small_size, (0, 0, 0, 0))
    else:
        base = _gradient(composition.top, composition.bottom, *small_size)
    picture = _shapes_layer(composition, base, (width, height), scale)
    dark_band = _luminance(composition.bottom) > 110 or transparent
    _draw_band(picture, composition.text, dark=dark_band)
    if count > 1:
        _draw_badge(picture, f"{index + 1}/{count}")
    return picture


# --- edits and variations ------------------------------------------------------------------


def _decoded_or_none(data: bytes) -> Image.Image | None:
    try:
        return decode_upload(data)
    except ValueError:
        return None


def _fitted(picture: Image.Image, width: int, height: int) -> Image.Image:
    if picture.size == (width, height):
        return picture
    return picture.resize((width, height), Image.Resampling.BILINEAR)


def _transparent_area(source: Image.Image, width: int, height: int) -> Image.Image | None:
    """An L image, 255 where ``source`` is fully transparent; None if nowhere is."""
    if "A" not in source.getbands() and source.info.get("transparency") is None:
        return None
    alpha = source.convert("RGBA").getchannel("A")
    alpha = (
        alpha
        if alpha.size == (width, height)
        else alpha.resize((width, height), Image.Resampling.NEAREST)
    )
    area = alpha.point([255] + [0] * 255)
    return area if area.getbbox() is not None else None


def edited_picture(
    image: bytes,
    prompt: str,
    width: int,
    height: int,
    *,
    mask: bytes | None = None,
    index: int = 0,
    count: int = 1,
    quality: str = "high",
) -> Image.Image:
    """``image`` with its transparent area repainted with ``prompt``'s picture (RGBA).

    The area is where ``mask`` is fully transparent, or where the image itself is when there
    is no mask; it shows the prompt's picture drawn to fit the area's bounding box, and
    every other pixel keeps the input's value. With no transparent area, the
    prompt's shapes and words are drawn over the whole image. An image that does not decode
    gives a fresh picture instead.
    """
    decoded = _decoded_or_none(image)
    if decoded is None:
        seed = hashlib.sha256(image).hexdigest()
        return generated_picture(f"{prompt}\0{seed}", width, height, index=index, count=count)
    base = _fitted(decoded.convert("RGBA"), width, height)
    area_source = _decoded_or_none(mask) if mask is not None else decoded
    area = _transparent_area(area_source, width, height) if area_source is not None else None
    if area is not None:
        # The prompt's own picture, fitted to the area's bounding box, shows through it.
        left, top, right, bottom = area.getbbox() or (0, 0, width, height)
        repaint = generated_picture(
            prompt, right - left, bottom - top, index=index, count=count, quality=quality
        )
        layer = base.copy()
        layer.paste(repaint.convert("RGBA"), (left, top))
        return Image.composite(layer, base, area)
    shape_count, scale = _DETAIL.get(quality, _DETAIL["high"])
    composition = _composition(prompt, index, shape_count)
    picture = _shapes_layer(composition, base, (width, height), scale)
    _draw_band(picture, composition.text, dark=True)
    if count > 1:
        _draw_badge(picture, f"{index + 1}/{count}")
    return picture


def _hue_shift(amount: float) -> Callable[[Image.Image], Image.Image]:
    def shift(picture: Image.Image) -> Image.Image:
        hue, saturation, value = picture.convert("HSV").split()
        offset = round(amount * 255)
        hue = hue.point([(level + offset) % 256 for level in range(256)])
        # Greys have no hue to shift: give them some colour so the change shows.
        saturation = saturation.point([max(level, 90) for level in range(256)])
        return Image.merge("HSV", (hue, saturation, value)).convert("RGB")

    return shift


def _zoomed(picture: Image.Image) -> Image.Image:
    width, height = picture.size
    box = (width // 5, height // 5, width - width // 5, height - height // 5)
    return picture.crop(box).resize((width, height), Image.Resampling.BILINEAR)


def _rotated(degrees: int) -> Callable[[Image.Image], Image.Image]:
    def rotate(picture: Image.Image) -> Image.Image:
        turned = picture.rotate(degrees, expand=True)
        return turned if turned.size == picture.size else picture.rotate(180)

    return rotate


def _sepia(picture: Image.Image) -> Image.Image:
    return ImageOps.colorize(ImageOps.grayscale(picture), (40, 26, 13), (255, 240, 192))


#: Variation ``i`` applies transformation ``i`` modulo the count, each visible on its own.
_VARIATIONS: Sequence[Callable[[Image.Image], Image.Image]] = (
    ImageOps.mirror,  # mirrored
    _hue_shift(1 / 3),  # hue-shifted by a third
    _rotated(90),  # turned a quarter
    _zoomed,  # zoomed into its centre
    lambda picture: ImageOps.posterize(picture, 2),  # posterized
    ImageOps.flip,  # flipped upside down
    _hue_shift(2 / 3),  # hue-shifted by two thirds
    lambda picture: ImageOps.solarize(picture, 128),  # solarized
    _sepia,  # in sepia
    _rotated(270),  # turned three quarters
)


def variation_picture(image: bytes, width: int, height: int, *, index: int = 0) -> Image.Image:
    """An RGB variation of ``image``: visibly the same picture, transformed, numbered.

    The ten indexes of one request get ten different transformations (mirrored,
    hue-shifted, turned, zoomed, posterized, flipped, solarized, in sepia...; from the 11th
    on, also mirrored), so the variations of one request all differ. Which one comes first
    depends on the input's bytes, so single variations of different inputs are not all
    mirrored. An image that does not decode gives a fresh picture instead.
    """
    digest = hashlib.sha256(image).digest()
    decoded = _decoded_or_none(image)
    if decoded is None:
        return generated_picture(digest.hex(), width, height, index=index)
    picture = _fitted(decoded.convert("RGB"), width, height)
    transform = _VARIATIONS[(digest[0] + index) % len(_VARIATIONS)]
    picture = transform(picture)
    if index >= len(_VARIATIONS):
        picture = ImageOps.mirror(picture)
    _draw_badge(picture, f"v{index + 1}")
    return picture


def partial_pictures(final: Image.Image, count: int) -> list[Image.Image]:
    """``count`` partial images on the way to ``final``: pixelated, finer with each index.

    The last has 32 blocks across the shorter edge, each earlier one half as many (and
    never fewer than one).
    """
    width, height = final.size
    partials = []
    for step in range(count):
        cells = max(1, 32 >> (count - 1 - step))
        block = max(1, min(width, height) // cells)
        small = final.resize(
            (max(1, width // block), max(1, height // block)), Image.Resampling.BOX
        )
        partials.append(small.resize((width, height), Image.Resampling.NEAREST))
    return partials
