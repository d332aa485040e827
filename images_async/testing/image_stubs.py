"""Image files that are only a header: JPEG and WEBP skeletons with chosen dimensions.

This module owns the sample JPEG and WEBP uploads tests send: bytes with the structure of
each format and the dimensions asked for, but no picture, so header sniffing sees a real
file while nothing here needs an encoder. The same arguments always give the same bytes.
PNG files, which can be real pictures, belong to :mod:`images_async.testing.png_codec`.
"""

from __future__ import annotations

import struct

__all__ = ["jpeg_header_bytes", "webp_header_bytes"]

_JPEG_MAX_DIMENSION = 0xFFFF
_WEBP_MAX_DIMENSION = 1 << 24  # VP8X stores dimension-1 in 24 bits


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


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    # The length field counts itself (2 bytes) as well as the payload.
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _check_dimension(name: str, value: int, maximum: int) -> None:
    if not 1 <= value <= maximum:
        raise ValueError(f"{name} must be between 1 and {maximum}, got {value}")
