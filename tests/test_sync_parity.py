"""Parity of the generated sync facades with ``AsyncImages`` and ``AsyncAzureImages``.

Every public member of ``AsyncImages`` has a twin on ``Images`` with the same parameters
(names, kinds, defaults, annotations) but those the generator's drop table removes, and the
same docstring once its rename table is applied; the raw and streaming views match the same
way; nothing on the sync side is a coroutine function or an async generator function. The
same holds, member by member, between ``AsyncAzureImages`` and ``AzureImages``, checked on
the live classes too. The rename, skip and drop tables are read from
``scripts/generate_sync.py``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from plugins.generator_script import load_generator

from images_async import (
    AsyncAzureImages,
    AsyncBatches,
    AsyncImages,
    AsyncImagesWithRawResponse,
    AsyncImagesWithStreamingResponse,
    AsyncStoredFiles,
    AzureImages,
    Batches,
    Images,
    ImagesWithRawResponse,
    ImagesWithStreamingResponse,
    StoredFiles,
)

ROOT = Path(__file__).resolve().parent.parent
DUMMY_KEY = "sk-dummy"
#: Members the sync facade provides under another name (see SKIPS in the generator).
SYNC_NAMES = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}
VIEW_METHODS = ("generate", "edit", "create_variation")


if TYPE_CHECKING:
    import generate_sync as gen
else:
    gen = load_generator()

RENAMES: Mapping[str, str] = gen.RENAMES
SKIPS: Mapping[str, str] = gen.SKIPS
DROPS: Mapping[str, Mapping[str, str]] = gen.DROPS


def _rule(word: str) -> str:
    start = r"\b" if word[0].isalnum() or word[0] == "_" else ""
    end = r"\b" if word[-1].isalnum() or word[-1] == "_" else ""
    return start + re.escape(word) + end


_RENAME_PATTERN = re.compile(
    "|".join(_rule(word) for word in sorted(RENAMES, key=lambda word: (-len(word), word)))
)
#: The generator turns ``-> AsyncGenerator[X, None]`` into ``-> Iterator[X]``.
_ASYNC_GENERATOR = re.compile(r"^AsyncGenerator\[(.*), None\]$")


def renamed(text: str) -> str:
    """``text`` with the generator's whole-word renames applied."""
    return _RENAME_PATTERN.sub(lambda match: RENAMES[match.group()], text)


def normalized_doc(obj: object) -> str:
    """The docstring with whitespace collapsed: the generator may rewrap renamed lines."""
    return " ".join((inspect.getdoc(obj) or "").split())


def public_names(cls: type) -> list[str]:
    return sorted(name for name in dir(cls) if not name.startswith("_"))


def function_of(member: object) -> Callable[..., Any]:
    """The function behind a method, property or cached property."""
    if isinstance(member, property):
        assert member.fget is not None
        return member.fget
    if isinstance(member, functools.cached_property):
        function: Callable[..., Any] = member.func
        return function
    assert callable(member), f"{member!r} is not a method, property or cached property"
    return member


def parameters(
    function: Callable[..., Any], *, rename: bool, dropped: Mapping[str, str] | None = None
) -> list[tuple[str, Any, Any, str]]:
    """(name, kind, default, annotation) of each parameter but ``dropped`` ones, the
    annotation renamed if asked."""
    return [
        (
            p.name,
            p.kind,
            p.default,
            renamed(str(p.annotation)) if rename else str(p.annotation),
        )
        for p in inspect.signature(function).parameters.values()
        if p.name not in (dropped or {})
    ]


def return_annotation(function: Callable[..., Any], *, rename: bool) -> str:
    annotation = str(inspect.signature(function).return_annotation)
    if not rename:
        # SyncFacade's hand-written methods say Self where AsyncImages names itself.
        return re.sub(r"\bSelf\b", "Images", annotation)
    return renamed(_ASYNC_GENERATOR.sub(r"Iterator[\1]", annotation))


