"""Tests for header sniffing in images_async._imageinfo and the sample files of
images_async.testing.sample_images."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image

from images_async._imageinfo import ImageInfo, inspect_image
from images_async.testing.sample_images import (
    ImageFormat,
    encoded_image,
    image_size,
    jpeg_header_bytes,
    png_from_rows,
    solid_png,
    webp_header_bytes,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IHDR_END = 33  # signature + IHDR chunk including its CRC


# --- hand-built inputs ---------------------------------------------------------------------


def png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(chunk_type + data)
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", crc)


def png_with_colour_type(
    colour_type: int,
    *,
    before_idat: tuple[bytes, ...] = (),
    after_idat: tuple[bytes, ...] = (),
    width: int = 5,
    height: int = 3,
) -> bytes:
    """A structurally valid PNG whose IDAT holds no real pixels; enough for header sniffing."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            png_chunk(b"IHDR", header),
            *before_idat,
            png_chunk(b"IDAT", zlib.compress(b"")),
            *after_idat,
            png_chunk(b"IEND", b""),
        )
    )


PALETTE = png_chunk(b"PLTE", bytes((255, 0, 0, 0, 255, 0)))
TRANSPARENCY = png_chunk(b"tRNS", bytes((0, 255)))
TEXT = png_chunk(b"tEXt", b"Comment\x00made by hand")


def vp8l_webp(width: int, height: int, *, alpha: bool) -> bytes:
    bits = (width - 1) | ((height - 1) << 14) | (int(alpha) << 28)
    payload = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 3
    return webp_container(b"VP8L", payload)


def vp8_webp(width: int, height: int) -> bytes:
    # Key frame tag (3 bytes), start code, then 14-bit sizes with the scale bits set to show
    # that they are masked off.
    frame_tag = b"\x10\x02\x00"
    sizes = struct.pack("<HH", width | 0x4000, height | 0x8000)
    payload = frame_tag + b"\x9d\x01\x2a" + sizes + b"\x00" * 4
    return webp_container(b"VP8 ", payload)


def webp_container(fourcc: bytes, payload: bytes) -> bytes:
    body = b"WEBP" + fourcc + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_segments_before_frame(width: int, height: int, *segments: bytes) -> bytes:
    """Insert ``segments`` between the JFIF APP0 segment and SOF0 of a generated header."""
    header = jpeg_header_bytes(width, height)
    sof_at = header.index(b"\xff\xc0")
    return header[:sof_at] + b"".join(segments) + header[sof_at:]


# --- PNG -----------------------------------------------------------------------------------


def test_png_rgb_has_no_alpha() -> None:
    info = inspect_image(solid_png(7, 4, alpha=False))
    assert info == ImageInfo(format="png", width=7, height=4, has_alpha=False)
    assert info.content_type == "image/png"
    assert info.is_square is False


def test_png_rgba_has_alpha() -> None:
    info = inspect_image(solid_png(6, 6))
    assert info == ImageInfo(format="png", width=6, height=6, has_alpha=True)
    assert info.is_square is True


def test_png_grey_with_alpha_has_alpha() -> None:
    info = inspect_image(png_with_colour_type(4))
    assert info == ImageInfo(format="png", width=5, height=3, has_alpha=True)


@pytest.mark.parametrize("colour_type", [0, 2, 3])
def test_png_transparency_chunk_before_image_data_means_alpha(colour_type: int) -> None:
    data = png_with_colour_type(colour_type, before_idat=(PALETTE, TEXT, TRANSPARENCY))
    info = inspect_image(data)
    assert info is not None
    assert info.has_alpha is True


@pytest.mark.parametrize("colour_type", [0, 2, 3])
def test_png_without_transparency_chunk_has_no_alpha(colour_type: int) -> None:
    info = inspect_image(png_with_colour_type(colour_type, before_idat=(PALETTE, TEXT)))
    assert info == ImageInfo(format="png", width=5, height=3, has_alpha=False)


def test_png_transparency_chunk_after_image_data_is_ignored() -> None:
    data = png_with_colour_type(3, before_idat=(PALETTE,), after_idat=(TRANSPARENCY,))
    info = inspect_image(data)
    assert info is not None
    assert info.has_alpha is False


def test_png_alpha_is_unknown_when_data_ends_before_image_data() -> None:
    data = png_with_colour_type(3, before_idat=(PALETTE, TRANSPARENCY))
    cut_inside_palette = len(PNG_SIGNATURE) + 25 + 4
    info = inspect_image(data[:cut_inside_palette])
    assert info == ImageInfo(format="png", width=5, height=3, has_alpha=None)


