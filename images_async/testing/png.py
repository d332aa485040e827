"""Build small, deterministic image bytes for tests, with no image library.

This module owns the sample images tests upload: a real (decodable) PNG encoder for 8-bit
RGB and RGBA pixels, and minimal JPEG and WEBP headers that carry chosen dimensions but no
picture. The same arguments always give the same bytes, so tests can compare them exactly.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Iterable

__all__ = [
    "decode_png_size",
    "encode_png",
    "jpeg_header_bytes",
    "solid_png",
    "webp_header_bytes",
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MAX_DIMENSION = 2**31 - 1
_PNG_COLOUR_TYPE_RGB = 2
_PNG_COLOUR_TYPE_RGBA = 6
_PNG_FILTER_NONE = b"\x00"
_ZLIB_LEVEL = 6
_JPEG_MAX_DIMENSION = 0xFFFF
_WEBP_MAX_DIMENSION = 1 << 24  # VP8X stores dimension-1 in 24 bits


def encode_png(width: int, height: int, rows: Iterable[bytes], *, alpha: bool = True) -> bytes:
    """Encode ``height`` rows of 8-bit RGBA (or RGB when ``alpha`` is false) pixels as a PNG.

    Each row must hold ``width * 4`` bytes (``width * 3`` for RGB). Raises `ValueError` when
    a dimension is out of range or the rows do not match it.
    """
    _check_dimension("width", width, _PNG_MAX_DIMENSION)
    _check_dimension("height", height, _PNG_MAX_DIMENSION)
    channels = 4 if alpha else 3
    row_length = width * channels
    compressor = zlib.compressobj(_ZLIB_LEVEL)
    compressed_parts: list[bytes] = []
    row_count = 0
    for row in rows:
        row_count += 1
        if row_count > height:
            raise ValueError(f"got more than height={height} rows")
        if len(row) != row_length:
            raise ValueError(
                f"row {row_count - 1} has {len(row)} bytes, expected {row_length}"
                f" ({width} pixels x {channels} channels)"
            )
        compressed_parts.append(compressor.compress(_PNG_FILTER_NONE))
        compressed_parts.append(compressor.compress(row))
    if row_count != height:
        raise ValueError(f"got {row_count} rows, expected height={height}")
    compressed_parts.append(compressor.flush())

    colour_type = _PNG_COLOUR_TYPE_RGBA if alpha else _PNG_COLOUR_TYPE_RGB
    # Bit depth 8; compression, filter and interlace methods 0 (the only defined ones).
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", b"".join(compressed_parts)),
            _png_chunk(b"IEND", b""),
        )
    )


def solid_png(
    width: int,
    height: int,
    rgba: tuple[int, int, int, int] = (200, 80, 40, 255),
    *,
    alpha: bool = True,
) -> bytes:
    """Encode a PNG filled with one colour; the alpha value is dropped when ``alpha`` is false."""
    _check_dimension("width", width, _PNG_MAX_DIMENSION)
    _check_dimension("height", height, _PNG_MAX_DIMENSION)
    pixel = bytes(rgba if alpha else rgba[:3])
    # Every row is the same object, so memory stays at one row whatever the height.
    row = pixel * width
    return encode_png(width, height, itertools.repeat(row, height), alpha=alpha)


def decode_png_size(data: bytes) -> tuple[int, int]:
    """Return ``(width, height)`` from a PNG's IHDR; raise `ValueError` if it is not a PNG."""
    if data[:8] != _PNG_SIGNATURE:
        raise ValueError("not a PNG: signature missing")
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ValueError("not a PNG: IHDR chunk missing or truncated")
    width, height = struct.unpack_from(">II", data, 16)
    return int(width), int(height)


def jpeg_header_bytes(width: int, height: int) -> bytes:
    """Return a minimal JPEG skeleton (SOI, JFIF APP0, SOF0, EOI) with the given size.

    The bytes have the structure of a baseline JPEG but no tables or scan, so they carry
    dimensions without being a decodable picture.
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
    """Return a RIFF/WEBP container holding only a VP8X chunk with the given canvas size.

    The alpha flag is set when ``alpha`` is true. There is no image data chunk, so the bytes
    describe a picture without being a decodable one.
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


def _png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(chunk_type))
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", crc)


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    # The length field counts itself (2 bytes) as well as the payload.
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _check_dimension(name: str, value: int, maximum: int) -> None:
    if not 1 <= value <= maximum:
        raise ValueError(f"{name} must be between 1 and {maximum}, got {value}")
