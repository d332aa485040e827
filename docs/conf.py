"""Sphinx configuration: furo theme, MyST Markdown pages, API pages from the docstrings.

Built with warnings as errors (``nox -s docs`` runs ``sphinx-build -W -n``). No extension
fetches anything from the network, so the docs build offline.
"""

from __future__ import annotations

from sphinx.application import Sphinx

import images_async

project = "images-async"
author = "images-async maintainers"
release = images_async.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
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
    (r"py:.*", r"PIL\..*"),
    (r"py:.*", r"(TimeoutError|ValueError|TypeError|RuntimeError|Exception)"),
    # Type aliases, documented as data in api.md, appear in signatures as class references.
    (r"py:class", r"(FileTypes|ImageRequest|HTTPSession)"),
]


def _public_attribute_docs(app: Sphinx) -> None:
    """Let autodoc find the field docstrings of the classes ``images_async`` presents as its
    own: their ``__module__`` is the package, but their source is a private module."""
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    package = ModuleAnalyzer.for_module("images_async")
    package.analyze()
    for module in pkgutil.iter_modules(images_async.__path__):
        if module.name.startswith("_") and not module.ispkg:
            private = ModuleAnalyzer.for_module(f"images_async.{module.name}")
            private.analyze()
            package.attr_docs.update(private.attr_docs)
            package.tagorder.update(private.tagorder)


def setup(app: Sphinx) -> None:
    """Register the hook above."""
    app.connect("builder-inited", _public_attribute_docs)
