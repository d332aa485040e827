"""Fixtures for tests that deliver Ctrl-C (SIGINT) to the main thread while it waits."""

from __future__ import annotations

import signal
import threading

import pytest


@pytest.fixture
def sigint_raises_keyboard_interrupt() -> None:
    """Skip unless a SIGINT sent now would raise KeyboardInterrupt in this thread."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread only")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("another SIGINT handler is installed")
