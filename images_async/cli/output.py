"""Every file the command line writes: the output directory, file names, and the writes.

``output_directory`` creates ``--out`` and proves it writable before a command sends its
first (paid) request. File names are built from a stem the CLI chose and an extension from
a fixed set (``png``, ``jpeg``, ``webp``; otherwise the type sniffed from the bytes, else
``bin``), never from text a server sent; and every path is resolved and checked to lie
directly inside the output directory before a byte is written. The names and the
never-replacing writes of new files are the core's (:mod:`images_async._saving`), shared
with ``StreamedResponse.save_images``; they are re-exported here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .. import AsyncImages, ImagesResponse
from .._saving import KNOWN_FORMATS as KNOWN_FORMATS
from .._saving import OutputError as OutputError
from .._saving import extension_for as extension_for
from .._saving import path_inside as path_inside
from .._saving import write_new_file as write_new_file

# -- the directory -------------------------------------------------------------------------


@contextlib.contextmanager
def output_directory(out: Path) -> Iterator[Path]:
    """Create ``out`` if needed and prove it writable; yields ``out``.

    On leaving, the directories this created are removed again if they are still empty, so
    a command that failed or was interrupted before writing anything leaves nothing behind.
    Directories that already existed, and anything with files in it, are never removed.
    """
    created: list[Path] = []
    try:
        try:
            _make_directories(out, created)
            _prove_writable(out)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.filename is not None and Path(exc.filename) != out:
                reason = f"{reason}: {exc.filename}"
            raise OutputError(f"cannot write into {out}: {reason}") from None
        yield out
    finally:
        for directory in reversed(created):  # the deepest first
            with contextlib.suppress(OSError):  # not empty (or gone): it stays as it is
                directory.rmdir()


def _make_directories(out: Path, created: list[Path]) -> None:
    """``mkdir -p out``, noting (in ``created``) exactly the directories made here."""
    missing = []
    for directory in (out, *out.parents):
        if directory.is_dir():
            break
        if directory.exists() or directory.is_symlink():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(directory))
        missing.append(directory)
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue  # made by someone else meanwhile: not ours to remove
        created.append(directory)


def _prove_writable(out: Path) -> None:
    # Permission bits do not tell (root, ACLs, read-only mounts): only a write does.
    descriptor, name = tempfile.mkstemp(dir=out, prefix=".images-async-probe-")
    os.close(descriptor)
    os.unlink(name)


# -- writes --------------------------------------------------------------------------------


def replace_files(directory: Path, files: Sequence[tuple[str, bytes]]) -> list[Path]:
    """Write ``(name, content)`` pairs into ``directory`` as one set: all or none.

    Each file goes to a hidden temporary name first; only when all are written are they
    renamed into place (replacing files of the same names). Any failure, Ctrl-C included,
    removes the temporary files and any of the set already renamed.
    """
    targets = [path_inside(directory, name) for name, _ in files]
    pending: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for target, (_, content) in zip(targets, files, strict=True):
            descriptor, name = tempfile.mkstemp(
                dir=directory, prefix=f".{target.name}.", suffix=".part"
            )
            pending.append((Path(name), target))
            with open(descriptor, "wb") as file:
                file.write(content)
        for temporary, target in pending:
            os.replace(temporary, target)
            placed.append(target)
    except BaseException:
        for path in [temporary for temporary, _ in pending] + placed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
    return targets


async def save_response(
    images: AsyncImages, response: ImagesResponse, out: Path, stem: str
) -> list[Path]:
    """Write every image of ``response`` to a new ``out/stem-<n>.<ext>`` (n from 1).

    Images that came as URLs are downloaded with ``images``, all of them before the first
    file is written; returns the paths written.
    """
    contents = [await images.read_image(image) for image in response.data]
    return [
        write_new_file(
            out, f"{stem}-{number}", extension_for(response.output_format, content), content
        )
        for number, content in enumerate(contents, start=1)
    ]


def slug(text: str, limit: int = 40) -> str:
    """A file-name friendly rendering of a prompt."""
    words = "".join(c if c.isalnum() else "-" for c in text.lower()).split("-")
    return "-".join(word for word in words if word)[:limit].strip("-") or "image"
