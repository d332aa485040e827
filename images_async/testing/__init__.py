"""Helpers for testing code that uses images_async without calling the real Images API.

* :class:`Emulator` — a local server that behaves like the Images API (validation, real
  deterministic PNGs, expiring URLs, event streams, rate-limit headers, injected faults);
  :func:`run_emulator_in_thread` serves one for synchronous code. It refuses damaged
  uploads and unreadable bodies with 400 like the API, and accepts model names it does not
  know, treating each like its closest known family (``dall-e-2*``, ``dall-e-3*``, a known
  GPT image model it extends; anything else like gpt-image-2).
* :class:`FaultPlan` — which calls fail and how (scripted, or at a seeded rate).
* ``images_async.testing.pytest_plugin`` — pytest fixtures serving the emulator.
* :mod:`images_async.testing.png` and :mod:`images_async.testing.pictures` — image bytes
  (writing PNGs, checking them strictly, decoding and drawing pixels).
"""

from .emulator import (
    Emulator,
    EmulatorConfig,
    RecordedCall,
    RecordedFile,
    run_emulator_in_thread,
)
from .faults import Fault, FaultPlan, parse_fault

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "FaultPlan",
    "RecordedCall",
    "RecordedFile",
    "parse_fault",
    "run_emulator_in_thread",
]
