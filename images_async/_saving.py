"""Writing images to disk: a whole file or none, and new files that never replace another.

Two kinds of write live here. :func:`write_atomically` replaces a file the caller named
(``save_image``). The rest makes *new* files in a directory, under names built from a stem
the caller chose and an extension from a fixed set (``png``, ``jpeg``, ``webp``; otherwise
the format sniffed from the bytes, else ``bin``), never from text a server sent: ``stem-2``,
``stem-3``, ... when a name is taken. Every path is checked to lie directly inside the
directory. A file is written under a hidden temporary name beside its target and only
linked to its final name once complete, so a reader never sees half an image and an
existing file is never replaced, not even by a race with another process.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

#: The formats the API produces; a file extension is one of these or ``bin``.
KNOWN_FORMATS = frozenset({"png", "jpeg", "webp"})
#: Bounds the search for a free name, so a directory full of taken names fails, not hangs.
MAX_NAME_TRIES = 1000


class OutputError(OSError):
    """The output directory cannot be used, or a name would leave it."""


def temporary_beside(target: Path) -> Path:
    """A hidden name in ``target``'s directory for the file that will become ``target``."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")


def open_new(path: Path) -> int:
    """Create ``path`` for writing (it must not exist); returns the descriptor."""
    # 0o666 minus the umask, as open() would give: mkstemp's files are private (0600).
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)


def write_new(path: Path, content: bytes) -> None:
    """Create ``path`` (it must not exist) holding ``content``, flushed to disk."""
    with os.fdopen(open_new(path), "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())


def write_atomically(target: Path, content: bytes) -> None:
    """Write to a fresh file beside ``target``, flush it to disk, then rename it over."""
    temporary = temporary_beside(target)
    try:
        write_new(temporary, content)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# -- names ---------------------------------------------------------------------------------


def extension_for(declared: str | None, head: bytes) -> str:
    """The file extension for an image: ``declared`` when it is a known format, else the
    format sniffed from ``head`` (the image's first bytes), else ``bin``."""
    if declared in KNOWN_FORMATS:
        return declared
    # Not at import: building a client loads this module, and most answers name the format.
    from ._imageinfo import inspect_image

    info = inspect_image(head)
    return info.format if info is not None else "bin"


def path_inside(directory: Path, name: str) -> Path:
    """``directory / name``; raises :class:`OutputError` unless that is a plain name that
    resolves (symbolic links followed) to an entry directly inside ``directory``."""
    path = directory / name
    if Path(name).name != name or path.resolve().parent != directory.resolve():
        raise OutputError(f"refusing to write {name!r}: it would land outside {directory}")
    return path


def free_path(directory: Path, stem: str, extension: str) -> Path:
    """A path in ``directory`` that does not exist yet: ``stem.ext``, ``stem-2.ext``, ..."""
    for counter in range(1, MAX_NAME_TRIES + 1):
        suffix = "" if counter == 1 else f"-{counter}"
        candidate = path_inside(directory, f"{stem}{suffix}.{extension}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise OutputError(f"could not find a free file name for {stem}.{extension} in {directory}")


# -- new files -----------------------------------------------------------------------------


def _link_new(temporary: Path, target: Path) -> None:
    """Give the complete file ``temporary`` the name ``target``; FileExistsError if taken."""
    try:
        # A hard link fails when the name exists: the one atomic "rename, never replace".
        os.link(temporary, target)
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (some network and FAT file systems). Windows' rename refuses
        # an existing target; elsewhere a race within this instant could still replace one.
        if target.exists() or target.is_symlink():
            raise FileExistsError(target) from None
        os.rename(temporary, target)
        return
    temporary.unlink()


def place_new(temporary: Path, directory: Path, stem: str, extension: str) -> Path:
    """Move the complete file ``temporary`` to a free name (see :func:`free_path`) in
    ``directory``; returns that name. An existing file is never replaced."""
    for _ in range(MAX_NAME_TRIES):
        target = free_path(directory, stem, extension)
        try:
            _link_new(temporary, target)
        except FileExistsError:
            continue  # another process took the name between the check and the link
        return target
    raise OutputError(f"could not find a free file name for {stem}.{extension} in {directory}")


def write_new_file(directory: Path, stem: str, extension: str, content: bytes) -> Path:
    """Write ``content`` to a new file in ``directory`` (see :func:`place_new`): complete
    on disk before it gets its name, never replacing an existing file."""
    temporary = temporary_beside(path_inside(directory, f"{stem}.{extension}"))
    try:
        write_new(temporary, content)
        return place_new(temporary, directory, stem, extension)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
