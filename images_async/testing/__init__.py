"""Helpers for testing code that uses images_async without calling the real Images API.

* :class:`Emulator` — a local server that behaves like the Images API (validation, real
  deterministic PNGs, expiring URLs, event streams, rate-limit headers, injected faults);
  :func:`run_emulator_in_thread` serves one for synchronous code.
* :class:`FaultPlan` — which calls fail and how (scripted, or at a seeded rate).
* ``images_async.testing.pytest_plugin`` — pytest fixtures serving the emulator.
* :mod:`images_async.testing.png` and :mod:`images_async.testing.pictures` — image bytes.
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
