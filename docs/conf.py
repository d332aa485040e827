"""Sphinx configuration: furo theme, MyST Markdown pages, API pages from the docstrings.

Built with warnings as errors (``nox -s docs`` runs ``sphinx-build -W -n``). No extension
fetches anything from the network, so the docs build offline.
"""

from __future__ import annotations

import images_async

project = "images-async"
author = "images-async maintainers"
release = images_async.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"images-async {release}"
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"

autodoc_default_options = {"members": True, "show-inheritance": True}

# Types from other libraries and the standard library cannot be cross-referenced without
# fetching their inventories; name them here instead of turning nitpicky mode off.
nitpick_ignore_regex = [
    (r"py:.*", r"(aiohttp|multidict|yarl|attrs|cattrs)\..*"),
    (r"py:.*", r"(CIMultiDictProxy|ClientSession|URL|MultiMapping)(\[.*\])?"),
    (r"py:.*", r"(collections\.abc|typing|os|pathlib|datetime|types|asyncio)\..*"),
    (r"py:.*", r"(Path|PathLike|IO|TracebackType|timedelta|Self|Any|SSLContext)"),
    (r"py:.*", r"ssl\..*"),
    (r"py:.*", r"(TimeoutError|ValueError|TypeError|RuntimeError|Exception)"),
    # Type aliases, documented as data in api.md, appear in signatures as class references.
    (r"py:class", r"(FileTypes|ImageRequest|HTTPSession)"),
]
