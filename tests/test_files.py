"""Every accepted form of a file input, sent through the real client to the recording server.

Each test checks the multipart part exactly as it arrived: its name, file name, content type
and bytes. Error cases also check that nothing reached the server.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from plugins.api_server import FakeImagesAPI, Part

from images_async import (
    AsyncImages,
    InvalidFileError,
    InvalidRequestError,
    UnsupportedFileInputError,
)
from images_async.testing.sample_images import jpeg_header_bytes, solid_png, webp_header_bytes

README = Path(__file__).resolve().parents[1] / "README.md"
PNG = solid_png(8, 8)
GIF = b"GIF89a\x08\x00\x08\x00: a format the Images API does not take"
JPEG = jpeg_header_bytes(16, 8)
WEBP = webp_header_bytes(16, 16, alpha=True)
PROMPT = "add a party hat"


def file_parts(fake_api: FakeImagesAPI) -> list[Part]:
    """The file parts of the last request, in the order they were sent."""
    return [part for part in fake_api.last.parts if part.filename is not None]


async def send_one(images: AsyncImages, fake_api: FakeImagesAPI, image: Any) -> Part:
    """Edit with one image and return the single file part the server received."""
    await images.edit(image=image, prompt=PROMPT)
    (part,) = file_parts(fake_api)
    return part


@pytest.fixture
def png_path(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    return path


# --- content forms -------------------------------------------------------------------------


async def test_str_path_is_read(
    images: AsyncImages, fake_api: FakeImagesAPI, png_path: Path
) -> None:
    part = await send_one(images, fake_api, str(png_path))
    assert part == Part(name="image", value=PNG, filename="cat.png", content_type="image/png")


async def test_pathlib_path_is_read(
    images: AsyncImages, fake_api: FakeImagesAPI, png_path: Path
) -> None:
    part = await send_one(images, fake_api, png_path)
    assert part == Part(name="image", value=PNG, filename="cat.png", content_type="image/png")


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview], ids=lambda wrap: wrap.__name__)
async def test_bytes_like_content(
    images: AsyncImages, fake_api: FakeImagesAPI, wrap: type[Any]
) -> None:
    part = await send_one(images, fake_api, wrap(PNG))
    assert part == Part(name="image", value=PNG, filename="image.png", content_type="image/png")


async def test_open_binary_file_takes_its_base_name(
    images: AsyncImages, fake_api: FakeImagesAPI, png_path: Path
) -> None:
    with png_path.open("rb") as file:
        part = await send_one(images, fake_api, file)
    assert part == Part(name="image", value=PNG, filename="cat.png", content_type="image/png")


async def test_bytesio_without_a_name(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    part = await send_one(images, fake_api, io.BytesIO(PNG))
    assert part == Part(name="image", value=PNG, filename="image.png", content_type="image/png")


async def test_bytesio_is_read_from_its_current_position(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    # Documented behaviour: a file object is read from where it stands, like open().read().
    file = io.BytesIO(b"skipped header" + PNG)
    file.seek(len(b"skipped header"))
    part = await send_one(images, fake_api, file)
    assert part.value == PNG
    assert part.content_type == "image/png"


async def test_open_file_is_read_from_its_current_position(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    path = tmp_path / "prefixed.png"
    path.write_bytes(b"0123456789" + PNG)
    with path.open("rb") as file:
        file.seek(10)
        part = await send_one(images, fake_api, file)
    assert part == Part(name="image", value=PNG, filename="prefixed.png", content_type="image/png")


async def test_filename_and_bytes(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    part = await send_one(images, fake_api, ("photo.png", PNG))
    assert part == Part(name="image", value=PNG, filename="photo.png", content_type="image/png")


@pytest.mark.parametrize("as_str", [False, True], ids=["Path", "str"])
async def test_filename_and_path_reads_the_path(
    images: AsyncImages, fake_api: FakeImagesAPI, png_path: Path, as_str: bool
) -> None:
    content = str(png_path) if as_str else png_path
    part = await send_one(images, fake_api, ("renamed.png", content))
    # The file's bytes, not the path's text, under the given name.
    assert part == Part(name="image", value=PNG, filename="renamed.png", content_type="image/png")


async def test_filename_and_file_object(
    images: AsyncImages, fake_api: FakeImagesAPI, png_path: Path
) -> None:
    with png_path.open("rb") as file:
        part = await send_one(images, fake_api, ("renamed.png", file))
    assert part == Part(name="image", value=PNG, filename="renamed.png", content_type="image/png")


async def test_explicit_content_type_is_kept(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    part = await send_one(images, fake_api, ("custom.png", PNG, "image/x-custom"))
    assert part == Part(
        name="image", value=PNG, filename="custom.png", content_type="image/x-custom"
    )


async def test_content_type_none_in_a_triple_is_sniffed(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    part = await send_one(images, fake_api, ("custom", JPEG, None))
    assert part == Part(name="image", value=JPEG, filename="custom", content_type="image/jpeg")


async def test_none_filename_gets_a_default(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    part = await send_one(images, fake_api, (None, PNG))
    assert part == Part(name="image", value=PNG, filename="image.png", content_type="image/png")


# --- content type and file name ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type", "filename"),
    [
        (PNG, "image/png", "image.png"),
        (JPEG, "image/jpeg", "image.jpeg"),
        (WEBP, "image/webp", "image.webp"),
    ],
    ids=["png", "jpeg", "webp"],
)
async def test_content_type_sniffed_from_bytes(
    images: AsyncImages,
    fake_api: FakeImagesAPI,
    content: bytes,
    content_type: str,
    filename: str,
) -> None:
    part = await send_one(images, fake_api, content)
    assert part == Part(name="image", value=content, filename=filename, content_type=content_type)


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("photo.jpg", PNG, "image/png"),
        ("photo.png", WEBP, "image/webp"),
        ("blob.bin", JPEG, "image/jpeg"),
        ("no-extension", PNG, "image/png"),
    ],
)
async def test_bytes_win_over_the_file_name(
    images: AsyncImages, fake_api: FakeImagesAPI, name: str, content: bytes, content_type: str
) -> None:
    part = await send_one(images, fake_api, (name, content))
    assert part.content_type == content_type
    assert part.filename == name  # the caller's name is kept as given


async def test_path_with_misleading_extension_is_sniffed(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    path = tmp_path / "actually-a-png.jpg"
    path.write_bytes(PNG)
    part = await send_one(images, fake_api, path)
    assert part.content_type == "image/png"
    assert part.filename == "actually-a-png.jpg"


@pytest.mark.parametrize(
    ("upload", "content_type"),
    [
        (GIF, "application/octet-stream"),  # neither the bytes nor a name say what it is
        (("anim.gif", GIF), "image/gif"),
        (("notes.txt", GIF), "text/plain"),
        (("anim.gif", GIF, "image/x-mine"), "image/x-mine"),
    ],
    ids=["bytes", "gif-name", "txt-name", "explicit-type"],
)
@pytest.mark.parametrize("route", ["unknown-model", "validation-off"])
async def test_other_files_pass_through_typed_by_their_name_where_nothing_checks_them(
    images: AsyncImages, fake_api: FakeImagesAPI, upload: Any, content_type: str, route: str
) -> None:
    if route == "unknown-model":
        await images.edit(image=upload, prompt=PROMPT, model="gpt-image-9")
    else:
        unchecked = images.with_options(validate_requests=False)
        await unchecked.edit(image=upload, prompt=PROMPT, model="gpt-image-1")
    (part,) = file_parts(fake_api)
    assert (part.content_type, part.value) == (content_type, GIF)


async def test_other_files_are_refused_for_known_models(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    for model in ("gpt-image-1", None):
        with pytest.raises(InvalidFileError, match="is not a PNG, JPEG or WEBP image"):
            await images.edit(image=("anim.gif", GIF), prompt=PROMPT, model=model)
    assert fake_api.requests == []


def test_the_readme_says_when_an_upload_goes_out_as_octet_stream() -> None:
    """The pass-through above is what the README describes: no "never octet-stream" claim."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    (bullet,) = [item for item in text.split("- **") if item.startswith("Exact on the wire.")]
    assert "never sent as `application/octet-stream`" not in bullet
    assert "`application/octet-stream`" in bullet
    assert "`validate_requests=False`" in bullet