def assert_twins(async_function: Callable[..., Any], sync_function: Callable[..., Any]) -> None:
    dropped = DROPS.get(async_function.__name__, {})
    assert parameters(sync_function, rename=False) == parameters(
        async_function, rename=True, dropped=dropped
    )
    assert return_annotation(sync_function, rename=False) == return_annotation(
        async_function, rename=True
    )


# --- Images and AsyncImages ---------------------------------------------------------------


def test_skips_are_the_documented_ones() -> None:
    """The only members left to SyncFacade are aclose and the async dunders (plus repr)."""
    assert set(SKIPS) == {*SYNC_NAMES, "__repr__"}


@pytest.mark.parametrize("name", public_names(AsyncImages))
def test_every_public_member_has_a_sync_twin(name: str) -> None:
    sync_name = SYNC_NAMES.get(name, name)
    async_member = inspect.getattr_static(AsyncImages, name)
    sync_member = inspect.getattr_static(Images, sync_name)
    assert type(sync_member) is type(async_member), f"{sync_name} is another kind of member"
    assert_twins(function_of(async_member), function_of(sync_member))
    if name not in SKIPS:  # a skipped member's sync twin is hand-written and says more
        assert normalized_doc(sync_member) == renamed(normalized_doc(async_member))


def test_no_extra_public_members_on_images() -> None:
    expected = {SYNC_NAMES.get(name, name) for name in public_names(AsyncImages)}
    assert set(public_names(Images)) == expected


@pytest.mark.parametrize("name", ["__init__", *SYNC_NAMES])
def test_constructor_and_context_manager_twins(name: str) -> None:
    assert_twins(getattr(AsyncImages, name), getattr(Images, SYNC_NAMES.get(name, name)))


def test_dropped_parameters_are_absent_from_images() -> None:
    """The drop table removes exactly what it names: ``http_session`` from ``__init__``."""
    assert {name: set(parameters) for name, parameters in DROPS.items()} == {
        "__init__": {"http_session"}
    }
    assert "http_session" in inspect.signature(AsyncImages).parameters
    assert "http_session" not in inspect.signature(Images).parameters


def test_class_docstrings_match() -> None:
    assert normalized_doc(Images) == renamed(normalized_doc(AsyncImages))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="typing.get_overloads is 3.11+")
@pytest.mark.parametrize("name", public_names(AsyncImages))
def test_overloads_match(name: str) -> None:
    if sys.version_info >= (3, 11):  # for mypy, which checks against 3.10
        async_member = inspect.getattr_static(AsyncImages, name)
        sync_member = inspect.getattr_static(Images, SYNC_NAMES.get(name, name))
        if not inspect.isfunction(async_member):
            return
        async_overloads = typing.get_overloads(async_member)
        sync_overloads = typing.get_overloads(sync_member)
        assert len(sync_overloads) == len(async_overloads)
        for async_overload, sync_overload in zip(async_overloads, sync_overloads, strict=True):
            assert_twins(async_overload, sync_overload)


# --- AzureImages and AsyncAzureImages -----------------------------------------------------


@pytest.mark.parametrize("name", public_names(AsyncAzureImages))
def test_every_public_member_of_the_azure_client_has_a_sync_twin(name: str) -> None:
    """Inherited members included: those of Images, on AzureImages, twin those of AsyncImages."""
    sync_name = SYNC_NAMES.get(name, name)
    async_member = inspect.getattr_static(AsyncAzureImages, name)
    sync_member = inspect.getattr_static(AzureImages, sync_name)
    assert type(sync_member) is type(async_member), f"{sync_name} is another kind of member"
    assert_twins(function_of(async_member), function_of(sync_member))
    if name not in SKIPS:
        assert normalized_doc(sync_member) == renamed(normalized_doc(async_member))


def test_no_extra_public_members_on_azure_images() -> None:
    expected = {SYNC_NAMES.get(name, name) for name in public_names(AsyncAzureImages)}
    assert set(public_names(AzureImages)) == expected


@pytest.mark.parametrize("name", ["__init__", *SYNC_NAMES])
def test_azure_constructor_and_context_manager_twins(name: str) -> None:
    assert_twins(getattr(AsyncAzureImages, name), getattr(AzureImages, SYNC_NAMES.get(name, name)))


