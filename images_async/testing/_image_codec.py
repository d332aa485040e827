"""Image files in and out of the emulator: decoding uploads strictly, encoding answers.

This module owns the bytes of pictures. :func:`decode_upload` reads a PNG, JPEG or WEBP
upload the way the API must before it can use one: in full, refusing what does not decode
(a valid header over a garbage body, a PNG chunk whose CRC is wrong, a truncated file) and,
before any pixel is inflated, a picture too large to hold (a decompression bomb).
:func:`encode_picture` writes a drawn picture in the requested format and compression.
What the pictures show is :mod:`images_async.testing.pictures`' business.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Literal

from .._imageinfo import inspect_image
from ._pillow import Image

__all__ = ["MAX_DECODED_PIXELS", "OutputFormat", "decode_upload", "encode_picture"]

#: The most pixels an upload may have to be decoded (a 50-megapixel photo fits). Checked
#: against the header before Pillow allocates anything, so a small file claiming a huge
#: picture is refused without the memory, and below Pillow's own bomb limit.
MAX_DECODED_PIXELS = 50_000_000
#: What an answer can be encoded as.
OutputFormat = Literal["png", "jpeg", "webp"]

_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_PNG_SIGNATURE_LENGTH = 8
_PALETTE_COLOUR_TYPE = 3
#: Samples per pixel of each PNG colour type (grey, RGB, palette, grey+alpha, RGBA).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: (first column, first row, column step, row step) of each pass of an interlaced PNG.
_ADAM7_PASSES = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_INFLATE_STEP = 1 << 20
# zlib level 1: answers are drawn for tests, where encoding time matters more than bytes.
_PNG_COMPRESS_LEVEL = 1
# WEBP's fastest method: a 1024x1024 picture encodes in milliseconds instead of tens.
_WEBP_METHOD = 0


def decode_upload(data: bytes) -> Image.Image:
    """The picture in ``data``, decoded in full; `ValueError` saying why when it cannot be.

    ``data`` must be a PNG, JPEG or WEBP file of at most :data:`MAX_DECODED_PIXELS` pixels,
    as its header states (checked before Pillow reads it, so no memory is spent on a bomb).
    A PNG's chunks are checked too (every CRC, nothing after IEND), as a strict decoder does
    and Pillow does not for image data.
    """
    info = inspect_image(data)
    if info is None:
        raise ValueError("not a PNG, JPEG or WEBP file")
    if info.width is None or info.height is None:
        raise ValueError(f"the {info.format.upper()} header states no size")
    _check_pixels(info.width, info.height)
    if info.format == "png":
        _check_png_chunks(data)
    try:
        picture = Image.open(io.BytesIO(data), formats=(_PILLOW_FORMATS[info.format],))
        # A file whose header the sniffing above read differently is no file to trust.
        if picture.size != (info.width, info.height):
            picture.close()
            raise ValueError(f"its headers disagree about its size ({picture.size})")
        picture.load()
    # A second size header (a JPEG's later SOF, a PNG's second IHDR) is what Pillow goes by:
    # its bomb check fires in open(), as a warning that a test suite turns into an error.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError("the picture is too large to decode") from None
    # Pillow's decoders report damage as any of these, depending on the format and place.
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        raise ValueError(f"the image data is damaged ({exc})") from None
    return picture


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_DECODED_PIXELS:
        raise ValueError(
            f"the picture is too large to decode ({width}x{height} is more than "
            f"{MAX_DECODED_PIXELS} pixels)"
        )


def _check_png_chunks(data: bytes) -> None:
    """Walk a PNG's chunks as a strict decoder does, which Pillow does not in full.

    Each chunk must be whole with a right CRC, up to IEND with nothing after it; a palette
    image needs its PLTE; the image data must inflate to exactly the rows the header
    promises (Pillow accepts a stream that ends early and pads the picture).
    """
    at = _PNG_SIGNATURE_LENGTH
    kind = b""
    image_data = []
    seen = set()
    while kind != b"IEND":  # each pass moves past one chunk, or raises
        if at + 12 > len(data):
            raise ValueError("the PNG is truncated (no IEND chunk)")
        (length,) = struct.unpack_from(">I", data, at)
        kind = data[at + 4 : at + 8]
        end = at + 12 + length
        if end > len(data):
            raise ValueError(f"the PNG is truncated inside its {kind!r} chunk")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(data[at + 4 : end - 4]) != crc:
            raise ValueError(f"the CRC of the PNG's {kind.decode('latin-1')!r} chunk is wrong")
        seen.add(kind)
        if kind == b"IDAT":
            image_data.append(data[at + 8 : end - 4])
        at = end
    if at != len(data):
        raise ValueError("the PNG has data after its IEND chunk")
    width, height, depth, colour_type, _c, _f, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    if colour_type == _PALETTE_COLOUR_TYPE and b"PLTE" not in seen:
        raise ValueError("the PNG is a palette image without a PLTE chunk")
    channels = _PNG_CHANNELS.get(colour_type)
    if channels is None:
        raise ValueError(f"the PNG's colour type {colour_type} does not exist")
    expected = _inflated_size(width, height, channels * depth, interlaced=interlace == 1)
    _check_inflated_size(image_data, expected)


def _inflated_size(width: int, height: int, bits_per_pixel: int, *, interlaced: bool) -> int:
    """The bytes of filtered rows a PNG of this shape holds, once inflated."""
    passes = _ADAM7_PASSES if interlaced else ((0, 0, 1, 1),)
    total = 0
    for first_x, first_y, step_x, step_y in passes:
        columns = len(range(first_x, width, step_x))
        rows = len(range(first_y, height, step_y))
        if columns and rows:
            total += rows * (1 + -(-columns * bits_per_pixel // 8))  # a filter byte per row
    return total


def _check_inflated_size(image_data: list[bytes], expected: int) -> None:
    """Inflate the IDAT stream a megabyte at a time (memory stays bounded), counting bytes."""
    inflater = zlib.decompressobj()
    total = 0
    try:
        for piece in image_data:
            pending = piece
            while pending and not inflater.eof:  # each pass consumes input or ends the stream
                total += len(inflater.decompress(pending, _INFLATE_STEP))
                if total > expected:
                    raise ValueError("the PNG's image data holds more rows than its header")
                pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise ValueError(f"the PNG's image data does not inflate ({exc})") from None
    if not inflater.eof:
        raise ValueError("the PNG's image data stream is cut short")
    if total != expected:
        raise ValueError("the PNG's image data holds fewer rows than its header")


def encode_picture(
    picture: Image.Image, output_format: OutputFormat, *, compression: int | None = None
) -> bytes:
    """``picture`` as ``output_format`` bytes; ``compression`` (0-100) is JPEG/WEBP quality.

    An RGBA picture keeps its alpha channel in PNG and WEBP; JPEG has none, so it drops it.
    ``compression`` defaults to the API's 100 and means nothing for PNG, as in the API.
    """
    buffer = io.BytesIO()
    quality = max(1, min(100, 100 if compression is None else compression))
    if output_format == "jpeg":
        rgb = picture if picture.mode == "RGB" else picture.convert("RGB")
        rgb.save(buffer, "JPEG", quality=quality)
    elif output_format == "webp":
        picture.save(buffer, "WEBP", quality=quality, method=_WEBP_METHOD)
    else:
        picture.save(buffer, "PNG", compress_level=_PNG_COMPRESS_LEVEL)
    return buffer.getvalue()