async def test_control_characters_in_a_file_name_are_percent_encoded(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    # A raw CR/LF would start a new part header; browsers percent-encode them too.
    part = await send_one(images, fake_api, ("a\r\nX-Injected: 1.png", PNG))
    assert part.filename == "a%0D%0AX-Injected: 1.png"
    assert part.value == PNG


async def test_quotes_and_non_ascii_file_names_arrive_intact(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    part = await send_one(images, fake_api, ('café "noir".png', PNG))
    assert part.filename == 'café "noir".png'


# --- bad inputs: an error, and nothing sent ------------------------------------------------


async def test_text_mode_file_is_rejected(
    images: AsyncImages, fake_api: FakeImagesAPI, png_path: Path
) -> None:
    with png_path.open("r", encoding="latin-1") as file:
        text_file: Any = file  # mypy already rejects this call; the check is for untyped code
        with pytest.raises(UnsupportedFileInputError, match="text mode") as caught:
            await images.edit(image=text_file, prompt=PROMPT)
    assert isinstance(caught.value, TypeError)
    assert caught.value.param == "image"
    assert fake_api.requests == []


async def test_string_io_is_rejected(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    string_io: Any = io.StringIO("not bytes")
    with pytest.raises(TypeError, match="text mode"):
        await images.edit(image=string_io, prompt=PROMPT)
    assert fake_api.requests == []


async def test_reader_returning_text_is_rejected(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    class TextReader:
        def read(self) -> str:
            return "not bytes"

    reader: Any = TextReader()
    with pytest.raises(UnsupportedFileInputError, match="gave str, not bytes"):
        await images.edit(image=reader, prompt=PROMPT)
    assert fake_api.requests == []


@pytest.mark.parametrize("value", [42, {"file": PNG}, 3.5, None], ids=repr)
async def test_unsupported_types_are_rejected(
    images: AsyncImages, fake_api: FakeImagesAPI, value: Any
) -> None:
    for image in (value, ("name.png", value), [PNG, value]):
        with pytest.raises(UnsupportedFileInputError, match="cannot upload a") as caught:
            await images.edit(image=image, prompt=PROMPT)
        assert isinstance(caught.value, TypeError)
    with pytest.raises(UnsupportedFileInputError, match="cannot upload a"):
        await images.create_variation(image=value)
    assert fake_api.requests == []


@pytest.mark.parametrize("wrap", [str, Path, lambda path: ("renamed.png", path)])
async def test_missing_path_names_the_path(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path, wrap: Any
) -> None:
    missing = tmp_path / "nowhere" / "missing.png"
    with pytest.raises(InvalidFileError) as caught:
        await images.edit(image=wrap(missing), prompt=PROMPT)
    assert str(missing) in str(caught.value)
    assert caught.value.param == "image"
    assert isinstance(caught.value, ValueError)
    assert fake_api.requests == []


async def test_directory_path_is_an_invalid_file(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    with pytest.raises(InvalidFileError, match=str(tmp_path)):
        await images.edit(image=tmp_path, prompt=PROMPT)
    assert fake_api.requests == []


async def test_empty_inputs_are_invalid(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for value in (empty, str(empty), b"", io.BytesIO(), ("empty.png", b""), memoryview(b"")):
        with pytest.raises(InvalidFileError, match="empty"):
            await images.edit(image=value, prompt=PROMPT)
    exhausted = io.BytesIO(PNG)
    exhausted.read()
    with pytest.raises(InvalidFileError, match="empty"):
        await images.edit(image=exhausted, prompt=PROMPT)
    assert fake_api.requests == []


async def test_closed_file_object_is_an_invalid_file(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    closed = io.BytesIO(PNG)
    closed.close()
    with pytest.raises(InvalidFileError, match="cannot read the file object"):
        await images.edit(image=closed, prompt=PROMPT)
    assert fake_api.requests == []


async def test_four_tuple_is_rejected(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    four: Any = ("a.png", PNG, "image/png", "extra")
    with pytest.raises(UnsupportedFileInputError, match="not 4 items"):
        await images.create_variation(image=four)
    with pytest.raises(UnsupportedFileInputError, match="not 4 items"):
        await images.edit(image=PNG, mask=four, prompt=PROMPT)
    assert fake_api.requests == []


async def test_four_tuple_as_edit_image_is_an_error(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # edit() reads a tuple that is not (filename, content[, type]) as a list of images, so
    # this becomes four images, the first a (missing) path "a.png": still an error.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidRequestError):
        await images.edit(image=("a.png", PNG, "image/png", "extra"), prompt=PROMPT)
    assert fake_api.requests == []


async def test_control_characters_in_a_content_type_are_rejected(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    with pytest.raises(InvalidFileError, match="content type"):
        await images.edit(image=("a.png", PNG, "image/png\r\nX-Injected: 1"), prompt=PROMPT)
    assert fake_api.requests == []


# --- edit: one image, several, and the mask ------------------------------------------------


async def test_one_image_in_a_list_is_sent_as_image(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.edit(image=[PNG], prompt=PROMPT)
    assert [part.name for part in file_parts(fake_api)] == ["image"]


async def test_several_images_are_repeated_image_array_parts_in_order(
    images: AsyncImages, fake_api: FakeImagesAPI, png_path: Path
) -> None:
    red, green = solid_png(8, 8, (255, 0, 0, 255)), solid_png(8, 8, (0, 255, 0, 255))
    await images.edit(image=[("red.png", red), png_path, io.BytesIO(green), JPEG], prompt=PROMPT)
    assert file_parts(fake_api) == [
        Part(name="image[]", value=red, filename="red.png", content_type="image/png"),
        Part(name="image[]", value=PNG, filename="cat.png", content_type="image/png"),
        Part(name="image[]", value=green, filename="image.png", content_type="image/png"),
        Part(name="image[]", value=JPEG, filename="image.jpeg", content_type="image/jpeg"),
    ]


@pytest.mark.parametrize("kind", ["bytes", "paths", "pairs"])
async def test_tuple_of_file_values_counts_as_a_list(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path, kind: str
) -> None:
    contents = [solid_png(8, 8, (index * 40, 0, 0, 255)) for index in range(3)]
    paths = [tmp_path / f"{index}.png" for index in range(3)]
    for path, content in zip(paths, contents, strict=True):
        path.write_bytes(content)
    value: tuple[Any, ...]
    if kind == "bytes":
        value = tuple(contents)
    elif kind == "paths":
        value = tuple(paths)
    else:
        value = tuple((f"{index}.png", content) for index, content in enumerate(contents))
    await images.edit(image=value, prompt=PROMPT)
    parts = file_parts(fake_api)
    assert [part.name for part in parts] == ["image[]"] * 3
    assert [part.value for part in parts] == contents


async def test_filename_content_pair_is_one_image_not_two(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    await images.edit(image=("photo.png", PNG), prompt=PROMPT)
    assert [(part.name, part.filename) for part in file_parts(fake_api)] == [("image", "photo.png")]


async def test_mask_is_sent_as_mask_after_the_images(
    images: AsyncImages, fake_api: FakeImagesAPI
) -> None:
    mask = solid_png(8, 8, (0, 0, 0, 0))
    await images.edit(image=[PNG, PNG], mask=mask, prompt=PROMPT)
    parts = file_parts(fake_api)
    assert [part.name for part in parts] == ["image[]", "image[]", "mask"]
    assert parts[-1] == Part(name="mask", value=mask, filename="mask.png", content_type="image/png")


async def test_mask_from_a_path(
    images: AsyncImages, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    mask = solid_png(8, 8, (0, 0, 0, 0))
    mask_path = tmp_path / "holes.png"
    mask_path.write_bytes(mask)
    await images.edit(image=PNG, mask=mask_path, prompt=PROMPT)
    assert file_parts(fake_api)[-1] == Part(
        name="mask", value=mask, filename="holes.png", content_type="image/png"
    )


async def test_variation_image_part(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    await images.create_variation(image=("square.png", PNG))
    assert file_parts(fake_api) == [
        Part(name="image", value=PNG, filename="square.png", content_type="image/png")
    ]


async def test_large_upload_arrives_intact(images: AsyncImages, fake_api: FakeImagesAPI) -> None:
    padding = bytes(range(256)) * (8 * 1024 * 1024 // 256)
    big = jpeg_header_bytes(1024, 1024) + padding
    await images.edit(image=("big.jpg", big), prompt=PROMPT, model="gpt-image-1")
    (part,) = file_parts(fake_api)
    assert part.content_type == "image/jpeg"
    assert len(part.value) == len(big)
    assert part.value == big


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        pytest.param(("a.png", "b.png", "c.png"), "content type", id="three-paths-in-a-tuple"),
        pytest.param((7, solid_png(8, 8)), "file name", id="filename-not-a-string"),
        pytest.param(("v.png", solid_png(8, 8), 5), "content type", id="content-type-not-a-string"),
    ],
)
async def test_malformed_file_tuples_are_refused_clearly(
    images: AsyncImages, fake_api: FakeImagesAPI, image: Any, fragment: str
) -> None:
    with pytest.raises(UnsupportedFileInputError, match=fragment) as caught:
        await images.create_variation(image=image)
    assert caught.value.param == "image"
    assert isinstance(caught.value, TypeError)
    assert fake_api.requests == []