def test_png_with_bad_header_crc_is_damaged() -> None:
    data = bytearray(solid_png(4, 4))
    data[PNG_IHDR_END - 1] ^= 0xFF
    info = inspect_image(bytes(data))
    assert info == ImageInfo(format="png", width=None, height=None, has_alpha=None)
    assert info.is_square is None
    assert info.content_type == "image/png"


def test_png_with_changed_dimensions_fails_crc() -> None:
    data = bytearray(solid_png(4, 4))
    data[19] = 9  # low byte of the width, CRC left as it was
    info = inspect_image(bytes(data))
    assert info is not None
    assert info.width is None


def test_png_whose_first_chunk_is_not_header_is_damaged() -> None:
    data = PNG_SIGNATURE + TEXT + solid_png(4, 4)[len(PNG_SIGNATURE) :]
    assert inspect_image(data) == ImageInfo(format="png", width=None, height=None, has_alpha=None)


def test_png_with_unknown_colour_type_keeps_size_but_not_alpha() -> None:
    info = inspect_image(png_with_colour_type(5))
    assert info == ImageInfo(format="png", width=5, height=3, has_alpha=None)


def test_png_truncated_at_every_length() -> None:
    data = png_with_colour_type(3, before_idat=(PALETTE, TEXT, TRANSPARENCY))
    for length in range(len(data) + 1):
        info = inspect_image(data[:length])
        if length < len(PNG_SIGNATURE):
            assert info is None, length
            continue
        assert info is not None, length
        assert info.format == "png"
        if length < PNG_IHDR_END:
            assert (info.width, info.height, info.has_alpha) == (None, None, None), length
        else:
            assert (info.width, info.height) == (5, 3), length
            assert info.has_alpha in (True, None), length


def test_png_chunk_length_far_past_end_of_data() -> None:
    huge_chunk = struct.pack(">I", 0x7FFFFFFF) + b"zTXt" + b"abc"
    data = png_with_colour_type(2, before_idat=(huge_chunk,))
    info = inspect_image(data)
    assert info == ImageInfo(format="png", width=5, height=3, has_alpha=None)


# --- JPEG ----------------------------------------------------------------------------------


def test_jpeg_dimensions() -> None:
    info = inspect_image(jpeg_header_bytes(640, 480))
    assert info == ImageInfo(format="jpeg", width=640, height=480, has_alpha=False)
    assert info.content_type == "image/jpeg"


def test_jpeg_dimensions_after_other_segments() -> None:
    exif = jpeg_segment(0xE1, b"Exif\x00\x00" + b"\xff\xc0" * 20)
    icc = jpeg_segment(0xE2, b"ICC_PROFILE\x00" + bytes(range(256)))
    # DHT (C4) sits inside the SOF range and must not be read as a frame header.
    huffman = jpeg_segment(0xC4, b"\x00" + bytes(16) + b"\x08\x00\x08\x00")
    fill = b"\xff\xff"
    data = jpeg_with_segments_before_frame(1024, 77, exif, icc, huffman, fill)
    assert inspect_image(data) == ImageInfo(format="jpeg", width=1024, height=77, has_alpha=False)


def test_jpeg_progressive_frame() -> None:
    data = bytearray(jpeg_header_bytes(33, 44))
    data[data.index(b"\xff\xc0") + 1] = 0xC2
    info = inspect_image(bytes(data))
    assert info is not None
    assert (info.width, info.height) == (33, 44)


def test_jpeg_scan_before_frame_gives_unknown_size() -> None:
    data = b"\xff\xd8" + jpeg_segment(0xDA, b"\x00" * 8) + jpeg_header_bytes(10, 10)[2:]
    assert inspect_image(data) == ImageInfo(format="jpeg", width=None, height=None, has_alpha=False)


def test_jpeg_garbage_where_marker_expected_gives_unknown_size() -> None:
    info = inspect_image(b"\xff\xd8\xff\xe0\x00\x04ab" + b"not a marker")
    assert info is not None
    assert (info.width, info.height) == (None, None)


def test_jpeg_truncated_at_every_length() -> None:
    data = jpeg_with_segments_before_frame(300, 200, jpeg_segment(0xE1, b"Exif\x00\x00"))
    for length in range(len(data) + 1):
        info = inspect_image(data[:length])
        if length < 3:
            assert info is None, length
            continue
        assert info is not None, length
        assert info.format == "jpeg"
        assert (info.width, info.height) in ((None, None), (300, 200)), length
    assert inspect_image(data[: data.index(b"\xff\xd9")]) is not None


# --- WEBP ----------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [True, False])
def test_webp_extended_header(alpha: bool) -> None:
    info = inspect_image(webp_header_bytes(1536, 1024, alpha=alpha))
    assert info == ImageInfo(format="webp", width=1536, height=1024, has_alpha=alpha)
    assert info.content_type == "image/webp"


