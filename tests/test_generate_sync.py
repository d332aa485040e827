"""Tests of ``scripts/generate_sync.py``, the generator of the sync facade.

Most tests run the generator on the small client in ``tests/sync_fixture/``, whose expected
output ``fixture_sync.py`` is committed; regenerate it with
``python tests/test_generate_sync.py``. The last tests check the real
``images_async/_sync_client.py``.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from plugins.generator_script import load_generator

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "generate_sync.py"


if TYPE_CHECKING:
    import generate_sync as gen
else:
    gen = load_generator()

FIXTURE_SPEC = gen.Spec(
    source_path="tests/sync_fixture/fixture_async.py",
    target_path="tests/sync_fixture/fixture_sync.py",
    source_module="sync_fixture.fixture_async",
    target_module="sync_fixture.fixture_sync",
    source_class="AsyncWidgets",
    target_class="Widgets",
    base_class="WidgetsBase",
    base_module="sync_fixture._sync",
    renames={
        "AsyncWidgets": "Widgets",
        "AsyncWidgetsWithRawResponse": "WidgetsWithRawResponse",
        "Stream": "SyncStream",
        "AsyncIterator": "Iterator",
        "aclose": "close",
        "async with": "with",
        "async for": "for",
        "await ": "",
    },
    renamed_from={
        "WidgetsWithRawResponse": "sync_fixture._sync",
        "SyncStream": "sync_fixture._sync",
        "Iterator": "collections.abc",
    },
    skips={
        "aclose": "SyncFacade.close",
        "__aenter__": "SyncFacade.__enter__",
        "__aexit__": "SyncFacade.__exit__",
        "__repr__": "SyncFacade.__repr__",
    },
    conversions={"Stream": "_sync_stream"},
    drops={"__init__": {"loop_hint": "the sync facade owns its loop"}},
    regenerate="python tests/test_generate_sync.py",
)

#: Just enough rules for the small sources written inline in the tests below.
INLINE_SPEC = dataclasses.replace(
    FIXTURE_SPEC,
    renames={"AsyncWidgets": "Widgets"},
    renamed_from={},
    skips={},
    conversions={},
    drops={},
)

INLINE_HEAD = '''\
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import overload

from ._models import Widget


class AsyncWidgets:
    """Widgets."""

    def __init__(self, name: str) -> None:
        self._name = name

    def with_options(self) -> AsyncWidgets:
        return self
'''


def _fixture_source() -> str:
    return (ROOT / FIXTURE_SPEC.source_path).read_text(encoding="utf-8")


def _generated_fixture() -> str:
    return gen.generate_source(_fixture_source(), FIXTURE_SPEC)


def _member(text: str, name: str) -> str:
    """The source of the last definition of ``name`` in the generated class, decorators too."""
    tree = ast.parse(text)
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef))
    found = [node for node in cls.body if isinstance(node, ast.FunctionDef) and node.name == name]
    assert found, f"{name} is not generated"
    lines = text.splitlines()
    node = found[-1]
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return "\n".join(line[4:] for line in lines[start - 1 : node.end_lineno]) + "\n"


def _copy_tree(tmp_path: Path, *specs: gen.Spec) -> Path:
    """A repository root in ``tmp_path`` holding a copy of the specs' source files only."""
    for spec in specs:
        (tmp_path / spec.source_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / spec.source_path, tmp_path / spec.source_path)
    return tmp_path


# -- the shapes, on the fixture --------------------------------------------------------------


def test_fixture_output_is_committed_and_fresh() -> None:
    assert gen.check(ROOT, FIXTURE_SPEC) == ""


def test_coroutine_method_forwards_every_parameter_by_name() -> None:
    assert _member(_generated_fixture(), "get") == (
        "def get(self, widget_id: int, verbose: bool = False, *, label: str | None = None)"
        " -> Widget:\n"
        '    """The widget ``widget_id``, its size scaled by the client\'s scale."""\n'
        "    return self._call(self._async.get(widget_id=widget_id, verbose=verbose, "
        "label=label))\n"
    )


def test_star_args_force_positional_forwarding() -> None:
    join = _member(_generated_fixture(), "join")
    assert '(self, prefix: str, *parts: str, sep: str = "-", **extra: str) -> str:' in join
    assert "self._async.join(prefix, *parts, sep=sep, **extra)" in join


