"""The progress bar of the fan-out commands: shown only when it helps, never required.

It needs the optional ``tqdm`` (the ``cli`` extra) and a terminal on stderr; otherwise it
does nothing, so the output of piped and scripted runs holds nothing but results.
"""

from __future__ import annotations

import sys
from typing import Any


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

    @property
    def shown(self) -> bool:
        """Whether a bar is on the terminal."""
        return self._bar is not None

    def advance(self) -> None:
        """Count one more finished request."""
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
