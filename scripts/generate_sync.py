"""Generate the sync facades (``Images``, ``AzureImages``) and the views from the async clients.

``AsyncImages`` is the one hand-written implementation. ``scripts/sync_client_codegen.py``
reads its source with :mod:`ast` (never importing it) and builds ``class Images(ImagesBase)``
as a syntax tree, one delegation per public member, by the rule tables below; this script
hands its text to the pinned ``ruff`` (import sorting, then ``ruff format``), run with this
interpreter, and adds the do-not-edit header. It supports exactly the member shapes listed in
``sync_client_codegen._member`` and fails loudly, naming the member and its line, on anything
else. Every rule table below must be used, or generation fails.

The Azure twin ``AzureImages`` (``images_async/_sync_azure.py``) comes from
``AsyncAzureImages`` by the same builder: a subclass of ``Images`` with the Azure constructor.

The sync Files client ``StoredFiles`` (``images_async/_sync_stored_files.py``, the
``images.files`` of ``Images``) comes from ``AsyncStoredFiles`` by the same builder.

The same run writes the raw and streaming views, async (``images_async/_views.py``) and sync
(``images_async/_sync_views.py``), built by ``scripts/sync_views_codegen.py``: one method per
endpoint in ``VIEW_CALLEES``, declared with the endpoint's own parameters and docstring, so
type checkers see every parameter. Both builders share ``scripts/sync_codegen.py``.

Usage::

    python scripts/generate_sync.py           # regenerate (refuses to overwrite hand edits)
    python scripts/generate_sync.py --force   # regenerate even over hand edits
    python scripts/generate_sync.py --check   # exit 1 with a diff when the file is stale

Tests import :func:`generate_source`, :func:`check`, :func:`write` and :func:`main`.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import functools
import hashlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# The syntax-tree builders, next to this script (on sys.path when run, and for the tests).
from sync_client_codegen import build_module
from sync_codegen import GenerationError as GenerationError
from sync_codegen import Spec as Spec
from sync_views_codegen import ViewClass as ViewClass
from sync_views_codegen import ViewsSpec as ViewsSpec
from sync_views_codegen import build_views_module

ROOT = Path(__file__).resolve().parent.parent
#: The formatter is part of the output: another ruff may lay the file out differently.
#: Keep it equal to the pin in the ``lint`` dependency group of pyproject.toml.
RUFF_VERSION = "0.17.6"

#: Whole-word renames: applied to names in annotations and defaults, and to docstring text.
#: Every rule must be used at least once (or be listed in DORMANT_RENAMES).
RENAMES: dict[str, str] = {
    "AsyncImages": "Images",
    "AsyncImagesWithRawResponse": "ImagesWithRawResponse",
    "AsyncImagesWithStreamingResponse": "ImagesWithStreamingResponse",
    "AsyncStoredFiles": "StoredFiles",
    "AsyncBatches": "Batches",
    "ImageEventStream": "SyncImageEventStream",
    "StreamedResponse": "SyncStreamedResponse",
    "AsyncIterator": "Iterator",
    "aclose": "close",
    "async with": "with",
    "async for": "for",
    "await ": "",
}

#: Rules AsyncImages does not need yet, each with the reason it is kept. A dormant rule that
#: becomes used fails too, so this table cannot go stale.
DORMANT_RENAMES: dict[str, str] = {
    "AsyncIterator": "for the first AsyncImages method annotated -> AsyncIterator[...]",
    "async for": "for the first AsyncImages docstring showing an async for loop",
    "await ": "for the first AsyncImages docstring showing an awaited call",
}

#: Where the generated module imports each renamed name from.
RENAMED_FROM: dict[str, str] = {
    "ImagesWithRawResponse": "images_async._sync_views",
    "ImagesWithStreamingResponse": "images_async._sync_views",
    "StoredFiles": "images_async._sync_stored_files",
    "Batches": "images_async._sync_batches",
    "SyncImageEventStream": "images_async._sync_streams",
    "SyncStreamedResponse": "images_async._sync_streams",
    "Iterator": "collections.abc",
}

#: Async result types the facade converts explicitly, each to the base-class method that
#: does it: ``return self.<method>(self._call(...))``.
CONVERSIONS: dict[str, str] = {"ImageEventStream": "_sync_stream"}

#: Public members of AsyncImages left out on purpose: the base class provides each of them.
SKIPS: dict[str, str] = {
    "aclose": "SyncFacade.close closes the async client and stops the private loop",
    "__aenter__": "SyncFacade.__enter__ makes the facade a context manager",
    "__aexit__": "SyncFacade.__exit__ calls close()",
    "__repr__": "SyncFacade.__repr__ shows the async client's repr under the sync name",
}

#: Parameters the facade cannot take, per member: dropped from the signature and not passed
#: on, so the async default applies. Only parameters with a default can be dropped.
DROPS: dict[str, dict[str, str]] = {
    "__init__": {
        "http_session": "an aiohttp session belongs to the loop it was made on; Images owns "
        "a private loop, so it always makes its own session",
    },
}

GENERATOR = "scripts/generate_sync.py"
REGENERATE = "nox -s sync  (or python scripts/generate_sync.py)"
HASH_PREFIX = "# content-sha256: "


IMAGES_SPEC = Spec(
    source_path="images_async/_async_images.py",
    target_path="images_async/_sync_client.py",
    source_module="images_async._async_images",
    target_module="images_async._sync_client",
    source_class="AsyncImages",
    target_class="Images",
    base_class="ImagesBase",
    base_module="images_async._sync_responses",
    renames=RENAMES,
    renamed_from=RENAMED_FROM,
    skips=SKIPS,
    conversions=CONVERSIONS,
    drops=DROPS,
    dormant_renames=DORMANT_RENAMES,
    regenerate=REGENERATE,
)

#: The Azure twin. Only the constructor of ``AsyncAzureImages`` differs from ``AsyncImages``,
#: so ``AzureImages`` derives from the generated ``Images`` (every method, view, option and
#: the runtime come from there) and holds only an ``__init__`` building ``AsyncAzureImages``.
AZURE_SPEC = Spec(
    source_path="images_async/_azure.py",
    target_path="images_async/_sync_azure.py",
    source_module="images_async._azure",
    target_module="images_async._sync_azure",
    source_class="AsyncAzureImages",
    target_class="AzureImages",
    base_class="Images",
    base_module="images_async._sync_client",
    renames={
        "AsyncAzureImages": "AzureImages",
        **{name: RENAMES[name] for name in ("AsyncImages", "aclose", "async with")},
    },
    renamed_from={},
    skips={"__repr__": SKIPS["__repr__"]},
    drops=DROPS,
    dormant_renames={
        "AsyncAzureImages": "for the first AsyncAzureImages docstring naming its own class",
    },
    regenerate=REGENERATE,
    summary="AzureImages: the sync facade of :class:`AsyncAzureImages` (Azure OpenAI).\n\n"
    "Only the constructor differs from :class:`Images`, which it derives from: it builds "
    "an\n``AsyncAzureImages``, and every method runs on the private loop ``Images`` owns; "
    "this\nmodule holds no logic of its own.",
)

#: The Files client (``images.files``). ``StoredFiles`` runs its calls on the loop of the
#: ``Images`` it came from; its hand-written base takes that facade, so ``__init__`` is not
#: generated. ``content`` gives an unopened async context: the twin gets a
#: ``SyncStreamedResponse``, which opens it on first use.
FILES_SPEC = Spec(
    source_path="images_async/_stored_files.py",
    target_path="images_async/_sync_stored_files.py",
    source_module="images_async._stored_files",
    target_module="images_async._sync_stored_files",
    source_class="AsyncStoredFiles",
    target_class="StoredFiles",
    base_class="StoredFilesBase",
    base_module="images_async._sync_files_base",
    renames={"StreamingResponseContext": "SyncStreamedResponse", "async with": "with"},
    renamed_from={"SyncStreamedResponse": "images_async._sync_streams"},
    skips={"__init__": "StoredFilesBase.__init__ takes the Images facade and shares its loop"},
    conversions={"StreamingResponseContext": "_sync_streamed"},
    regenerate=REGENERATE,
    summary="StoredFiles: the sync Files client (``images.files`` of :class:`Images`).\n\n"
    "Each method hands the coroutine of its ``AsyncStoredFiles`` namesake to\n"
    ":class:`StoredFilesBase`, which runs it on the loop of the ``Images`` it came from; "
    "this\nmodule holds no logic of its own.",
)


#: The Batch client (``images.batches``), built like the Files client: ``Batches`` runs its
#: calls on the loop of the ``Images`` it came from, and ``outcomes`` (an async generator)
#: becomes a sync iterator over that loop.
BATCHES_SPEC = Spec(
    source_path="images_async/_batches.py",
    target_path="images_async/_sync_batches.py",
    source_module="images_async._batches",
    target_module="images_async._sync_batches",
    source_class="AsyncBatches",
    target_class="Batches",
    base_class="BatchesBase",
    base_module="images_async._sync_batches_base",
    renames={},
    renamed_from={"Iterator": "collections.abc"},
    skips={"__init__": "BatchesBase.__init__ takes the Images facade and shares its loop"},
    regenerate=REGENERATE,
    summary="Batches: the sync Batch client (``images.batches`` of :class:`Images`).\n\n"
    "Each method hands the coroutine (or async generator) of its ``AsyncBatches`` namesake\n"
    "to :class:`BatchesBase`, which runs it on the loop of the ``Images`` it came from; "
    "this\nmodule holds no logic of its own.",
)

#: The endpoints the views offer, each to the preparer (from ``images_async._prepare``) the
#: async views send through; the AsyncImages method must call it once with all its parameters.
#: A view method takes the implementation's parameters (``stream: bool | None`` included)
#: and returns its mode's type whatever ``stream`` is, so the ``@overload`` stubs are skipped.
VIEW_CALLEES: dict[str, str] = {
    "generate": "prepare_generate",
    "edit": "prepare_edit",
    "create_variation": "prepare_variation",
}

_RAW_DOC = """\
``images.with_raw_response``: each method gives a :class:`RawResponse`.

