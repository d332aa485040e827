"""Image files to upload in tests: real PNG, JPEG and WEBP bytes, and header-only skeletons.

This module owns the sample files tests send: :func:`solid_png` (one colour),
:func:`png_from_rows` (pixels given row by row), :func:`encoded_image` (a small picture in
any of the API's formats) and :func:`image_size` to read a file's dimensions. They are
encoded as the emulator encodes its answers
(:func:`~images_async.testing.pictures.encode_picture`), so the emulator decodes them like
any real upload; the same arguments always give the same bytes with a given Pillow.

:func:`jpeg_header_bytes` and :func:`webp_header_bytes` are different on purpose: a
well-formed header with the dimensions asked for and no picture. They exist for the
client's own checks, which read headers and never decode (so any size, up to each format's
limit, costs nothing); the emulator, which decodes uploads, refuses them as undecodable.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Literal

from .._imageinfo import inspect_image
from ._image_codec import encode_picture
from ._pillow import Image

__all__ = [
    "ImageFormat",
    "encoded_image",
    "image_size",
    "jpeg_header_bytes",
    "png_from_rows",
    "solid_png",
    "webp_header_bytes",
]

#: The formats the Images API reads and writes.
ImageFormat = Literal["png", "jpeg", "webp"]

_PNG_MAX_DIMENSION = 0x7FFFFFFF
_JPEG_MAX_DIMENSION = 0xFFFF
_WEBP_MAX_DIMENSION = 1 << 24  # VP8X stores dimension-1 in 24 bits
_WEBP_ENCODER_MAX = 16383  # what a WEBP picture (not a header) can hold
_DEFAULT_RGBA = (200, 80, 40, 255)


def solid_png(
    width: int,
    height: int,
    rgba: tuple[int, int, int, int] = _DEFAULT_RGBA,
    *,
    alpha: bool = True,
) -> bytes:
    """Encode a PNG filled with one colour; the alpha value is dropped when ``alpha`` is false."""
    _check_dimension("width", width, _PNG_MAX_DIMENSION)
    _check_dimension("height", height, _PNG_MAX_DIMENSION)
    picture = Image.new("RGBA" if alpha else "RGB", (width, height), rgba if alpha else rgba[:3])
    return encode_picture(picture, "png")


def png_from_rows(width: int, height: int, rows: Iterable[bytes], *, alpha: bool = True) -> bytes:
    """Encode a PNG from ``height`` rows of 8-bit RGBA (or RGB, when not ``alpha``) pixels.

    Raises `ValueError` when a row's length or the number of rows does not match.
    """
    _check_dimension("width", width, _PNG_MAX_DIMENSION)
    _check_dimension("height", height, _PNG_MAX_DIMENSION)
    stride = width * (4 if alpha else 3)
    listed = list(rows)
    if len(listed) != height:
        raise ValueError(f"{len(listed)} rows given for a height of {height}")
    for number, row in enumerate(listed):
        if len(row) != stride:
            raise ValueError(f"row {number} has {len(row)} bytes, expected {stride}")
    data = b"".join(listed)
    picture = Image.frombytes("RGBA" if alpha else "RGB", (width, height), data)
    return encode_picture(picture, "png")


def encoded_image(
    width: int,
    height: int,
    image_format: ImageFormat = "png",
    *,
    rgba: tuple[int, int, int, int] = _DEFAULT_RGBA,
    alpha: bool = False,
    quality: int = 90,
) -> bytes:
    """A real ``image_format`` file of ``width`` x ``height``: ``rgba`` with a white cross.

    The cross makes the picture more than one colour, so lossy formats have something to
    compress. ``alpha`` keeps an alpha channel, with the top-left quarter of each edge
    clear (PNG and WEBP; JPEG has none); ``quality`` is the JPEG or WEBP encoder's (1-100).
    """
    limit = _WEBP_ENCODER_MAX if image_format == "webp" else _JPEG_MAX_DIMENSION
    _check_dimension("width", width, limit if image_format != "png" else _PNG_MAX_DIMENSION)
    _check_dimension("height", height, limit if image_format != "png" else _PNG_MAX_DIMENSION)
    keep_alpha = alpha and image_format != "jpeg"
    mode = "RGBA" if keep_alpha else "RGB"
    picture = Image.new(mode, (width, height), rgba if keep_alpha else rgba[:3])
    white = (255, 255, 255, 255) if keep_alpha else (255, 255, 255)
    picture.paste(white, (width // 2 - width // 16, 0, width // 2 + width // 16 + 1, height))
    picture.paste(white, (0, height // 2 - height // 16, width, height // 2 + height // 16 + 1))
    if keep_alpha:
        # A clear corner, so the alpha channel is used (WEBP drops an unused one).
        picture.paste((0, 0, 0, 0), (0, 0, max(1, width // 4), max(1, height // 4)))
    return encode_picture(picture, image_format, compression=quality)


def image_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` of a PNG, JPEG or WEBP file; `ValueError` for anything else.

    Only the header is read, as the client reads it, so a header-only file of any size
    (:func:`jpeg_header_bytes`) has one too; nothing is decoded.
    """
    info = inspect_image(data)
    if info is None or info.width is None or info.height is None:
        raise ValueError("not a PNG, JPEG or WEBP file with a size in its header")
    return info.width, info.height


# --- header-only files, for the client's header checks --------------------------------------


def jpeg_header_bytes(width: int, height: int) -> bytes:
    """A JPEG skeleton (SOI, JFIF APP0, SOF0, EOI) of the given size, with no picture.

    It has the structure of a baseline JPEG but no tables or scan: the client's header
    checks read its dimensions; a decoder (and so the emulator) refuses it.
    """
    _check_dimension("width", width, _JPEG_MAX_DIMENSION)
    _check_dimension("height", height, _JPEG_MAX_DIMENSION)
    # JFIF 1.01, no density units, 1:1 pixel aspect, no thumbnail.
    jfif = b"JFIF\x00" + struct.pack(">BBBHHBB", 1, 1, 0, 1, 1, 0, 0)
    # Three components (Y, Cb, Cr), each: id, sampling factors, quantisation table.
    components = bytes((1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1))
    frame = struct.pack(">BHHB", 8, height, width, 3) + components
    return b"".join(
        (
            b"\xff\xd8",  # SOI
            _jpeg_segment(0xE0, jfif),  # APP0
            _jpeg_segment(0xC0, frame),  # SOF0
            b"\xff\xd9",  # EOI
        )
    )


def webp_header_bytes(width: int, height: int, *, alpha: bool) -> bytes:
    """A RIFF/WEBP container holding only a VP8X chunk with the given canvas size.

    The alpha flag is set when ``alpha`` is true. With no image data chunk, the client's
    header checks read its dimensions; a decoder (and so the emulator) refuses it.
    """
    _check_dimension("width", width, _WEBP_MAX_DIMENSION)
    _check_dimension("height", height, _WEBP_MAX_DIMENSION)
    flags = 0x10 if alpha else 0
    vp8x = (
        bytes((flags, 0, 0, 0))
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    # The RIFF size counts everything after itself, starting with "WEBP".
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    # The length field counts itself (2 bytes) as well as the payload.
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _check_dimension(name: str, value: int, maximum: int) -> None:
    if not 1 <= value <= maximum:
        raise ValueError(f"{name} must be between 1 and {maximum}, got {value}")
