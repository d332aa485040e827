"""The API reference documents every public name, under the name users import it by, and
every public name and member has a docstring for it to show.

Public names are the ``__all__`` of ``images_async``, of ``images_async.testing`` and of
its public modules of pictures (``pictures``, ``sample_images``). A name is in the
reference when ``docs/api.md`` has an autodoc (or ``py:``) directive for it.
A class's members are its public methods, properties and attrs fields, including those it
inherits from other classes of the package (not those of ``object``, ``Exception`` or
attrs): methods and properties carry a docstring, fields a docstring on the line after
them, which is where autodoc reads it from.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
import sys
import types
from pathlib import Path

import attrs
import pytest

import images_async
import images_async.testing
import images_async.testing.pictures
import images_async.testing.sample_images

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"
NAMESPACES = (
    images_async,
    images_async.testing,
    images_async.testing.pictures,
    images_async.testing.sample_images,
)

#: A reference entry: ``.. autoclass:: images_async.Images`` and the like.
ENTRY = re.compile(
    r"^\s*\.\. (?:auto(?:class|exception|function|data)|py:(?:class|data|function))::"
    r"\s+([\w.]+)",
    re.MULTILINE,
)


def reference_entries() -> set[str]:
    return set(ENTRY.findall(API_PAGE.read_text(encoding="utf-8")))


def public_names() -> list[tuple[types.ModuleType, str]]:
    return [(namespace, name) for namespace in NAMESPACES for name in namespace.__all__]


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda namespace: namespace.__name__)
def test_every_public_name_has_a_reference_entry(namespace: types.ModuleType) -> None:
    entries = reference_entries()
    missing = [name for name in namespace.__all__ if f"{namespace.__name__}.{name}" not in entries]
    assert missing == []


def test_public_classes_say_they_live_in_the_package() -> None:
    classes = [getattr(images_async, name) for name in images_async.__all__]
    misplaced = [
        cls.__qualname__
        for cls in classes
        # HTTPSession names aiohttp's own class, which stays where aiohttp put it.
        if isinstance(cls, type) and cls.__module__.startswith("images_async.")
    ]
    assert misplaced == []


# -- docstrings ---------------------------------------------------------------------------


def defining_source(cls: type) -> tuple[ast.ClassDef, list[str]]:
    """The ``class`` statement of ``cls`` and its module's lines.

    Found through the loaded modules of the package rather than ``cls.__module__``, which
    ``images_async`` sets to itself for the classes it presents.
    """
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        source_file = getattr(module, "__file__", None)
        if not name.startswith("images_async") or source_file is None:
            continue
        if vars(module).get(cls.__name__) is not cls:
            continue
        source = Path(source_file).read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
                return node, source.splitlines()
    raise LookupError(f"no source defines {cls.__qualname__}")


def documented_fields(cls: type) -> set[str]:
    """Class-level names of ``cls`` with a docstring after them or a ``#:`` comment before."""
    node, lines = defining_source(cls)
    documented = set()
    for statement, following in zip(node.body, [*node.body[1:], None], strict=True):
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            name = statement.target.id
        elif isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
            name = statement.targets[0].id
        else:
            continue
        after = following.value if isinstance(following, ast.Expr) else None
        if isinstance(after, ast.Constant) and isinstance(after.value, str) and after.value.strip():
            documented.add(name)
        if lines[statement.lineno - 2].strip().startswith("#:"):
            documented.add(name)
    return documented


def package_owner(cls: type, member: str) -> type | None:
    """The class of the package that defines ``member`` for ``cls``, or None when it comes
    from outside (``object``, ``Exception``, attrs, ``typing``)."""
    for base in cls.__mro__:
        if member in vars(base):
            return base if base.__module__.startswith("images_async") else None
    return None


def member_docstring(value: object) -> str | None:
    if isinstance(value, (classmethod, staticmethod)):
        return value.__func__.__doc__
    if isinstance(value, (property, functools.cached_property)):
        return value.__doc__
    return getattr(value, "__doc__", None)


def undocumented_members(cls: type) -> list[str]:
    fields = {field.name for field in attrs.fields(cls)} if attrs.has(cls) else set()
    missing = []
    for member in sorted(dir(cls)):
        owner = package_owner(cls, member)
        if member.startswith("_") or owner is None:
            continue
        value = vars(owner)[member]
        is_routine = inspect.isfunction(value) or isinstance(
            value, (classmethod, staticmethod, property, functools.cached_property)
        )
        if member in fields or not is_routine:
            if member not in documented_fields(owner):
                missing.append(member)
        elif not (member_docstring(value) or "").strip():
            missing.append(member)
    return missing


def case_id(item: object) -> str:
    return item.__name__ if isinstance(item, types.ModuleType) else str(item)


@pytest.mark.parametrize(("namespace", "name"), public_names(), ids=case_id)
def test_public_name_and_its_members_have_docstrings(
    namespace: types.ModuleType, name: str
) -> None:
    value = getattr(namespace, name)
    if not isinstance(value, type) and not inspect.isfunction(value):
        return  # a type alias, type variable or constant: api.md describes it in words
    # Its own docstring, not one inherited from a base class.
    own_doc = vars(value).get("__doc__") if isinstance(value, type) else value.__doc__
    assert (own_doc or "").strip(), f"{name} has no docstring"
    if isinstance(value, type):
        assert undocumented_members(value) == []


SAMPLE_MODULE = '''
import functools

import attrs


class Base:
    """A base class of the package: what it defines is walked too."""

    def inherited(self) -> None:
        pass

    @functools.cached_property
    def cached(self) -> int:
        """A cached property with its docstring."""
        return 0


@attrs.frozen
class Sample(Base):
    """A class as the walk sees one."""

    documented: int = 0
    """A field with its docstring."""
    bare: int = 0

    @property
    def quiet(self) -> int:
        return self.bare

    def spoken(self) -> int:
        """A method with its docstring."""
        return self.documented
'''


def test_the_member_walk_finds_what_lacks_a_docstring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module whose name starts like the package's, so the walk treats it as one of them.
    name = "images_async_docstring_walk_sample"
    (tmp_path / f"{name}.py").write_text(SAMPLE_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        sample = importlib.import_module(name)
        assert undocumented_members(sample.Sample) == ["bare", "inherited", "quiet"]
    finally:
        sys.modules.pop(name, None)