def test_azure_constructor_docstrings_match() -> None:
    assert normalized_doc(AzureImages) == renamed(normalized_doc(AsyncAzureImages))
    assert normalized_doc(AzureImages.__init__) == renamed(
        normalized_doc(AsyncAzureImages.__init__)
    )


def test_azure_twin_mirrors_the_async_class_tree() -> None:
    """One implementation: each Azure client derives from its plain twin."""
    assert issubclass(AsyncAzureImages, AsyncImages)
    assert issubclass(AzureImages, Images)
    assert "http_session" in inspect.signature(AsyncAzureImages).parameters
    assert "http_session" not in inspect.signature(AzureImages).parameters


# --- the Files client (images.files) ------------------------------------------------------

FILES_RENAMES: Mapping[str, str] = gen.FILES_SPEC.renames


def files_renamed(text: str) -> str:
    """``text`` with the Files twin's renames applied (whole words, longest first)."""
    for word in sorted(FILES_RENAMES, key=lambda word: (-len(word), word)):
        text = re.sub(_rule(word), FILES_RENAMES[word], text)
    return text


def test_files_skips_only_the_constructor() -> None:
    assert set(gen.FILES_SPEC.skips) == {"__init__"}


def test_the_files_twin_has_exactly_the_async_public_members() -> None:
    assert public_names(StoredFiles) == public_names(AsyncStoredFiles)
    assert normalized_doc(StoredFiles) == files_renamed(normalized_doc(AsyncStoredFiles))


@pytest.mark.parametrize("name", public_names(AsyncStoredFiles))
def test_every_files_method_has_a_sync_twin(name: str) -> None:
    async_method, sync_method = getattr(AsyncStoredFiles, name), getattr(StoredFiles, name)
    async_parameters = [
        (name, kind, default, files_renamed(annotation))
        for name, kind, default, annotation in parameters(async_method, rename=False)
    ]
    assert parameters(sync_method, rename=False) == async_parameters
    returned = str(inspect.signature(async_method).return_annotation)
    assert str(inspect.signature(sync_method).return_annotation) == files_renamed(returned)
    assert normalized_doc(sync_method) == files_renamed(normalized_doc(async_method))
    assert not _is_async(sync_method)


def test_clients_give_their_files(clients: tuple[AsyncImages, Images]) -> None:
    async_images, images = clients
    assert isinstance(async_images.files, AsyncStoredFiles)
    assert isinstance(images.files, StoredFiles)
    assert images.files is images.files
    assert async_images.files is async_images.files


# --- the Batch client (images.batches) ----------------------------------------------------


def test_batches_skips_only_the_constructor() -> None:
    assert set(gen.BATCHES_SPEC.skips) == {"__init__"}
    assert gen.BATCHES_SPEC.renames == {}


def test_the_batches_twin_has_exactly_the_async_public_members() -> None:
    assert public_names(Batches) == public_names(AsyncBatches)
    assert normalized_doc(Batches) == normalized_doc(AsyncBatches)


@pytest.mark.parametrize("name", public_names(AsyncBatches))
def test_every_batches_method_has_a_sync_twin(name: str) -> None:
    async_method, sync_method = getattr(AsyncBatches, name), getattr(Batches, name)
    assert parameters(sync_method, rename=False) == parameters(async_method, rename=False)
    returned = str(inspect.signature(async_method).return_annotation)
    # An async generator's twin is a plain iterator of the same items.
    expected = re.sub(r"^AsyncGenerator\[(.*), None\]$", r"Iterator[\1]", returned)
    assert str(inspect.signature(sync_method).return_annotation) == expected
    assert normalized_doc(sync_method) == normalized_doc(async_method)
    assert not _is_async(sync_method)


def test_clients_give_their_batches(clients: tuple[AsyncImages, Images]) -> None:
    async_images, images = clients
    assert isinstance(async_images.batches, AsyncBatches)
    assert isinstance(images.batches, Batches)
    assert images.batches is images.batches
    assert async_images.batches is async_images.batches


# --- the raw and streaming views ----------------------------------------------------------