def test_positional_only_and_none_result() -> None:
    rescale = _member(_generated_fixture(), "rescale")
    assert "def rescale(self, factor: int, /) -> None:\n" in rescale
    assert rescale.endswith("    self._call(self._async.rescale(factor))\n")


def test_overloads_keep_their_stubs_and_the_implementation_annotation() -> None:
    text = _generated_fixture()
    assert text.count("    @overload\n    def fetch(") == 3
    assert ") -> SyncStream: ...\n" in text
    assert ") -> Widget | SyncStream:\n" in _member(text, "fetch")


def test_a_result_with_a_conversion_rule_is_converted_explicitly() -> None:
    fetch = _member(_generated_fixture(), "fetch")
    assert "    return self._sync_stream(self._call(self._async.fetch(" in fetch


def test_a_plain_method_giving_a_converted_context_hands_it_over_unopened() -> None:
    spec = dataclasses.replace(
        INLINE_SPEC,
        renames={"AsyncWidgets": "Widgets", "Stream": "SyncStream"},
        renamed_from={"SyncStream": "sync_fixture._sync"},
        conversions={"Stream": "_sync_stream"},
    )
    member = (
        "    def opened(self, name: str, *, size: int = 1) -> Stream:\n"
        '        """Unopened: AsyncWidgets sends it later."""\n'
        "        return Stream()\n"
    )
    text = gen.generate_source(f"{INLINE_HEAD}\n{member}", spec)
    assert _member(text, "opened") == (
        "def opened(self, name: str, *, size: int = 1) -> SyncStream:\n"
        '    """Unopened: Widgets sends it later."""\n'
        "    return self._sync_stream(lambda: self._async.opened(name=name, size=size))\n"
    )
    assert "from ._sync import SyncStream, WidgetsBase\n" in text


def test_async_generators_become_iterators() -> None:
    text = _generated_fixture()
    iter_widgets = _member(text, "iter_widgets")
    assert ") -> Iterator[Widget]:\n" in iter_widgets
    assert "    return self._iterate(self._async.iter_widgets(limit=limit))\n" in iter_widgets
    assert "def countdown(self, start: int) -> Iterator[int]:\n" in _member(text, "countdown")
    assert "    return self._iterate(self._async.watch(path=path))\n" in _member(text, "watch")


def test_properties_derive_and_init() -> None:
    text = _generated_fixture()
    assert _member(text, "name") == (
        "@property\n"
        "def name(self) -> str:\n"
        '    """The name given to the client."""\n'
        "    return self._async.name\n"
    )
    assert _member(text, "with_raw_response").endswith(
        "def with_raw_response(self) -> WidgetsWithRawResponse:\n"
        '    """The same methods, returning plain dicts."""\n'
        "    return WidgetsWithRawResponse(self)\n"
    )
    assert "@functools.cached_property\n" in _member(text, "with_raw_response")
    assert _member(text, "with_options") == (
        "def with_options(self, *, scale: int | None = None) -> Widgets:\n"
        '    """A client like this one with another ``scale``."""\n'
        "    return self._derive(self._async.with_options(scale=scale))\n"
    )
    assert "    self._attach(AsyncWidgets(name=name, scale=scale, labels=labels))\n" in _member(
        text, "__init__"
    )


def test_dropped_parameter_is_neither_taken_nor_passed_on() -> None:
    init = _member(_generated_fixture(), "__init__")
    assert "loop_hint" not in init
    assert "labels: Mapping[str, str] | None = None,\n) -> None:\n" in init


def test_unused_drop_rule_fails() -> None:
    drops = {"__init__": {"loop_hint": "x", "colour": "never a parameter"}}
    spec = dataclasses.replace(FIXTURE_SPEC, drops=drops)
    with pytest.raises(gen.GenerationError, match=r"drop rule __init__\.colour matched no"):
        gen.generate_source(_fixture_source(), spec)


def test_a_parameter_without_a_default_cannot_be_dropped() -> None:
    spec = dataclasses.replace(INLINE_SPEC, drops={"__init__": {"name": "required"}})
    with pytest.raises(gen.GenerationError, match="only a parameter with a default"):
        gen.generate_source(INLINE_HEAD, spec)


def test_unused_conversion_rule_fails() -> None:
    spec = dataclasses.replace(INLINE_SPEC, conversions={"Widget": "_sync_widget"})
    with pytest.raises(gen.GenerationError, match="conversion rule 'Widget' matched no result"):
        gen.generate_source(INLINE_HEAD, spec)


