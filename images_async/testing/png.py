"""PNG files without an image library: writing them, and reading them back strictly.

This module owns the PNG container and the sample images tests upload: a real (decodable)
PNG encoder for 8-bit RGB and RGBA pixels, minimal JPEG and WEBP headers that carry chosen
dimensions but no picture, and a strict reader (:func:`read_png`, :func:`check_png`) that
walks every chunk, checks every CRC and inflates the image data the way a decoder does, so
the emulator can refuse a damaged upload like the API. The same arguments always give the
same bytes, so tests can compare them exactly. Pixels (unfiltering, colours) belong to
:mod:`images_async.testing.pictures`.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Iterable, Iterator

import attrs

__all__ = [
    "PngFile",
    "check_png",
    "decode_png_size",
    "encode_png",
    "jpeg_header_bytes",
    "read_png",
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
_CHUNK_HEAD = struct.Struct(">I4s")
_CRC = struct.Struct(">I")
_IHDR = struct.Struct(">IIBBBBB")
_COLOUR_TYPE_PALETTE = 3
# Colour type -> (channels, allowed bit depths), from the PNG specification's table.
_COLOUR_TYPES = {
    0: (1, frozenset({1, 2, 4, 8, 16})),
    2: (3, frozenset({8, 16})),
    3: (1, frozenset({1, 2, 4, 8})),
    4: (2, frozenset({8, 16})),
    6: (4, frozenset({8, 16})),
}
# Adam7: (first column, first row, column step, row step) of each of the seven passes.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_MAX_FILTER_TYPE = 4
# Inflating is done in steps of this many bytes, so a "zip bomb" never sits in memory whole.
_INFLATE_STEP = 1 << 20
# Image data past this size is refused rather than inflated: it is far beyond any upload the
# API takes (50 MB), and a small file claiming it would otherwise cost minutes.
_MAX_IMAGE_DATA = 1 << 29


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


@attrs.frozen(kw_only=True)
class PngFile:
    """A PNG whose chunks are whole: its header, and its compressed image data."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    compressed: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    """The IDAT chunks' data, joined: one zlib stream."""

    @property
    def channels(self) -> int:
        """Samples per pixel: 1 grey or palette index, 2 grey + alpha, 3 RGB, 4 RGBA."""
        return _COLOUR_TYPES[self.colour_type][0]

    def passes(self) -> list[tuple[int, int]]:
        """``(rows, bytes per row)`` of each pass (one, or Adam7's non-empty ones)."""
        bits = self.channels * self.bit_depth
        if not self.interlaced:
            return [(self.height, (self.width * bits + 7) // 8)]
        found = []
        for x0, y0, dx, dy in _ADAM7:
            columns = len(range(x0, self.width, dx))
            rows = len(range(y0, self.height, dy))
            if columns and rows:
                found.append((rows, (columns * bits + 7) // 8))
        return found

    def scanlines(self) -> Iterator[bytes]:
        """Each scanline, filter type byte first, pass by pass, inflated as it is needed.

        Raises `ValueError` when the image data does not inflate, has a scanline with an
        unknown filter type, or holds fewer scanlines than the header says; after the last
        scanline, also when the zlib stream does not end properly (a truncated or damaged
        stream) or goes on far longer than the header says.
        """
        layout = self.passes()
        expected = sum(rows * (length + 1) for rows, length in layout)
        if expected > _MAX_IMAGE_DATA:
            raise ValueError(f"PNG of {self.width}x{self.height} is too large to decode here")
        inflated = _Inflater(self.compressed)
        for rows, length in layout:
            for _ in range(rows):
                line = inflated.take(length + 1)
                if line[0] > _MAX_FILTER_TYPE:
                    raise ValueError(f"unknown PNG filter type {line[0]}")
                yield line
        inflated.finish(surplus_limit=expected)


class _Inflater:
    """Hands out the inflated bytes of one zlib stream in the sizes asked for."""

    def __init__(self, compressed: bytes) -> None:
        self._inflater = zlib.decompressobj()
        self._pending = compressed
        self._buffer = bytearray()

    def _more(self, at_most: int) -> bytes:
        try:
            piece = self._inflater.decompress(self._pending, at_most)
        except zlib.error as exc:
            raise ValueError(f"damaged PNG image data: {exc}") from None
        self._pending = self._inflater.unconsumed_tail
        return piece

    def take(self, size: int) -> bytes:
        # Every pass either grows the buffer or raises, so the loop ends.
        while len(self._buffer) < size:
            piece = self._more(max(size - len(self._buffer), _INFLATE_STEP))
            if not piece:
                raise ValueError(
                    "PNG image data is shorter than its header says"
                    if self._inflater.eof
                    else "PNG image data is cut short (the compressed stream does not end)"
                )
            self._buffer += piece
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken

    def finish(self, *, surplus_limit: int) -> None:
        """Read the stream to its end (which checks its checksum), dropping surplus bytes."""
        surplus = len(self._buffer)
        # Every pass inflates more, ends the stream or raises; the surplus limit bounds it.
        while not self._inflater.eof:
            piece = self._more(_INFLATE_STEP)
            if not piece and not self._inflater.eof:
                raise ValueError("PNG image data is cut short (the compressed stream does not end)")
            surplus += len(piece)
            if surplus > surplus_limit:
                raise ValueError("PNG image data is far longer than its header says")


def read_png(data: bytes) -> PngFile:
    """Walk the chunks of a PNG, strictly; the image data is not inflated yet.

    Raises `ValueError` naming the first problem: no PNG signature, a chunk running past the
    end of the data or failing its CRC, a first chunk that is not a valid IHDR (dimensions,
    bit depth and colour type as the specification allows), a palette image without PLTE,
    no IDAT, or no IEND.
    """
    if data[:8] != _PNG_SIGNATURE:
        raise ValueError("not a PNG: signature missing")
    header: tuple[int, ...] | None = None
    palette = False
    compressed: list[bytes] = []
    offset = 8
    # Every pass moves past one chunk or returns or raises, so the loop ends with the data.
    while offset < len(data):
        if offset + _CHUNK_HEAD.size + _CRC.size > len(data):
            break
        length, kind = _CHUNK_HEAD.unpack_from(data, offset)
        end = offset + _CHUNK_HEAD.size + length
        if end + _CRC.size > len(data):
            raise ValueError(f"PNG chunk {kind!r} runs past the end of the data")
        body = data[offset + _CHUNK_HEAD.size : end]
        if _CRC.unpack_from(data, end)[0] != zlib.crc32(body, zlib.crc32(kind)):
            raise ValueError(f"PNG chunk {kind!r} fails its CRC check")
        if header is None:
            header = _header(kind, body)
        elif kind == b"PLTE":
            palette = True
        elif kind == b"IDAT":
            compressed.append(body)
        elif kind == b"IEND":
            return _png_file(header, palette, compressed)
        offset = end + _CRC.size
    raise ValueError("PNG is truncated: it ends before its IEND chunk")


def _header(kind: bytes, body: bytes) -> tuple[int, ...]:
    if kind != b"IHDR" or len(body) != _IHDR.size:
        raise ValueError("PNG without a valid IHDR chunk first")
    header = _IHDR.unpack(body)
    width, height, depth, colour_type, compression, filtering, interlace = header
    if not (0 < width <= _PNG_MAX_DIMENSION and 0 < height <= _PNG_MAX_DIMENSION):
        raise ValueError(f"PNG with impossible dimensions {width}x{height}")
    channels_and_depths = _COLOUR_TYPES.get(colour_type)
    if channels_and_depths is None or depth not in channels_and_depths[1]:
        raise ValueError(f"PNG with bit depth {depth} and colour type {colour_type}")
    if compression or filtering or interlace not in (0, 1):
        raise ValueError("PNG with an unknown compression, filter or interlace method")
    return header


def _png_file(header: tuple[int, ...], palette: bool, compressed: list[bytes]) -> PngFile:
    width, height, depth, colour_type, _compression, _filtering, interlace = header
    if colour_type == _COLOUR_TYPE_PALETTE and not palette:
        raise ValueError("palette PNG without a PLTE chunk")
    if not compressed:
        raise ValueError("PNG without image data (no IDAT chunk)")
    return PngFile(
        width=width,
        height=height,
        bit_depth=depth,
        colour_type=colour_type,
        interlaced=interlace == 1,
        compressed=b"".join(compressed),
    )


def check_png(data: bytes) -> PngFile:
    """Check that ``data`` is a whole, undamaged PNG, as a decoder would; returns it read.

    Every chunk and CRC is checked and all the image data is inflated (in bounded steps,
    then dropped). Raises `ValueError` naming the first problem found.
    """
    png = read_png(data)
    for _line in png.scanlines():
        pass
    return png


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
