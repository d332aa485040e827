"""pytest fixtures that serve the Images API emulator to a test suite.

Enable it with ``pytest_plugins = ["images_async.testing.pytest_plugin"]`` in the root
``conftest.py`` (or ``-p images_async.testing.pytest_plugin``); it needs pytest-asyncio.

* ``images_emulator_config`` — the :class:`EmulatorConfig` used; override this fixture to
  set API keys, latency or faults.
* ``images_emulator`` — a started :class:`Emulator` on 127.0.0.1 (inspect ``.requests``).
* ``emulator_images`` — an :class:`AsyncImages` pointed at it, without retries, closed
  after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .._async_images import AsyncImages
from .emulator import Emulator, EmulatorConfig

__all__ = ["EMULATOR_API_KEY", "emulator_images", "images_emulator", "images_emulator_config"]

#: The key ``emulator_images`` sends when the configuration accepts any key.
EMULATOR_API_KEY: str = "sk-emulator-0123456789abcdef"


@pytest.fixture
def images_emulator_config() -> EmulatorConfig:
    """The emulator's configuration: the defaults, unless a test suite overrides it."""
    return EmulatorConfig()


@pytest_asyncio.fixture
async def images_emulator(images_emulator_config: EmulatorConfig) -> AsyncIterator[Emulator]:
    """An Images API emulator serving on 127.0.0.1 with an ephemeral port."""
    async with Emulator(images_emulator_config) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def emulator_images(images_emulator: Emulator) -> AsyncIterator[AsyncImages]:
    """An :class:`AsyncImages` client of ``images_emulator`` (``max_retries=0``)."""
    keys = images_emulator.config.api_keys
    api_key = min(keys) if keys else EMULATOR_API_KEY
    async with AsyncImages(
        api_key=api_key, base_url=images_emulator.base_url, max_retries=0
    ) as client:
        yield client