def test_webp_extended_header_largest_canvas() -> None:
    info = inspect_image(webp_header_bytes(1 << 24, 1, alpha=False))
    assert info is not None
    assert (info.width, info.height) == (1 << 24, 1)


@pytest.mark.parametrize("alpha", [True, False])
def test_webp_lossless_header(alpha: bool) -> None:
    info = inspect_image(vp8l_webp(16384, 3, alpha=alpha))
    assert info == ImageInfo(format="webp", width=16384, height=3, has_alpha=alpha)


def test_webp_lossless_with_wrong_signature_gives_unknown_size() -> None:
    data = bytearray(vp8l_webp(10, 10, alpha=True))
    data[20] = 0x2E
    assert inspect_image(bytes(data)) == ImageInfo(
        format="webp", width=None, height=None, has_alpha=None
    )


def test_webp_lossy_header() -> None:
    info = inspect_image(vp8_webp(800, 600))
    assert info == ImageInfo(format="webp", width=800, height=600, has_alpha=False)


def test_webp_lossy_with_wrong_start_code_gives_unknown_size() -> None:
    data = bytearray(vp8_webp(800, 600))
    data[23] = 0x00
    assert inspect_image(bytes(data)) == ImageInfo(
        format="webp", width=None, height=None, has_alpha=None
    )


def test_webp_with_unknown_first_chunk_gives_unknown_size() -> None:
    info = inspect_image(webp_container(b"ALPH", b"\x00" * 16))
    assert info == ImageInfo(format="webp", width=None, height=None, has_alpha=None)


@pytest.mark.parametrize(
    "data",
    [
        webp_header_bytes(5, 9, alpha=True),
        vp8l_webp(5, 9, alpha=True),
        vp8_webp(5, 9),
    ],
    ids=["VP8X", "VP8L", "VP8"],
)
def test_webp_truncated_at_every_length(data: bytes) -> None:
    for length in range(len(data) + 1):
        info = inspect_image(data[:length])
        if length < 12:
            assert info is None, length
            continue
        assert info is not None, length
        assert info.format == "webp"
        assert (info.width, info.height) in ((None, None), (5, 9)), length


# --- anything else -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00",
        b"just some text, definitely not a picture",
        b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00",
        b"\xff\xd8",
        b"\x89PNG\r\n",
        b"BM" + bytes(60),
    ],
)
def test_non_image_bytes_give_none(data: bytes) -> None:
    assert inspect_image(data) is None


def test_mutated_headers_never_raise() -> None:
    samples = [
        png_with_colour_type(3, before_idat=(PALETTE, TRANSPARENCY)),
        jpeg_with_segments_before_frame(9, 9, jpeg_segment(0xE1, b"x" * 10)),
        webp_header_bytes(9, 9, alpha=True),
        vp8l_webp(9, 9, alpha=False),
        vp8_webp(9, 9),
    ]
    rng = random.Random(20240601)
    for sample in samples:
        for _ in range(300):
            data = bytearray(sample)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(12, len(data))] = rng.randrange(256)
            cut = rng.randint(0, len(data))
            info = inspect_image(bytes(data[:cut]))
            assert info is None or isinstance(info, ImageInfo)


# --- input types ---------------------------------------------------------------------------


def test_bytearray_and_memoryview_inputs() -> None:
    data = solid_png(3, 2)
    expected = ImageInfo(format="png", width=3, height=2, has_alpha=True)
    assert inspect_image(bytearray(data)) == expected
    assert inspect_image(memoryview(data)) == expected
    assert inspect_image(memoryview(bytearray(data))) == expected


def test_memoryview_slice_inside_larger_buffer() -> None:
    data = jpeg_header_bytes(12, 34)
    buffer = bytearray(b"prefix" + data + b"suffix")
    view = memoryview(buffer)[len(b"prefix") : len(b"prefix") + len(data)]
    info = inspect_image(view)
    assert info is not None
    assert (info.width, info.height) == (12, 34)


def test_memoryview_with_wider_item_format() -> None:
    data = webp_header_bytes(100, 50, alpha=True)
    padded = data + bytes(-len(data) % 4)
    info = inspect_image(memoryview(padded).cast("I"))
    assert info == ImageInfo(format="webp", width=100, height=50, has_alpha=True)


def test_strided_memoryview() -> None:
    data = solid_png(8, 1)
    interleaved = bytes(byte for original in data for byte in (original, 0))
    info = inspect_image(memoryview(interleaved)[::2])
    assert info == ImageInfo(format="png", width=8, height=1, has_alpha=True)


def test_image_info_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="format"):
        ImageInfo(format="gif", width=1, height=1, has_alpha=False)


# --- the sample files of images_async.testing.sample_images ------------------------------


