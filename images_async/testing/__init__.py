"""Helpers for testing code that uses images_async without calling the real Images API.

* :class:`Emulator` — a local server that behaves like the Images API (validation, real
  deterministic pictures of the prompt in the requested format, size, compression,
  background and quality, expiring URLs, event streams, rate-limit headers, injected
  faults); it needs Pillow (``pip install "images-async[emulator]"``);
  :func:`run_emulator_in_thread` serves one for synchronous code. It refuses damaged
  uploads and unreadable bodies with 400 like the API, and accepts model names it does not
  know, treating each like its closest known family (``dall-e-2*``, ``dall-e-3*``, a known
  GPT image model it extends; anything else like gpt-image-2). It serves Azure OpenAI's
  layout too (``emulator.azure_endpoint``), checking ``api-version``, the ``api-key`` or
  bearer token, and the deployment, so Azure clients can be tested offline. It keeps files
  uploaded to its Files endpoints (``emulator.files``), runs image batches through its
  Batch API (``/v1/batches``, at the pace of ``EmulatorConfig.batch_*``), and takes JSON
  edits whose images are references (data URLs, file ids, URLs on 127.0.0.1, ::1 or
  localhost). With ``EmulatorConfig.dashboard`` (``images-async serve`` turns it on) it
  also serves a live page of its recent calls and batches at ``GET /``.
* :class:`EmulatorConfig` — how it behaves; :class:`RecordedCall` — what it saw;
  :class:`FileStore` and :class:`StoredFile` — the files uploaded to it.
* :class:`FaultPlan` — which calls fail and how (scripted, or at a seeded rate).
* ``images_async.testing.pytest_plugin`` — pytest fixtures serving the emulator.
* :mod:`images_async.testing.sample_images` — image files to upload in tests: real PNG,
  JPEG and WEBP pictures, their sizes, and header-only skeletons for the client's checks;
  :mod:`images_async.testing.pictures` — what the emulator draws, and how it encodes it.

The names are loaded when first used, so importing this package (or a small helper such
as :mod:`~images_async.testing.sample_images`) does not load the server side of aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._config import EmulatorConfig, RecordedCall, RecordedFile
    from ._file_store import FileStore, StoredFile
    from .emulator import Emulator, run_emulator_in_thread
    from .faults import Fault, FaultPlan, parse_fault

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "FaultPlan",
    "FileStore",
    "RecordedCall",
    "RecordedFile",
    "StoredFile",
    "parse_fault",
    "run_emulator_in_thread",
]

# Public name -> the submodule defining it.
_HOMES = {
    "Emulator": ".emulator",
    "run_emulator_in_thread": ".emulator",
    "EmulatorConfig": "._config",
    "RecordedCall": "._config",
    "RecordedFile": "._config",
    "FileStore": "._file_store",
    "StoredFile": "._file_store",
    "Fault": ".faults",
    "FaultPlan": ".faults",
    "parse_fault": ".faults",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