``raw = await images.with_raw_response.generate(...)`` or
``async with images.with_raw_response.generate(...) as raw: ...``; then
``raw.status_code``, ``raw.headers``, ``raw.request_id`` and ``raw.parse()``."""

_STREAMING_DOC = """\
``images.with_streaming_response``: each method gives an unread :class:`StreamedResponse`.

``async with images.with_streaming_response.generate(...) as response:`` then iterate
``response.iter_bytes()`` (or lines, text, events); the connection is released on exit."""

_SYNC_RAW_DOC = """\
``images.with_raw_response``: each method returns a :class:`RawResponse`.

``raw = images.with_raw_response.generate(...)``; then ``raw.status_code``,
``raw.headers``, ``raw.request_id`` and ``raw.parse()``."""

_SYNC_STREAMING_DOC = """\
``images.with_streaming_response``: each method returns a :class:`SyncStreamedResponse`.

Use it in a ``with`` block, or iterate ``iter_bytes()`` directly: the request is sent
on first use and the connection released when iteration ends."""

ASYNC_VIEWS_SPEC = ViewsSpec(
    source_path="images_async/_async_images.py",
    target_path="images_async/_views.py",
    source_module="images_async._async_images",
    target_module="images_async._views",
    source_class="AsyncImages",
    summary="``with_raw_response`` and ``with_streaming_response``: the endpoints in other "
    "modes.\n\nEach method has the signature and docstring of its :class:`AsyncImages` "
    "namesake and hands\nthe endpoint's preparer to the base class from :mod:`._view_base`, "
    "which sends the\nrequest in the view's mode; this module holds no logic of its own.",
    classes=(
        ViewClass("AsyncImagesWithRawResponse", "AsyncRawView", "RawResponseContext", _RAW_DOC),
        ViewClass(
            "AsyncImagesWithStreamingResponse",
            "AsyncStreamingView",
            "StreamingResponseContext",
            _STREAMING_DOC,
        ),
    ),
    callees=VIEW_CALLEES,
    imported_from={
        "AsyncRawView": "images_async._view_base",
        "AsyncStreamingView": "images_async._view_base",
        "RawResponseContext": "images_async._response",
        "StreamingResponseContext": "images_async._response",
        # AsyncImages imports the preparers where it calls them, not at the top of its module.
        **dict.fromkeys(VIEW_CALLEES.values(), "images_async._prepare"),
    },
    renames={},
    regenerate=REGENERATE,
)

SYNC_VIEWS_SPEC = ViewsSpec(
    source_path="images_async/_async_images.py",
    target_path="images_async/_sync_views.py",
    source_module="images_async._async_images",
    target_module="images_async._sync_views",
    source_class="AsyncImages",
    summary="The sync ``with_raw_response`` and ``with_streaming_response`` views of "
    ":class:`Images`.\n\nEach method has the signature and docstring of its ``Images`` "
    "namesake and hands the async\nview's method to the base class from "
    ":mod:`._sync_streams`, which runs it on the client's\nprivate loop; this module holds "
    "no logic of its own.",
    classes=(
        ViewClass("ImagesWithRawResponse", "SyncRawView", "RawResponse", _SYNC_RAW_DOC),
        ViewClass(
            "ImagesWithStreamingResponse",
            "SyncStreamingView",
            "SyncStreamedResponse",
            _SYNC_STREAMING_DOC,
        ),
    ),
    callees={name: f"self._async.{name}" for name in VIEW_CALLEES},
    imported_from={
        "SyncRawView": "images_async._sync_streams",
        "SyncStreamingView": "images_async._sync_streams",
        "SyncStreamedResponse": "images_async._sync_streams",
        "RawResponse": "images_async._response",
    },
    renames=RENAMES,
    regenerate=REGENERATE,
)

#: Everything this script writes, in order.
SPECS: tuple[Spec | ViewsSpec, ...] = (
    ASYNC_VIEWS_SPEC,
    SYNC_VIEWS_SPEC,
    FILES_SPEC,
    BATCHES_SPEC,
    IMAGES_SPEC,
    AZURE_SPEC,
)


class HandEditedError(GenerationError):
    """The generated file no longer matches its recorded hash: someone edited it."""


# -- the module ----------------------------------------------------------------------------


def generate_source(source_text: str, spec: Spec | ViewsSpec = IMAGES_SPEC) -> str:
    """The complete text of the generated module for ``source_text`` (the source module)."""
    if isinstance(spec, ViewsSpec):
        module, summary = build_views_module(source_text, spec), spec.summary
    else:
        module, summary = build_module(source_text, spec), spec.summary or _summary(spec)
    draft = _header(spec, summary, "0" * 64) + ast.unparse(module) + "\n"
    text = _ruff(["format"], _ruff(["check", "--select", "I", "--fix"], draft, spec), spec)
    head, _, body = text.partition(f"{HASH_PREFIX}{'0' * 64}\n")
    text = head + HASH_PREFIX + hashlib.sha256(body.encode("utf-8")).hexdigest() + "\n" + body
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > spec.line_length:
            raise GenerationError(f"generated line {number} is too long: {line.strip()}")
    return text


def _summary(spec: Spec) -> str:
    return (
        f"{spec.target_class}: the sync facade of :class:`{spec.source_class}`, one "
        "delegation per member.\n\n"
        f"Each method hands the coroutine of its ``{spec.source_class}`` namesake to "
        f":class:`{spec.base_class}`,\nwhich runs it on a private event loop; this module "
        "holds no logic of its own."
    )


def _header(spec: Spec | ViewsSpec, summary: str, digest: str) -> str:
    return (
        f'"""{summary}\n"""\n\n'
        f"# Generated by {GENERATOR} from {spec.source_path}: do not edit.\n"
        f"# Regenerate with: {spec.regenerate}\n"
        f"{HASH_PREFIX}{digest}\n\n"
    )


#: Where the script keeps its own copy of the pinned ruff when the interpreter has none.
TOOLS = ROOT / ".tools" / f"ruff-{RUFF_VERSION}"


def _pinned(command: list[str]) -> bool:
    """Whether ``command`` runs ruff at exactly the pinned version."""
    try:
        version = subprocess.run([*command, "--version"], capture_output=True, text=True)
    except OSError:
        return False
    return version.returncode == 0 and version.stdout.split() == ["ruff", RUFF_VERSION]


def find_ruff(candidates: list[list[str]]) -> list[str] | None:
    """The first of ``candidates`` that is the pinned ruff, or None."""
    return next((command for command in candidates if _pinned(command)), None)


@functools.cache
def _ruff_checked() -> list[str]:
    """The pinned ruff: this interpreter's, else the script's own copy, installed on first use.

    So ``--check`` works from any Python with pip, not only inside the nox sessions.
    """
    own_copy = [str(TOOLS / "bin" / "ruff")]
    ruff = find_ruff([[sys.executable, "-m", "ruff"], own_copy])
    if ruff is not None:
        return ruff
    print(f"installing ruff {RUFF_VERSION} into {TOOLS.relative_to(ROOT)}/ (once)", file=sys.stderr)
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(TOOLS)]
    completed = subprocess.run([*install, f"ruff=={RUFF_VERSION}"], capture_output=True, text=True)
    if completed.returncode != 0 or not _pinned(own_copy):
        raise GenerationError(
            f"ruff {RUFF_VERSION} is needed and could not be installed: "
            f"pip install ruff=={RUFF_VERSION}\n{completed.stderr}"
        )
    return own_copy


def _ruff(arguments: list[str], text: str, spec: Spec | ViewsSpec) -> str:
    """``text`` passed through the pinned ``ruff ARGUMENTS`` with this repository's settings."""
    command = [*_ruff_checked(), *arguments, "--config", str(ROOT / "pyproject.toml")]
    completed = subprocess.run(
        [*command, "--stdin-filename", spec.target_path, "-"],
        cwd=ROOT,
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise GenerationError(f"ruff {arguments[0]} failed:\n{completed.stdout}{completed.stderr}")
    return completed.stdout


def recorded_hash_matches(text: str) -> bool:
    """True when ``text`` has a content-sha256 header line matching what follows it."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith(HASH_PREFIX):
            body = "".join(lines[index + 1 :])
            actual = hashlib.sha256(body.encode("utf-8")).hexdigest()
            return line[len(HASH_PREFIX) :].strip() == actual
    return False


# -- commands ------------------------------------------------------------------------------


def generate(root: Path = ROOT, spec: Spec | ViewsSpec = IMAGES_SPEC) -> str:
    """The generated module for the source file under ``root``."""
    return generate_source((root / spec.source_path).read_text(encoding="utf-8"), spec)


def _read(path: Path) -> str | None:
    return path.read_bytes().decode("utf-8") if path.exists() else None


def check(root: Path = ROOT, spec: Spec | ViewsSpec | None = None) -> str:
    """Empty when the generated file under ``root`` is fresh; else a diff and the fix.

    Without ``spec``, every file in :data:`SPECS` is checked.
    """
    if spec is None:
        return "".join(check(root, each) for each in SPECS)
    expected = generate(root, spec)
    current = _read(root / spec.target_path)
    if current == expected:
        return ""
    if current is None:
        shown = f"{spec.target_path} does not exist.\n"
    else:
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{spec.target_path} (on disk)",
            tofile=f"{spec.target_path} (generated)",
        )
        shown = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
    return f"{shown}\n{spec.target_path} is stale. Regenerate it with: {spec.regenerate}\n"


def write(root: Path = ROOT, spec: Spec | ViewsSpec = IMAGES_SPEC, *, force: bool = False) -> bool:
    """Write the generated file; False when it was already up to date.

    Refuses (HandEditedError) to overwrite a file whose content no longer matches the hash
    in its own header, unless ``force``.
    """
    target = root / spec.target_path
    text = generate(root, spec)
    current = _read(target)
    if current == text:
        return False
    if current is not None and not force and not recorded_hash_matches(current):
        raise HandEditedError(
            f"{spec.target_path} was edited by hand: its content no longer matches the "
            f"content-sha256 in its header. Move the change into {spec.source_path} (or "
            f"{GENERATOR}) and regenerate, or pass --force to overwrite the file."
        )
    target.write_text(text, encoding="utf-8", newline="\n")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: regenerate, or ``--check`` freshness; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog=GENERATOR,
        description=f"Generate {', '.join(spec.target_path for spec in SPECS)} from the "
        "async clients.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff when stale")
    parser.add_argument("--force", action="store_true", help="overwrite even a hand-edited file")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        if args.check:
            report = check(args.root)
            sys.stdout.write(report)
            return 1 if report else 0
        changed = [write(args.root, spec, force=args.force) for spec in SPECS]
    except GenerationError as error:
        print(f"{GENERATOR}: error: {error}", file=sys.stderr)
        return 1
    for spec, wrote in zip(SPECS, changed, strict=True):
        print(f"{'wrote' if wrote else 'up to date:'} {spec.target_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
