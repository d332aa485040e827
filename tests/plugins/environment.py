"""Fixtures that keep the settings of the machine running the tests out of them.

``no_proxy_settings`` removes every proxy variable (both spellings; ``REQUEST_METHOD`` too,
which makes some libraries ignore ``HTTP_PROXY``) and points ``HOME`` at an empty directory
with no ``NETRC``, so no ``.netrc`` credentials count either. A test module that reads the
environment uses it with ``pytestmark = pytest.mark.usefixtures("no_proxy_settings")``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@pytest.fixture
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy variable and no ``.netrc`` of the machine running the tests counts."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