def test_an_async_result_without_a_conversion_rule_fails() -> None:
    spec = dataclasses.replace(FIXTURE_SPEC, conversions={})
    with pytest.raises(gen.GenerationError, match=r"fetch \(line \d+\): returns Stream"):
        gen.generate_source(_fixture_source(), spec)


def test_ruff_pin_is_the_lint_groups() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"ruff=={gen.RUFF_VERSION}"' in pyproject


def _fake_ruff(directory: Path, version: str) -> list[str]:
    script = directory / f"ruff-{version}"
    script.write_text(f"#!/bin/sh\necho ruff {version}\n", encoding="utf-8")
    script.chmod(0o755)
    return [str(script)]


def test_find_ruff_takes_the_first_candidate_at_the_pinned_version(tmp_path: Path) -> None:
    missing = [str(tmp_path / "no-such-ruff")]
    other = _fake_ruff(tmp_path, "0.0.1")
    pinned = _fake_ruff(tmp_path, gen.RUFF_VERSION)
    assert gen.find_ruff([missing, other, pinned]) == pinned
    assert gen.find_ruff([missing, other]) is None


def test_skipped_and_private_members_are_not_generated() -> None:
    tree = ast.parse(_generated_fixture())
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef))
    names = [node.name for node in cls.body if isinstance(node, ast.FunctionDef)]
    assert names == [
        "__init__",
        "name",
        "is_closed",
        "with_options",
        "with_raw_response",
        "get",
        "join",
        "rescale",
        "fetch",
        "fetch",
        "fetch",
        "fetch",
        "iter_widgets",
        "countdown",
        "watch",
    ]


def test_imports_are_only_those_used_and_relative_to_the_package() -> None:
    text = _generated_fixture()
    imports = text[text.index("from __future__") : text.index("\n\n\nclass")]
    assert imports == (
        "from __future__ import annotations\n"
        "\n"
        "import functools\n"
        "import os\n"
        "from collections.abc import Iterator, Mapping\n"
        "from typing import Literal, overload\n"
        "\n"
        "from ._models import Widget\n"
        "from ._sync import SyncStream, WidgetsBase, WidgetsWithRawResponse\n"
        "from .fixture_async import DEFAULT_SCALE, AsyncWidgets"
    )


def test_generated_facade_runs_every_shape() -> None:
    from sync_fixture._models import Widget
    from sync_fixture._sync import SyncStream, WidgetsWithRawResponse
    from sync_fixture.fixture_sync import Widgets

    with Widgets("w", scale=3, labels={"1": "one"}) as widgets:
        assert widgets.name == "w"
        assert widgets.get(1) == Widget(id=1, size=3, label="one")
        assert widgets.get(2, True, label="x") == Widget(id=2, size=6, label="x", verbose=True)
        assert widgets.join("a", "b", "c", sep="+", k="v") == "a+b+c+k=v"
        widgets.rescale(2)
        assert widgets.fetch(1) == Widget(id=1, size=6, label="one")
        stream = widgets.fetch(1, stream=True)
        assert isinstance(stream, SyncStream)
        assert list(stream) == [6, 6, 6]
        assert [widget.id for widget in widgets.iter_widgets(limit=2)] == [1, 2]
        assert list(widgets.countdown(3)) == [3, 2, 1]
        assert list(widgets.watch("a/b")) == ["a", "b"]
        derived = widgets.with_options(scale=10)
        assert isinstance(derived, Widgets)
        assert derived.get(1).size == 10
        assert isinstance(widgets.with_raw_response, WidgetsWithRawResponse)
        assert widgets.with_raw_response is widgets.with_raw_response
        assert widgets.with_raw_response.get(2) == {"id": 2, "size": 12}
        assert repr(widgets) == "Widgets(name='w')"
    assert widgets.is_closed


def test_generated_facade_has_the_async_parameters_and_docstrings() -> None:
    from sync_fixture.fixture_async import AsyncWidgets
    from sync_fixture.fixture_sync import Widgets

    for name, member in vars(AsyncWidgets).items():
        if (name.startswith("_") and name != "__init__") or name in FIXTURE_SPEC.skips:
            continue
        twin = vars(Widgets)[name]
        function = getattr(member, "fget", getattr(member, "func", member))
        sync_function = getattr(twin, "fget", getattr(twin, "func", twin))
        dropped = FIXTURE_SPEC.drops.get(name, {})
        assert list(inspect.signature(sync_function).parameters) == [
            parameter
            for parameter in inspect.signature(function).parameters
            if parameter not in dropped
        ], name
        assert (inspect.getdoc(sync_function) is None) == (inspect.getdoc(function) is None), name


