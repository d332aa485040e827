"""The API reference documents every public name, under the name users import it by."""

from __future__ import annotations

import re
from pathlib import Path

import images_async

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_every_public_name_has_a_reference_entry() -> None:
    documented = set(re.findall(r"images_async\.(\w+)", API_PAGE.read_text(encoding="utf-8")))
    assert sorted(set(images_async.__all__) - documented) == []


def test_public_classes_say_they_live_in_the_package() -> None:
    classes = [getattr(images_async, name) for name in images_async.__all__]
    misplaced = [
        cls.__qualname__
        for cls in classes
        # HTTPSession names aiohttp's own class, which stays where aiohttp put it.
        if isinstance(cls, type) and cls.__module__.startswith("images_async.")
    ]
    assert misplaced == []