@pytest.fixture
def clients() -> Iterator[tuple[AsyncImages, Images]]:
    """An AsyncImages and an Images that never send anything."""
    async_images = AsyncImages(api_key=DUMMY_KEY)
    with Images(api_key=DUMMY_KEY) as images:
        yield async_images, images
    asyncio.run(async_images.aclose())


#: Each view class, its client class, and what each of its methods returns.
VIEWS: list[tuple[type, type, str]] = [
    (AsyncImagesWithRawResponse, AsyncImages, "RawResponseContext"),
    (AsyncImagesWithStreamingResponse, AsyncImages, "StreamingResponseContext"),
    (ImagesWithRawResponse, Images, "RawResponse"),
    (ImagesWithStreamingResponse, Images, "SyncStreamedResponse"),
]


@pytest.mark.parametrize("method", VIEW_METHODS)
@pytest.mark.parametrize(("view", "client", "returns"), VIEWS)
def test_view_methods_copy_the_client_methods(
    view: type, client: type, returns: str, method: str
) -> None:
    """Same parameters (those of the implementation: ``stream`` is ``bool | None``) and
    docstring as the client's method; the view's own result type."""
    view_method, client_method = getattr(view, method), getattr(client, method)
    assert parameters(view_method, rename=False) == parameters(client_method, rename=False)
    assert str(inspect.signature(view_method).return_annotation) == returns
    assert inspect.getdoc(view_method) == inspect.getdoc(client_method)
    assert not hasattr(view_method, "__wrapped__")  # declared, not copied at run time


@pytest.mark.parametrize("method", VIEW_METHODS)
@pytest.mark.parametrize(
    ("async_view", "sync_view"),
    [
        (AsyncImagesWithRawResponse, ImagesWithRawResponse),
        (AsyncImagesWithStreamingResponse, ImagesWithStreamingResponse),
    ],
)
def test_sync_view_methods_are_twins(async_view: type, sync_view: type, method: str) -> None:
    async_method, sync_method = getattr(async_view, method), getattr(sync_view, method)
    assert parameters(sync_method, rename=False) == parameters(async_method, rename=True)
    assert normalized_doc(sync_method) == renamed(normalized_doc(async_method))


@pytest.mark.parametrize(("view", "client", "returns"), VIEWS)
def test_view_members_match(view: type, client: type, returns: str) -> None:
    assert public_names(view) == sorted(VIEW_METHODS)
    assert all(inspect.isfunction(vars(view)[name]) for name in VIEW_METHODS)


def test_clients_give_their_views(clients: tuple[AsyncImages, Images]) -> None:
    async_images, images = clients
    assert isinstance(async_images.with_raw_response, AsyncImagesWithRawResponse)
    assert isinstance(async_images.with_streaming_response, AsyncImagesWithStreamingResponse)
    assert isinstance(images.with_raw_response, ImagesWithRawResponse)
    assert isinstance(images.with_streaming_response, ImagesWithStreamingResponse)
    assert images.with_raw_response is images.with_raw_response


@pytest.mark.parametrize(("view", "client", "returns"), VIEWS)
def test_views_are_made_by_their_client_only(view: type, client: type, returns: str) -> None:
    """The public constructor takes the client as ``object``: no private type to document."""
    parameter = inspect.signature(view).parameters["images"]
    assert parameter.annotation == "object"
    with pytest.raises(TypeError, match=f"{view.__name__} is made by {client.__name__}"):
        view(object())


# --- nothing sync is async ----------------------------------------------------------------


def _is_async(function: object) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


@pytest.mark.parametrize("client", [Images, AzureImages])
@pytest.mark.parametrize("name", public_names(Images))
def test_no_public_member_of_images_is_async(client: type, name: str) -> None:
    function = function_of(inspect.getattr_static(client, name))
    assert not _is_async(function)
    assert not _is_async(inspect.unwrap(function))


@pytest.mark.parametrize(("view", "client", "returns"), VIEWS)
def test_no_view_method_is_async(view: type, client: type, returns: str) -> None:
    """Not even the async views': a call returns a context, sent when awaited or entered."""
    for name in VIEW_METHODS:
        assert not _is_async(getattr(view, name)), name