# -- renames ---------------------------------------------------------------------------------


def test_docstrings_are_renamed_by_whole_words() -> None:
    text = _generated_fixture()
    assert "Then ``widgets.get(1)`` and ``for widget in widgets.iter_widgets(): ...``.\n" in text
    assert "``with Widgets() as widgets: ...`` or :meth:`close`." in text
    assert "``for part in widgets.fetch(1, stream=True): ...``" in text
    docstring = "AsyncWidgets and AsyncWidgetsy, aclose and acloser, not MyAsyncWidgets."
    source = f'{INLINE_HEAD}\n    async def spin(self) -> None:\n        """{docstring}"""\n'
    spec = dataclasses.replace(INLINE_SPEC, renames={"AsyncWidgets": "Widgets", "aclose": "close"})
    assert (
        '"""Widgets and AsyncWidgetsy, close and acloser, not MyAsyncWidgets."""'
        in gen.generate_source(source, spec)
    )


def test_unused_rename_rule_fails() -> None:
    spec = dataclasses.replace(FIXTURE_SPEC, renames={**FIXTURE_SPEC.renames, "Gadget": "G"})
    with pytest.raises(gen.GenerationError, match="rename rule 'Gadget' was never used"):
        gen.generate_source(_fixture_source(), spec)


def test_dormant_rule_may_be_unused_but_fails_once_used() -> None:
    renames = {**INLINE_SPEC.renames, "await ": ""}
    spec = dataclasses.replace(INLINE_SPEC, renames=renames, dormant_renames={"await ": "later"})
    assert "class Widgets(WidgetsBase):" in gen.generate_source(INLINE_HEAD, spec)
    used = INLINE_HEAD.replace('"""Widgets."""', '"""``await widgets.spin()``."""')
    with pytest.raises(gen.GenerationError, match="'await ' is used now"):
        gen.generate_source(used, spec)


def test_a_docstring_line_the_renames_make_too_long_is_wrapped() -> None:
    words = " ".join(["word"] * 13)
    source = INLINE_HEAD.replace('"""Widgets."""', f'"""{words} :class:`AsyncWidgets`."""')
    renames = {"AsyncWidgets": "LongerNamedWidgets"}
    spec = dataclasses.replace(INLINE_SPEC, renames=renames, target_class="LongerNamedWidgets")
    assert max(len(line) for line in source.splitlines()) <= 100
    text = gen.generate_source(source, spec)
    assert f'    """{words}\n    :class:`LongerNamedWidgets`."""\n' in text


# -- failures on unsupported shapes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (
            "def count(self) -> int:\n        return 1",
            r"AsyncWidgets.count \(line 18\): unsupported public plain method",
        ),
        (
            "@staticmethod\n    async def make() -> int:\n        return 1",
            r"AsyncWidgets.make \(line 19\): unsupported decorator\(s\) staticmethod",
        ),
        (
            "async def stream(self) -> AsyncIterator[int]:\n        return aiter([])",
            r"AsyncWidgets.stream \(line 18\): a coroutine returning an async iterator",
        ),
        ("def __len__(self) -> int:\n        return 0", r"__len__ \(line 18\): unsupported dunder"),
        ("limit = 3", r"AsyncWidgets \(line 18\): unsupported class-level statement 'limit = 3'"),
        (
            "@overload\n    async def one(self) -> int: ...",
            r"AsyncWidgets.one \(line 19\): overload without a body",
        ),
        (
            "async def tagged(self) -> Tag:\n        return Tag()",
            r"AsyncWidgets.tagged \(line 18\), return annotation: cannot tell where 'Tag'",
        ),
        (
            'async def quoted(self) -> "Widget":\n        return Widget()',
            r"AsyncWidgets.quoted \(line 18\), return annotation: quoted annotation",
        ),
        (
            "@property\n    def me(self) -> AsyncWidgets:\n        return self",
            r"AsyncWidgets.me \(line 19\): a property cannot return an async-only type",
        ),
    ],
)
def test_unsupported_shapes_fail_naming_member_and_line(member: str, message: str) -> None:
    source = f"{INLINE_HEAD}\n    {member}\n"
    with pytest.raises(gen.GenerationError, match=message):
        gen.generate_source(source, INLINE_SPEC)


