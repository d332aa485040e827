"""Writing images to disk: a whole file or none, never a half-written one."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomically(target: Path, content: bytes) -> None:
    """Write to a fresh file beside ``target``, flush it to disk, then rename it over."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    # 0o666 minus the umask, as open() would give: mkstemp's files are private (0600).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
