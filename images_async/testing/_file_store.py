"""The emulator's Files store: uploaded files kept in memory, described as ``OpenAIFile``\\s.

This module owns what the Files endpoints remember: :class:`StoredFile` (one upload, its
content and metadata), :class:`FileStore` (every upload of one emulator, with the size
limits of :class:`~._config.EmulatorConfig` and lazy expiry), and how a file is described on
the wire (:func:`file_object`, the spec's ``OpenAIFile``). Refusals are
:class:`~._responses.APIError`\\s in the API's shape. Plain data: nothing here touches
aiohttp.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Iterator

import attrs

from ._responses import APIError, bad_request

__all__ = ["FILE_PURPOSES", "FileStore", "StoredFile", "file_object", "no_such_file"]

#: The purposes an upload may name (the spec's ``CreateFileRequest.purpose``).
FILE_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
#: How long a ``batch`` file lives when the upload sets no expiry (the spec: 30 days).
BATCH_FILE_LIFETIME = 30 * 24 * 3600
_ID_ALPHABET = string.ascii_letters + string.digits
_ID_LENGTH = 22


@attrs.frozen(kw_only=True)
class StoredFile:
    """One uploaded file, as the emulator keeps it."""

    id: str
    """``file-`` and 22 letters or digits, like the API's ids."""
    filename: str
    """The name the upload's form part gave."""
    purpose: str
    """The upload's ``purpose`` (``batch``, ``vision``, ``user_data``...)."""
    content: bytes = attrs.field(repr=lambda content: f"<{len(content)} bytes>")
    """The bytes uploaded, as received."""
    created_at: int
    """Unix time of the upload, in seconds."""
    expires_at: int | None = None
    """Unix time after which the file is gone (None: kept until deleted)."""

    def expired(self, now: float) -> bool:
        """Whether the file is gone at Unix time ``now``."""
        return self.expires_at is not None and self.expires_at <= now


def file_object(stored: StoredFile) -> dict[str, object]:
    """``stored`` as the API describes it (an ``OpenAIFile``); unset fields are left out."""
    described: dict[str, object] = {
        "id": stored.id,
        "object": "file",
        "bytes": len(stored.content),
        "created_at": stored.created_at,
        "filename": stored.filename,
        "purpose": stored.purpose,
        # Deprecated by the spec but still required by its schema; uploads are ready at once.
        "status": "processed",
    }
    if stored.expires_at is not None:
        described["expires_at"] = stored.expires_at
    return described


def no_such_file(file_id: str) -> APIError:
    """The 404 for an id the store does not hold (never uploaded, deleted or expired)."""
    return APIError(404, f"No such File object: {file_id}", param="id")


class FileStore:
    """Every file uploaded to one emulator, in upload order, with their total size bounded."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}

    def add(
        self,
        *,
        filename: str,
        purpose: str,
        content: bytes,
        expires_after: int | None,
        max_file_bytes: int,
        max_stored_bytes: int,
    ) -> StoredFile:
        """Keep a new file; refuses with 400 one too large for a file or for the store.

        ``expires_after`` is seconds from now (None: batch files get the API's 30 days,
        others never expire).
        """
        self._forget_expired(time.time())
        if len(content) > max_file_bytes:
            raise bad_request(
                f"File is too large: {len(content)} bytes, and a {purpose} file may have at "
                f"most {max_file_bytes}.",
                "file",
                "file_too_large",
            )
        if self.stored_bytes + len(content) > max_stored_bytes:
            raise bad_request(
                f"The file storage limit ({max_stored_bytes} bytes) would be exceeded; "
                "delete files to make room.",
                "file",
                "storage_limit_exceeded",
            )
        if expires_after is None and purpose == "batch":
            expires_after = BATCH_FILE_LIFETIME
        created_at = int(time.time())
        stored = StoredFile(
            id=self._new_id(),
            filename=filename,
            purpose=purpose,
            content=content,
            created_at=created_at,
            expires_at=None if expires_after is None else created_at + expires_after,
        )
        self._files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file called ``file_id``, unless it never was, was deleted, or expired."""
        stored = self._files.get(file_id)
        if stored is not None and stored.expired(time.time()):
            del self._files[file_id]
            return None
        return stored

    def require(self, file_id: str) -> StoredFile:
        """The file called ``file_id``; a 404 in the API's shape when there is none."""
        stored = self.get(file_id)
        if stored is None:
            raise no_such_file(file_id)
        return stored

    def delete(self, file_id: str) -> StoredFile:
        """Forget the file called ``file_id`` (404 when there is none); returns it."""
        stored = self.require(file_id)
        del self._files[file_id]
        return stored

    @property
    def stored_bytes(self) -> int:
        """The size of every file kept, together."""
        return sum(len(stored.content) for stored in self._files.values())

    def __iter__(self) -> Iterator[StoredFile]:
        """The files kept now, oldest upload first."""
        self._forget_expired(time.time())
        return iter(list(self._files.values()))

    def __len__(self) -> int:
        self._forget_expired(time.time())
        return len(self._files)

    def __repr__(self) -> str:
        return f"<FileStore files={len(self._files)} bytes={self.stored_bytes}>"

    def _forget_expired(self, now: float) -> None:
        for file_id, stored in list(self._files.items()):
            if stored.expired(now):
                del self._files[file_id]

    def _new_id(self) -> str:
        # Random like the API's ids; the loop ends on the first id not taken (nearly always
        # the first one: 62**22 ids), and is bounded by the number of files kept.
        for _ in range(len(self._files) + 1):
            file_id = "file-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))
            if file_id not in self._files:
                return file_id
        raise RuntimeError("no free file id")  # pragma: no cover - 62**22 ids