def test_skip_rule_matching_nothing_fails() -> None:
    spec = dataclasses.replace(INLINE_SPEC, skips={"aclose": "SyncFacade.close"})
    with pytest.raises(gen.GenerationError, match="skip rule 'aclose' matched no member"):
        gen.generate_source(INLINE_HEAD, spec)


def test_missing_class_fails() -> None:
    with pytest.raises(gen.GenerationError, match="no top-level class AsyncWidgets"):
        gen.generate_source("class Other:\n    pass\n", INLINE_SPEC)


# -- views -----------------------------------------------------------------------------------

VIEWS_SOURCE = (
    INLINE_HEAD.replace(
        "from ._models import Widget\n",
        "from ._models import Widget\nfrom ._prepare import prepare_get\n",
    )
    + '''
    @overload
    async def get(self, *, widget_id: int, stream: Literal[True]) -> Stream: ...

    async def get(self, *, widget_id: int, stream: bool = False) -> Widget:
        """The widget ``widget_id``."""
        request = prepare_get(self._validate, widget_id=widget_id, stream=stream)
        return await self._send(request)
'''
)

VIEWS_SPEC = gen.ViewsSpec(
    source_path="tests/sync_fixture/fixture_async.py",
    target_path="tests/sync_fixture/views.py",
    source_module="sync_fixture.fixture_async",
    target_module="sync_fixture.views",
    source_class="AsyncWidgets",
    summary="Views.",
    classes=(
        gen.ViewClass("RawWidgets", "RawView", "RawContext", "Raw.\n\nEach gives a context."),
    ),
    callees={"get": "prepare_get"},
    imported_from={"RawView": "sync_fixture._base", "RawContext": "sync_fixture._base"},
    renames={},
    regenerate="python tests/test_generate_sync.py",
)


def test_view_methods_declare_the_implementation_signature_and_send() -> None:
    text = gen.generate_source(VIEWS_SOURCE, VIEWS_SPEC)
    assert text.startswith('"""Views."""\n\n# Generated by scripts/generate_sync.py')
    assert "from ._base import RawContext, RawView\nfrom ._prepare import prepare_get\n" in text
    assert text.endswith(
        "class RawWidgets(RawView):\n"
        '    """Raw.\n\n    Each gives a context.\n    """\n\n'
        "    def get(self, *, widget_id: int, stream: bool = False) -> RawContext:\n"
        '        """The widget ``widget_id``."""\n'
        "        return self._send(prepare_get, widget_id=widget_id, stream=stream)\n"
    )
    assert gen.recorded_hash_matches(text)


def test_a_view_may_send_through_an_attribute_of_self() -> None:
    spec = dataclasses.replace(VIEWS_SPEC, callees={"get": "self._async.get"})
    text = gen.generate_source(VIEWS_SOURCE, spec)
    assert "return self._send(self._async.get, widget_id=widget_id, stream=stream)\n" in text
    assert "prepare_get" not in text


@pytest.mark.parametrize(
    ("callees", "source", "message"),
    [
        ({"put": "prepare_get"}, VIEWS_SOURCE, "view rule 'put' matched no method"),
        ({"get": "prepare_put"}, VIEWS_SOURCE, r"get \(line \d+\): calls prepare_put 0 times"),
        (
            {"get": "prepare_get"},
            VIEWS_SOURCE.replace(", stream=stream)", ")"),
            r"prepare_get is not given exactly its parameters \(stream\)",
        ),
        (
            {"get": "prepare_get"},
            VIEWS_SOURCE.replace("*, widget_id: int, stream: bool", "widget_id: int, stream: bool"),
            "takes self and keyword-only parameters",
        ),
        ({"with_options": "prepare_get"}, VIEWS_SOURCE, "must be an undecorated async def"),
        ({"get": "lambda: 1"}, VIEWS_SOURCE, "is no name nor self.x.y"),
    ],
)
def test_unsupported_views_fail(callees: dict[str, str], source: str, message: str) -> None:
    with pytest.raises(gen.GenerationError, match=message):
        gen.generate_source(source, dataclasses.replace(VIEWS_SPEC, callees=callees))


