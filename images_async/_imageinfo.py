"""Identify PNG, JPEG and WEBP bytes and read their size and alpha without an image library.

This module owns header sniffing only: it reads the few bytes each format puts up front and
never decodes pixels. It is called on multi-megabyte uploads, so every reader works on a
zero-copy ``memoryview`` of the caller's buffer and looks at a bounded number of bytes.
Nothing here raises on malformed input: unknown formats give ``None`` and damaged headers
give an `ImageInfo` whose unknown fields are ``None``.
"""

from __future__ import annotations

import struct
import zlib

import attrs

__all__ = ["ImageInfo", "inspect_image"]

_CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@attrs.frozen(kw_only=True)
class ImageInfo:
    """What the header of an image says about it."""

    format: str = attrs.field(validator=attrs.validators.in_(_CONTENT_TYPES))
    """``"png"``, ``"jpeg"`` or ``"webp"``."""
    width: int | None
    """Width in pixels, or ``None`` when the header is too short or damaged to tell."""
    height: int | None
    """Height in pixels, or ``None`` when the header is too short or damaged to tell."""
    has_alpha: bool | None
    """Whether the image can carry transparency, or ``None`` when the bytes cannot tell."""

    @property
    def content_type(self) -> str:
        """The MIME type to send this image with."""
        return _CONTENT_TYPES[self.format]

    @property
    def is_square(self) -> bool | None:
        """Whether width equals height, or ``None`` when either is unknown."""
        if self.width is None or self.height is None:
            return None
        return self.width == self.height


def inspect_image(data: bytes | bytearray | memoryview) -> ImageInfo | None:
    """Return what the header of ``data`` says, or ``None`` if it is not PNG, JPEG or WEBP."""
    view = _byte_view(data)
    # Magic numbers are a few bytes, so copying them out for the comparison costs nothing.
    if view[:8].tobytes() == _PNG_SIGNATURE:
        return _inspect_png(view)
    if view[:3].tobytes() == _JPEG_START:
        return _inspect_jpeg(view)
    if view[:4].tobytes() == b"RIFF" and view[8:12].tobytes() == b"WEBP":
        return _inspect_webp(view)
    return None


def _byte_view(data: bytes | bytearray | memoryview) -> memoryview:
    view = memoryview(data)
    if view.c_contiguous:
        return view if view.ndim == 1 and view.format == "B" else view.cast("B")
    # A strided view cannot be reinterpreted in place; copying is the only way to read it
    # as bytes, and such views do not come from file reads or HTTP bodies in practice.
    return memoryview(view.tobytes())


# --- PNG ---------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Signature (8) + IHDR length and type (8) + IHDR data (13) + CRC (4).
_PNG_IHDR_END = 33
_PNG_IHDR = struct.Struct(">I4sIIBB")  # length, type, width, height, bit depth, colour type
_PNG_CHUNK_HEAD = struct.Struct(">I4s")
_PNG_CRC = struct.Struct(">I")
_PNG_COLOUR_TYPES_WITH_ALPHA = frozenset({4, 6})  # grey + alpha, RGB + alpha
_PNG_COLOUR_TYPES = frozenset({0, 2, 3, 4, 6})


def _inspect_png(view: memoryview) -> ImageInfo:
    damaged = ImageInfo(format="png", width=None, height=None, has_alpha=None)
    if len(view) < _PNG_IHDR_END:
        return damaged
    length, chunk_type, width, height, _bit_depth, colour_type = _PNG_IHDR.unpack_from(view, 8)
    if length != 13 or chunk_type != b"IHDR":
        return damaged
    (stored_crc,) = _PNG_CRC.unpack_from(view, _PNG_IHDR_END - 4)
    if zlib.crc32(view[12 : _PNG_IHDR_END - 4]) != stored_crc:
        return damaged

    has_alpha: bool | None
    if colour_type in _PNG_COLOUR_TYPES_WITH_ALPHA:
        has_alpha = True
    elif colour_type in _PNG_COLOUR_TYPES:
        has_alpha = _png_has_transparency_chunk(view)
    else:
        has_alpha = None
    return ImageInfo(format="png", width=width, height=height, has_alpha=has_alpha)


def _png_has_transparency_chunk(view: memoryview) -> bool | None:
    """Look for tRNS between IHDR and the first IDAT; ``None`` if the data ends first."""
    offset = _PNG_IHDR_END
    # Every pass moves forward by at least one chunk header, so the loop ends at the buffer.
    while offset + _PNG_CHUNK_HEAD.size <= len(view):
        length, chunk_type = _PNG_CHUNK_HEAD.unpack_from(view, offset)
        if chunk_type == b"tRNS":
            return True
        if chunk_type in (b"IDAT", b"IEND"):
            # The spec puts tRNS before image data; one after IDAT is ignored by decoders.
            return False
        offset += _PNG_CHUNK_HEAD.size + length + _PNG_CRC.size
    # The caller may have handed us only the start of the file: absence is not proof.
    return None


# --- JPEG --------------------------------------------------------------------------------

