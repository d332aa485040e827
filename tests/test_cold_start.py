"""``import images_async`` loads what constructing a client needs, and the rest on first use.

Each check runs in a fresh interpreter, since this test session has long since imported
everything. What is measured is which modules get imported, never how long that takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import images_async

#: Modules a client's construction does not need: each is imported when first used.
LOADED_ON_FIRST_USE = [
    "images_async._fanout",
    "images_async._pacing",
    "images_async._request_values",
    "images_async._prepare",
    "images_async._params",
    "images_async._endpoints",
    "images_async._files",
    "images_async._imageinfo",
    "images_async._response",
    "images_async._converter",
    "images_async._models",
    "images_async._sending",
    "images_async._views",
    "images_async._sync_client",
    "images_async._loop_thread",
    "images_async.cli",
    "images_async.testing",
    "cattrs",
]


def run_fresh(code: str) -> object:
    """What ``code`` (which sets ``result``) leaves in ``result``, run in a new interpreter."""
    script = textwrap.dedent(code) + "\nimport json, sys\njson.dump(result, sys.stdout)\n"
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_importing_and_constructing_a_client_leaves_the_rest_unloaded() -> None:
    loaded = run_fresh(
        f"""
        import sys
        import images_async
        images_async.AsyncImages(api_key="sk-test")
        result = [name for name in {LOADED_ON_FIRST_USE!r} if name in sys.modules]
        """
    )
    assert loaded == []


def test_every_public_name_resolves_and_is_listed() -> None:
    found = run_fresh(
        """
        import typing
        import images_async
        listed = dir(images_async)
        values = {name: getattr(images_async, name) for name in images_async.__all__}
        result = {
            "missing_from_dir": [name for name in images_async.__all__ if name not in listed],
            "modules": sorted(
                {
                    value.__module__
                    for value in values.values()
                    if isinstance(value, (type, typing.TypeVar))
                }
            ),
        }
        """
    )
    # HTTPSession names aiohttp's own class, which stays where aiohttp put it.
    assert found == {"missing_from_dir": [], "modules": ["aiohttp.client", "images_async"]}


def test_star_import_gives_every_public_name() -> None:
    names = run_fresh(
        """
        namespace = {}
        exec("from images_async import *", namespace)
        result = sorted(name for name in namespace if name != "__builtins__")
        """
    )
    assert names == sorted(images_async.__all__)


def test_classes_first_loaded_by_a_call_say_they_live_in_the_package() -> None:
    # The sync facade imports nearly every module; the classes it loaded say they are
    # ``images_async.X`` as soon as any lazy name is looked up, not only the one asked for.
    modules = run_fresh(
        """
        import images_async
        images_async.Images
        import images_async._models as models
        result = [models.ImagesResponse.__module__, models.Usage.__module__]
        """
    )
    assert modules == ["images_async", "images_async"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    message = run_fresh(
        """
        import images_async
        try:
            images_async.NoSuchName
        except AttributeError as error:
            result = str(error)
        """
    )
    assert message == "module 'images_async' has no attribute 'NoSuchName'"