def test_real_views_cover_the_endpoints_of_both_modes() -> None:
    assert set(gen.VIEW_CALLEES) == {"generate", "edit", "create_variation"}
    assert [view.name for view in gen.ASYNC_VIEWS_SPEC.classes] == [
        "AsyncImagesWithRawResponse",
        "AsyncImagesWithStreamingResponse",
    ]
    assert [gen.RENAMES[view.name] for view in gen.ASYNC_VIEWS_SPEC.classes] == [
        view.name for view in gen.SYNC_VIEWS_SPEC.classes
    ]
    assert [spec.target_path for spec in gen.SPECS] == [
        "images_async/_views.py",
        "images_async/_sync_views.py",
        "images_async/_sync_stored_files.py",
        "images_async/_sync_batches.py",
        "images_async/_sync_client.py",
        "images_async/_sync_azure.py",
    ]


# -- header, hash protection, --check, determinism --------------------------------------------


def test_header_names_the_source_and_the_command_and_hashes_the_body() -> None:
    text = gen.generate()
    lines = text.splitlines()
    docstring_end = lines.index('"""')
    assert lines[docstring_end + 2 : docstring_end + 4] == [
        "# Generated by scripts/generate_sync.py from images_async/_async_images.py: do not edit.",
        "# Regenerate with: nox -s sync  (or python scripts/generate_sync.py)",
    ]
    assert lines[docstring_end + 4].startswith("# content-sha256: ")
    assert gen.recorded_hash_matches(text)
    assert not gen.recorded_hash_matches(text + "# edited\n")


def test_write_refuses_to_overwrite_a_hand_edited_file(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, FIXTURE_SPEC)
    target = root / FIXTURE_SPEC.target_path
    assert gen.write(root, FIXTURE_SPEC)
    assert not gen.write(root, FIXTURE_SPEC)
    generated = target.read_text(encoding="utf-8")
    target.write_text(generated.replace("return self._async.name", "return 'tweak'", 1))
    with pytest.raises(gen.HandEditedError, match=r"edited by hand.*--force"):
        gen.write(root, FIXTURE_SPEC)
    assert "'tweak'" in target.read_text(encoding="utf-8")
    assert gen.write(root, FIXTURE_SPEC, force=True)
    assert target.read_text(encoding="utf-8") == generated


def test_write_refuses_a_file_without_a_header(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, FIXTURE_SPEC)
    (root / FIXTURE_SPEC.target_path).write_text("class Widgets: ...\n")
    with pytest.raises(gen.HandEditedError):
        gen.write(root, FIXTURE_SPEC)


def test_write_replaces_an_intact_but_outdated_file(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, FIXTURE_SPEC)
    gen.write(root, FIXTURE_SPEC)
    source = root / FIXTURE_SPEC.source_path
    source.write_text(source.read_text().replace("The name given", "The name passed"))
    assert gen.write(root, FIXTURE_SPEC)
    assert "The name passed" in (root / FIXTURE_SPEC.target_path).read_text()


def test_check_fresh_and_stale(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, FIXTURE_SPEC)
    target = root / FIXTURE_SPEC.target_path
    assert "does not exist" in gen.check(root, FIXTURE_SPEC)
    gen.write(root, FIXTURE_SPEC)
    assert gen.check(root, FIXTURE_SPEC) == ""
    target.write_text(target.read_text().replace("return self._async.name", "return None", 1))
    report = gen.check(root, FIXTURE_SPEC)
    assert "-        return None\n+        return self._async.name\n" in report
    assert report.startswith("--- tests/sync_fixture/fixture_sync.py (on disk)\n")
    assert report.endswith("Regenerate it with: python tests/test_generate_sync.py\n")


def test_check_sees_lines_added_at_the_end(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, FIXTURE_SPEC)
    gen.write(root, FIXTURE_SPEC)
    target = root / FIXTURE_SPEC.target_path
    target.write_text(target.read_text() + "\n\nextra = 1\n")
    assert "-extra = 1\n" in gen.check(root, FIXTURE_SPEC)


def test_main_check_and_write_on_a_copy_of_the_real_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _copy_tree(tmp_path, gen.IMAGES_SPEC, gen.AZURE_SPEC, gen.FILES_SPEC, gen.BATCHES_SPEC)
    target = root / gen.IMAGES_SPEC.target_path
    assert gen.main(["--check", "--root", str(root)]) == 1
    assert "Regenerate it with: nox -s sync  (or python scripts/generate_sync.py)" in (
        capsys.readouterr().out
    )
    assert gen.main(["--root", str(root)]) == 0
    assert gen.main(["--check", "--root", str(root)]) == 0
    assert capsys.readouterr().out == (
        "wrote images_async/_views.py\n"
        "wrote images_async/_sync_views.py\n"
        "wrote images_async/_sync_stored_files.py\n"
        "wrote images_async/_sync_batches.py\n"
        "wrote images_async/_sync_client.py\n"
        "wrote images_async/_sync_azure.py\n"
    )
    target.write_text(target.read_text() + "# hand edit\n")
    assert gen.main(["--root", str(root)]) == 1
    assert "edited by hand" in capsys.readouterr().err
    assert gen.main(["--root", str(root), "--force"]) == 0