_JPEG_START = b"\xff\xd8\xff"
_JPEG_U16 = struct.Struct(">H")
_JPEG_SOF_SIZE = struct.Struct(">HH")  # height, width
# Start-of-frame markers are C0-CF, except the three that reuse the range for other tables.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length field: TEM, RST0-7 and SOI.
_JPEG_STANDALONE_MARKERS = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})
_JPEG_EOI = 0xD9
_JPEG_SOS = 0xDA


def _inspect_jpeg(view: memoryview) -> ImageInfo:
    width, height = _jpeg_frame_size(view)
    # Baseline and progressive JPEG have no alpha channel.
    return ImageInfo(format="jpeg", width=width, height=height, has_alpha=False)


def _jpeg_frame_size(view: memoryview) -> tuple[int | None, int | None]:
    unknown = (None, None)
    end = len(view)
    position = 2  # just past SOI
    # Every pass moves forward by at least one byte, so the loop ends at the buffer.
    while position + 2 <= end:
        if view[position] != 0xFF:
            return unknown
        marker = view[position + 1]
        if marker == 0xFF:
            position += 1  # fill byte before the real marker
            continue
        position += 2
        if marker in _JPEG_STANDALONE_MARKERS:
            continue
        if marker in (_JPEG_EOI, _JPEG_SOS):
            return unknown  # the frame header always precedes scan data
        if position + _JPEG_U16.size > end:
            return unknown
        (segment_length,) = _JPEG_U16.unpack_from(view, position)
        if segment_length < _JPEG_U16.size:
            return unknown
        if marker in _JPEG_SOF_MARKERS:
            # Segment length (2) and sample precision (1) come before height and width.
            if position + 3 + _JPEG_SOF_SIZE.size > end:
                return unknown
            height, width = _JPEG_SOF_SIZE.unpack_from(view, position + 3)
            # A zero height means "given later by a DNL marker", so it is unknown here.
            return (width or None, height or None)
        position += segment_length
    return unknown


# --- WEBP --------------------------------------------------------------------------------

_WEBP_FIRST_CHUNK = 12  # after "RIFF", the RIFF size and "WEBP"
_WEBP_PAYLOAD = _WEBP_FIRST_CHUNK + 8  # after the chunk's FourCC and size
_WEBP_U16 = struct.Struct("<H")
_WEBP_U32 = struct.Struct("<I")
_VP8_START_CODE = b"\x9d\x01\x2a"
_VP8L_SIGNATURE = 0x2F
_VP8X_ALPHA_FLAG = 0x10
_FOURTEEN_BITS = 0x3FFF


def _inspect_webp(view: memoryview) -> ImageInfo:
    chunk_type = view[_WEBP_FIRST_CHUNK : _WEBP_PAYLOAD - 4].tobytes()
    if chunk_type == b"VP8 ":
        size = _vp8_size(view)
        # Plain lossy WEBP has no alpha; lossy with alpha always uses the VP8X layout.
        has_alpha: bool | None = None if size is None else False
    elif chunk_type == b"VP8L":
        size, has_alpha = _vp8l_size_and_alpha(view)
    elif chunk_type == b"VP8X":
        size, has_alpha = _vp8x_size_and_alpha(view)
    else:
        size, has_alpha = None, None
    width, height = size or (None, None)
    return ImageInfo(format="webp", width=width, height=height, has_alpha=has_alpha)


def _vp8_size(view: memoryview) -> tuple[int, int] | None:
    # 3-byte frame tag, 3-byte start code, then two 16-bit fields whose top 2 bits are scale.
    start_code = _WEBP_PAYLOAD + 3
    dimensions = start_code + len(_VP8_START_CODE)
    if len(view) < dimensions + 4 or view[start_code:dimensions].tobytes() != _VP8_START_CODE:
        return None
    (width_field,) = _WEBP_U16.unpack_from(view, dimensions)
    (height_field,) = _WEBP_U16.unpack_from(view, dimensions + 2)
    return (width_field & _FOURTEEN_BITS, height_field & _FOURTEEN_BITS)


def _vp8l_size_and_alpha(view: memoryview) -> tuple[tuple[int, int] | None, bool | None]:
    if len(view) < _WEBP_PAYLOAD + 5 or view[_WEBP_PAYLOAD] != _VP8L_SIGNATURE:
        return None, None
    # Little-endian bit fields: width-1 (14), height-1 (14), alpha_is_used (1), version (3).
    (bits,) = _WEBP_U32.unpack_from(view, _WEBP_PAYLOAD + 1)
    if bits >> 29:
        return None, None  # only version 0 is defined
    width = (bits & _FOURTEEN_BITS) + 1
    height = ((bits >> 14) & _FOURTEEN_BITS) + 1
    return (width, height), bool((bits >> 28) & 1)


def _vp8x_size_and_alpha(view: memoryview) -> tuple[tuple[int, int] | None, bool | None]:
    # Flags (1), reserved (3), canvas width-1 (24-bit LE), canvas height-1 (24-bit LE).
    canvas = _WEBP_PAYLOAD + 4
    if len(view) < canvas + 6:
        return None, None
    width = int.from_bytes(view[canvas : canvas + 3], "little") + 1
    height = int.from_bytes(view[canvas + 3 : canvas + 6], "little") + 1
    return (width, height), bool(view[_WEBP_PAYLOAD] & _VP8X_ALPHA_FLAG)
