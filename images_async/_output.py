"""Output helpers of the command line: file names that never overwrite, saving a
response's images, progress bars."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ._async_images import AsyncImages
from ._models import ImagesResponse


def unique_path(directory: Path, stem: str, extension: str) -> Path:
    """A path in ``directory`` that does not exist yet: ``stem.ext``, ``stem-2.ext``, ..."""
    candidate = directory / f"{stem}.{extension}"
    counter = 2
    while candidate.exists():
        candidate = directory / f"{stem}-{counter}.{extension}"
        counter += 1
    return candidate


def write_new_file(directory: Path, stem: str, extension: str, content: bytes) -> Path:
    """Write ``content`` to a fresh file; never replaces an existing one, even in a race."""
    directory.mkdir(parents=True, exist_ok=True)
    for _ in range(1000):
        path = unique_path(directory, stem, extension)
        try:
            with path.open("xb") as file:
                file.write(content)
        except FileExistsError:
            continue  # another process took the name between the check and the open
        return path
    raise OSError(f"could not find a free file name for {stem}.{extension} in {directory}")


async def save_response(
    images: AsyncImages, response: ImagesResponse, out: Path, stem: str
) -> list[Path]:
    """Write every image of ``response`` to a new ``out/stem-<n>.<format>`` (n from 1).

    Images that came as URLs are downloaded with ``images``; returns the paths written.
    """
    extension = response.output_format or "png"
    saved = []
    for number, image in enumerate(response.data, start=1):
        content = await images.read_image(image)
        saved.append(write_new_file(out, f"{stem}-{number}", extension, content))
    return saved


def slug(text: str, limit: int = 40) -> str:
    """A file-name friendly rendering of a prompt."""
    words = "".join(c if c.isalnum() else "-" for c in text.lower()).split("-")
    return "-".join(word for word in words if word)[:limit].strip("-") or "image"


class Progress:
    """A progress bar when the optional ``tqdm`` is installed and stderr is a terminal."""

    def __init__(self, total: int, description: str) -> None:
        self._bar: Any = None
        if total > 1 and sys.stderr.isatty():
            try:
                from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=description, unit="req", leave=False)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
