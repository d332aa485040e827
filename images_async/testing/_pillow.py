"""Pillow, the one optional dependency of the emulator: imported here, or a clear error.

Every module of :mod:`images_async.testing` that reads or draws pictures takes Pillow's
modules from here, so a missing Pillow fails in one place, saying what to install. The
client itself never imports Pillow.
"""

from __future__ import annotations

try:
    from PIL import Image, ImageDraw, ImageFont, ImageOps
except ImportError as exc:  # pragma: no cover - the test runs it in a subprocess
    raise ImportError(
        "The images_async emulator draws and decodes pictures with Pillow, which is not "
        'installed: pip install "images-async[emulator]" (or "images-async[testing]").'
    ) from exc

__all__ = ["Image", "ImageDraw", "ImageFont", "ImageOps"]
