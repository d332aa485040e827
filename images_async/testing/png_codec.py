"""PNG files without an image library: writing them, reading them back strictly, decoding.

This module owns the PNG format: a real (decodable) encoder for 8-bit RGB and RGBA pixels
(:func:`encode_png`, :func:`solid_png`), a strict reader (:func:`read_png`,
:func:`check_png`) that walks every chunk, checks every CRC and inflates the image data the
way a decoder does, so the emulator can refuse a damaged upload like the API, and a decoder
(:func:`decode_png`) from PNG bytes to :class:`Pixels`. The same arguments always give the
same bytes, so tests can compare them exactly. Drawing pictures belongs to
:mod:`images_async.testing.drawing`; files that are only a JPEG or WEBP header to
:mod:`images_async.testing.image_stubs`.

Decoding never touches pixels one by one in Python where it can help it: unfiltering uses
whole-row arithmetic (:mod:`._row_arithmetic`); only two filters of *foreign* inputs
(Average and Paeth) fall back to a loop per byte, as PNGs written here use filter 0.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator

import attrs

from ._row_arithmetic import RowArithmetic, map_rows

__all__ = [
    "RGB",
    "RGBA",
    "Pixels",
    "PngFile",
    "check_png",
    "decode_png",
    "decode_png_size",
    "encode_png",
    "read_png",
    "solid_png",
]

#: Channels of an RGBA pixel.
RGBA: int = 4
#: Channels of an RGB pixel.
RGB: int = 3

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MAX_DIMENSION = 2**31 - 1
_PNG_COLOUR_TYPE_RGB = 2
_PNG_COLOUR_TYPE_RGBA = 6
_PNG_FILTER_NONE = b"\x00"
_ZLIB_LEVEL = 6
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
# PNG colour type -> channels, for the 8-bit types we decode (palette images are not).
_CHANNELS_OF_COLOUR_TYPE = {0: 1, 2: 3, 4: 2, 6: 4}


# --- writing -------------------------------------------------------------------------------


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


# --- reading, strictly ---------------------------------------------------------------------


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


# --- decoded pixels ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Pixels:
    """A decoded 8-bit image: ``rows`` of ``width * channels`` bytes each."""

    width: int
    height: int
    channels: int
    """1 grey, 2 grey + alpha, 3 RGB, 4 RGBA."""
    rows: tuple[bytes, ...] = attrs.field(repr=False)

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        """The channel values of the pixel at column ``x``, row ``y``."""
        start = x * self.channels
        return tuple(self.rows[y][start : start + self.channels])

    @property
    def has_alpha(self) -> bool:
        """Whether the picture has an alpha channel (grey + alpha, RGBA)."""
        return self.channels in (2, 4)

    def to_rgba(self) -> Pixels:
        """The same picture with 4 channels (opaque where there was no alpha)."""
        if self.channels == RGBA:
            return self
        convert = _row_converter(self.channels, RGBA, self.width)
        return attrs.evolve(self, channels=RGBA, rows=map_rows(self.rows, convert))

    def to_rgb(self) -> Pixels:
        """The same picture with 3 channels (alpha dropped)."""
        if self.channels == RGB:
            return self
        convert = _row_converter(self.channels, RGB, self.width)
        return attrs.evolve(self, channels=RGB, rows=map_rows(self.rows, convert))

    def encode(self) -> bytes:
        """The picture as a PNG (RGB or RGBA; grey pictures are widened to RGB)."""
        pixels = self if self.channels in (RGB, RGBA) else self.to_rgba()
        return encode_png(pixels.width, pixels.height, pixels.rows, alpha=pixels.has_alpha)


def _row_converter(source: int, target: int, width: int) -> Callable[[bytes], bytes]:
    """A function turning one row of ``source`` channels into ``target`` channels."""

    def convert(row: bytes) -> bytes:
        out = bytearray(b"\xff" * (width * target))
        if source <= 2:  # grey: copy the grey value into R, G and B
            for channel in range(3):
                out[channel::target] = row[0::source]
        else:
            for channel in range(3):
                out[channel::target] = row[channel::source]
        if target == RGBA and source in (2, 4):
            out[3::RGBA] = row[source - 1 :: source]
        return bytes(out)

    return convert


def decode_png(data: bytes) -> Pixels:
    """Decode an 8-bit, non-interlaced grey, grey + alpha, RGB or RGBA PNG.

    Raises `ValueError` for anything else (palette images, other bit depths, interlacing)
    and for damaged files: the file is read as strictly as
    :func:`check_png` reads it.
    """
    png = read_png(data)
    channels = _CHANNELS_OF_COLOUR_TYPE.get(png.colour_type)
    if png.bit_depth != 8 or channels is None or png.interlaced:
        raise ValueError(
            f"unsupported PNG (bit depth {png.bit_depth}, colour type {png.colour_type}, "
            f"interlaced {png.interlaced}): only 8-bit non-interlaced grey/RGB(A) is decoded"
        )
    rows = _unfilter(png.scanlines(), png.width * channels, channels)
    return Pixels(width=png.width, height=png.height, channels=channels, rows=tuple(rows))


def _unfilter(scanlines: Iterable[bytes], stride: int, bpp: int) -> list[bytes]:
    """The rows of ``scanlines`` (each: filter type, then ``stride`` bytes) unfiltered."""
    swar = RowArithmetic(stride)
    prior = bytes(stride)
    rows: list[bytes] = []
    for scanline in scanlines:
        kind, line = scanline[0], scanline[1:]
        if kind == 0:
            row = line
        elif kind == 1:
            row = swar.prefix_sum(line, bpp)
        elif kind == 2:
            row = swar.add(line, prior)
        elif kind == 3:
            row = _unfilter_average(line, prior, bpp)
        else:  # 4; PngFile.scanlines() refuses the unknown types
            row = _unfilter_paeth(line, prior, bpp)
        rows.append(row)
        prior = row
    return rows


def _unfilter_average(line: bytes, prior: bytes, bpp: int) -> bytes:
    out = bytearray(line)
    for i in range(min(bpp, len(out))):
        out[i] = (out[i] + (prior[i] >> 1)) & 0xFF
    for i in range(bpp, len(out)):
        out[i] = (out[i] + ((out[i - bpp] + prior[i]) >> 1)) & 0xFF
    return bytes(out)


def _unfilter_paeth(line: bytes, prior: bytes, bpp: int) -> bytes:
    out = bytearray(line)
    for i in range(min(bpp, len(out))):
        out[i] = (out[i] + prior[i]) & 0xFF  # no left neighbours: Paeth picks "above"
    for i in range(bpp, len(out)):
        a, b, c = out[i - bpp], prior[i], prior[i - bpp]
        pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
        predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (out[i] + predictor) & 0xFF
    return bytes(out)


def _png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(chunk_type))
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", crc)


def _check_dimension(name: str, value: int, maximum: int) -> None:
    if not 1 <= value <= maximum:
        raise ValueError(f"{name} must be between 1 and {maximum}, got {value}")