def test_generation_is_deterministic() -> None:
    assert _generated_fixture() == _generated_fixture()
    assert gen.generate() == gen.generate()


# -- the Azure twin ----------------------------------------------------------------------------

AZURE_TARGET = "images_async/_sync_azure.py"


def _azure_source() -> str:
    return (ROOT / gen.AZURE_SPEC.source_path).read_text(encoding="utf-8")


def test_azure_twin_derives_from_images_and_holds_only_the_azure_constructor() -> None:
    text = gen.generate(ROOT, gen.AZURE_SPEC)
    [cls] = [node for node in ast.parse(text).body if isinstance(node, ast.ClassDef)]
    assert (cls.name, [ast.unparse(base) for base in cls.bases]) == ("AzureImages", ["Images"])
    assert [node.name for node in cls.body if isinstance(node, ast.FunctionDef)] == ["__init__"]
    init = _member(text, "__init__")
    assert "self._attach(\n        AsyncAzureImages(\n" in init
    for parameter in ("azure_endpoint", "api_version", "azure_deployment", "proxy", "ssl"):
        assert f"            {parameter}={parameter},\n" in init
    assert "http_session" not in text  # dropped, as from Images
    assert "from ._sync_client import Images\n" in text
    assert "from ._azure import AsyncAzureImages\n" in text


AZURE_SOURCE = '''\
from ._async_images import AsyncImages


class AsyncAzureImages(AsyncImages):
    """The methods of :class:`AsyncImages`; use ``async with`` or :meth:`aclose`."""

    def __init__(self, *, api_version: str | None = None, http_session: object = None) -> None:
        """The other options are those of :class:`AsyncImages`."""
        self._configure(api_version)

    def __repr__(self) -> str:
        return "AsyncAzureImages()"
'''


def test_azure_twin_header_and_renamed_docstrings() -> None:
    text = gen.generate_source(AZURE_SOURCE, gen.AZURE_SPEC)
    assert text.startswith('"""AzureImages: the sync facade of :class:`AsyncAzureImages`')
    assert (
        "# Generated by scripts/generate_sync.py from images_async/_azure.py: do not edit.\n"
        in text
    )
    assert gen.recorded_hash_matches(text)
    assert '"""The methods of :class:`Images`; use ``with`` or :meth:`close`."""' in text
    assert '"""The other options are those of :class:`Images`."""' in text
    assert "def __init__(self, *, api_version: str | None = None) -> None:" in text
    assert "__repr__" not in text


def test_azure_twin_staleness_is_checked_and_hand_edits_refused(tmp_path: Path) -> None:
    root, target = tmp_path, tmp_path / AZURE_TARGET
    source = root / gen.AZURE_SPEC.source_path
    source.parent.mkdir(parents=True)
    source.write_text(AZURE_SOURCE)
    assert "does not exist" in gen.check(root, gen.AZURE_SPEC)
    assert gen.write(root, gen.AZURE_SPEC)
    assert gen.check(root, gen.AZURE_SPEC) == ""
    source.write_text(AZURE_SOURCE.replace("api_version: str | None = None", "api_version: str"))
    report = gen.check(root, gen.AZURE_SPEC)
    assert "+    def __init__(self, *, api_version: str) -> None:\n" in report
    assert report.endswith(
        f"{AZURE_TARGET} is stale. Regenerate it with: "
        "nox -s sync  (or python scripts/generate_sync.py)\n"
    )
    target.write_text(target.read_text() + "# hand edit\n")
    with pytest.raises(gen.HandEditedError, match=r"_sync_azure\.py was edited by hand"):
        gen.write(root, gen.AZURE_SPEC)
    assert gen.write(root, gen.AZURE_SPEC, force=True)
    assert gen.check(root, gen.AZURE_SPEC) == ""