def pixel_bytes(data: bytes) -> bytes:
    """The decoded pixels of an image file, row after row."""
    with Image.open(io.BytesIO(data)) as picture:
        pixels: bytes = picture.tobytes()
    return pixels


@pytest.mark.parametrize("alpha", [True, False])
@pytest.mark.parametrize(("width", "height"), [(1, 1), (5, 3), (64, 64), (300, 2)])
def test_png_from_rows_round_trip(width: int, height: int, alpha: bool) -> None:
    channels = 4 if alpha else 3
    rows = [
        bytes((x * 7 + y * 13 + c) % 256 for x in range(width) for c in range(channels))
        for y in range(height)
    ]
    data = png_from_rows(width, height, iter(rows), alpha=alpha)
    assert inspect_image(data) == ImageInfo(
        format="png", width=width, height=height, has_alpha=alpha
    )
    assert image_size(data) == (width, height)
    assert pixel_bytes(data) == b"".join(rows)
    assert data == png_from_rows(width, height, rows, alpha=alpha)


def test_solid_png_pixels() -> None:
    rgba = (1, 2, 3, 4)
    assert pixel_bytes(solid_png(3, 2, rgba)) == bytes(rgba) * 6
    assert pixel_bytes(solid_png(3, 2, rgba, alpha=False)) == bytes(rgba[:3]) * 6


@pytest.mark.parametrize(
    ("width", "height", "rows", "message"),
    [
        (2, 2, [bytes(8)], "1 rows given for a height of 2"),
        (2, 2, [bytes(8)] * 3, "3 rows given for a height of 2"),
        (2, 2, [bytes(8), bytes(7)], "row 1 has 7 bytes"),
        (2, 1, [bytes(6)], "row 0 has 6 bytes, expected 8"),
        (0, 1, [b""], "width"),
        (1, 0, [], "height"),
    ],
    ids=["too-few-rows", "too-many-rows", "short-row", "rgb-row-for-rgba", "no-width", "no-height"],
)
def test_png_from_rows_rejects_rows_that_do_not_match(
    width: int, height: int, rows: list[bytes], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        png_from_rows(width, height, rows)


@pytest.mark.parametrize(
    ("image_format", "alpha", "mode"),
    [
        ("png", False, "RGB"),
        ("png", True, "RGBA"),
        ("jpeg", False, "RGB"),
        ("jpeg", True, "RGB"),  # JPEG has no alpha channel to keep
        ("webp", False, "RGB"),
        ("webp", True, "RGBA"),
    ],
)
def test_encoded_image_is_a_real_file_of_its_format(
    image_format: ImageFormat, alpha: bool, mode: str
) -> None:
    data = encoded_image(48, 30, image_format, alpha=alpha)
    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
        assert (picture.format, picture.size, picture.mode) == (
            image_format.upper(),
            (48, 30),
            mode,
        )
    info = inspect_image(data)
    assert info is not None
    assert (info.format, info.width, info.height) == (image_format, 48, 30)
    assert image_size(data) == (48, 30)
    assert data == encoded_image(48, 30, image_format, alpha=alpha)


@pytest.mark.parametrize(
    "data",
    [jpeg_header_bytes(60_000, 60_000), webp_header_bytes(20_000, 20_000, alpha=False)],
    ids=["jpeg", "webp"],
)
def test_image_size_reads_a_header_of_any_size_without_decoding(data: bytes) -> None:
    # Far past Pillow's decompression-bomb limit: only the header is read, as documented.
    expected = (60_000, 60_000) if data.startswith(b"\xff\xd8") else (20_000, 20_000)
    assert image_size(data) == expected


def test_image_size_rejects_other_bytes() -> None:
    for data in (jpeg_header_bytes(1, 1)[:4], b"GIF89a" + bytes(20), PNG_SIGNATURE + b"\x00\x00"):
        with pytest.raises(ValueError, match="not a PNG, JPEG or WEBP file"):
            image_size(data)


def test_jpeg_header_bytes_structure() -> None:
    data = jpeg_header_bytes(2, 3)
    assert data.startswith(b"\xff\xd8\xff\xe0")
    assert data.endswith(b"\xff\xd9")
    assert b"JFIF\x00" in data
    with pytest.raises(ValueError, match="width"):
        jpeg_header_bytes(65536, 1)


def test_webp_header_bytes_structure() -> None:
    data = webp_header_bytes(2, 3, alpha=False)
    assert data[:4] == b"RIFF"
    assert data[8:16] == b"WEBPVP8X"
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    assert struct.unpack_from("<I", data, 16)[0] == len(data) - 20
    with pytest.raises(ValueError, match="width"):
        webp_header_bytes(0, 1, alpha=True)