def test_a_new_public_method_of_the_azure_client_gets_its_twin() -> None:
    added = (
        "    async def deployment_names(self, *, refresh: bool = False) -> list[str]:\n"
        '        """The deployments of the resource; see :meth:`aclose`."""\n'
        "        return []\n\n"
        "    def __repr__(self) -> str:\n"
    )
    source = AZURE_SOURCE.replace("    def __repr__(self) -> str:\n", added, 1)
    method = _member(gen.generate_source(source, gen.AZURE_SPEC), "deployment_names")
    assert method == (
        "def deployment_names(self, *, refresh: bool = False) -> list[str]:\n"
        '    """The deployments of the resource; see :meth:`close`."""\n'
        "    return self._call(self._async.deployment_names(refresh=refresh))\n"
    )


def test_azure_twin_self_rename_is_dormant_until_a_docstring_names_the_class() -> None:
    source = AZURE_SOURCE.replace("use ``async with``", "an AsyncAzureImages: use ``async with``")
    with pytest.raises(gen.GenerationError, match="'AsyncAzureImages' is used now"):
        gen.generate_source(source, gen.AZURE_SPEC)


def test_azure_twin_fails_when_its_repr_skip_matches_nothing() -> None:
    tree = ast.parse(_azure_source())
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AsyncAzureImages"]
    cls.body = [n for n in cls.body if getattr(n, "name", None) != "__repr__"]
    with pytest.raises(gen.GenerationError, match="skip rule '__repr__' matched no member"):
        gen.generate_source(ast.unparse(tree), gen.AZURE_SPEC)


# -- the real facade -------------------------------------------------------------------------


def test_files_twin_runs_on_the_images_loop_and_opens_content_on_first_use() -> None:
    text = gen.generate(ROOT, gen.FILES_SPEC)
    [cls] = [node for node in ast.parse(text).body if isinstance(node, ast.ClassDef)]
    assert (cls.name, [ast.unparse(base) for base in cls.bases]) == (
        "StoredFiles",
        ["StoredFilesBase"],
    )
    methods = [node.name for node in cls.body if isinstance(node, ast.FunctionDef)]
    assert methods == ["upload", "retrieve", "delete", "content", "save_content"]  # no __init__
    content = _member(text, "content")
    assert ") -> SyncStreamedResponse:\n" in content
    assert "    return self._sync_streamed(\n        lambda: self._async.content(\n" in content
    assert "``with images.files.content(file_id) as response:``" in content
    assert "    return self._call(\n        self._async.upload(\n" in _member(text, "upload")
    assert "from ._sync_files_base import StoredFilesBase\n" in text
    assert "from ._stored_files import StoredFile\n" in text
    images = _member(gen.generate(), "files")
    assert images.startswith("@functools.cached_property\ndef files(self) -> StoredFiles:\n")
    assert images.endswith("    return StoredFiles(self)\n")


def test_batches_twin_runs_on_the_images_loop_and_iterates_outcomes() -> None:
    text = gen.generate(ROOT, gen.BATCHES_SPEC)
    [cls] = [node for node in ast.parse(text).body if isinstance(node, ast.ClassDef)]
    assert (cls.name, [ast.unparse(base) for base in cls.bases]) == ("Batches", ["BatchesBase"])
    methods = [node.name for node in cls.body if isinstance(node, ast.FunctionDef)]
    assert methods == ["submit", "retrieve", "wait", "cancel", "outcomes"]  # no __init__
    outcomes = _member(text, "outcomes")
    assert ") -> Iterator[Outcome[GenerateRequest | EditRequest]]:\n" in outcomes
    call = "self._async.outcomes(job=job, cleanup=cleanup, save_to=save_to)"
    expected = f"    return self._iterate({call})\n"
    assert expected in outcomes
    assert "from ._sync_batches_base import BatchesBase\n" in text
    images = _member(gen.generate(), "batches")
    assert images.startswith("@functools.cached_property\ndef batches(self) -> Batches:\n")
    assert images.endswith("    return Batches(self)\n")


def test_images_facade_is_up_to_date() -> None:
    """Every generated module (views, ``Images``, ``AzureImages``) matches its source."""
    assert gen.check() == ""


@pytest.mark.parametrize("from_root", [True, False], ids=["from-root", "from-elsewhere"])
def test_check_command_exit_code(from_root: bool, tmp_path: Path) -> None:
    """The script finds its sibling modules and the repository wherever it is run from."""
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        cwd=ROOT if from_root else tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


if __name__ == "__main__":
    gen.write(ROOT, FIXTURE_SPEC, force=True)
    print(f"wrote {FIXTURE_SPEC.target_path}")
