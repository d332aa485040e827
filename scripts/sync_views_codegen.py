"""The views builder of ``scripts/generate_sync.py``: ``with_raw_response`` and friends.

:func:`build_views_module` reads the async class from its source with :mod:`ast` and returns
a module of view classes as a syntax tree: one class per response mode, one declared method
per endpoint, with the endpoint's own parameters and docstring, whose body hands the
endpoint's callee to the view's base class. This module owns :class:`ViewsSpec` and the
checks that an endpoint can be viewed; the pieces shared with the facade builder live in
``scripts/sync_codegen.py``.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from typing import Any

from sync_codegen import (
    GenerationError,
    Rules,
    Spec,
    decorator_names,
    docstring_of,
    find_class,
    forwarded_args,
    is_generator,
    location,
    signature_of,
    statements,
)


@dataclasses.dataclass(frozen=True)
class ViewClass:
    """One generated view class: every endpoint of the source class, in one response mode."""

    name: str
    base: str  #: the hand-written base class providing ``_send``
    returns: str  #: what each of its methods returns
    docstring: str


@dataclasses.dataclass(frozen=True)
class ViewsSpec:
    """What to generate for views: classes whose methods copy the source class's endpoints.

    Each view method has the signature and docstring of the source method's implementation
    (its ``@overload`` stubs are left out: a view returns one type whatever ``stream`` is)
    and its body is ``return self._send(<callee>, <every parameter>)``.
    """

    source_path: str
    target_path: str
    source_module: str
    target_module: str
    source_class: str
    summary: str  #: the generated module's docstring
    classes: tuple[ViewClass, ...]
    #: endpoint method -> the callable its view methods send through: a name the source
    #: module imports (which the method must call with every one of its parameters by
    #: keyword), or an attribute of ``self``.
    callees: Mapping[str, str]
    #: where the generated module imports each base and result type from.
    imported_from: Mapping[str, str]
    #: Whole-word renames for annotations and docstrings. Not checked for use here: they are
    #: the facade's table, whose generation fails on an unused rule, and every view docstring
    #: is also a facade docstring.
    renames: Mapping[str, str]
    regenerate: str
    line_length: int = 100


def _views_rules(spec: ViewsSpec, tree: ast.Module) -> Rules:
    first = spec.classes[0]
    rules_spec = Spec(
        source_path=spec.source_path,
        target_path=spec.target_path,
        source_module=spec.source_module,
        target_module=spec.target_module,
        source_class=spec.source_class,
        target_class=first.name,
        base_class=first.base,
        base_module=spec.imported_from[first.base],
        renames=spec.renames,
        renamed_from=spec.imported_from,
        skips={},
        regenerate=spec.regenerate,
        line_length=spec.line_length,
    )
    return Rules(rules_spec, tree)


def _endpoints(spec: ViewsSpec, cls: ast.ClassDef) -> dict[str, ast.AsyncFunctionDef]:
    """The implementation of each method named in ``spec.callees``, checked to be viewable."""
    found: dict[str, ast.AsyncFunctionDef] = {}
    for node in cls.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if node.name not in spec.callees or decorator_names(node) == ["overload"]:
            continue
        where = location(spec, node)
        if not isinstance(node, ast.AsyncFunctionDef) or node.decorator_list:
            raise GenerationError(f"{where}: a viewed method must be an undecorated async def")
        if is_generator(node):
            raise GenerationError(f"{where}: an async generator cannot be viewed")
        found[node.name] = node
    for name in spec.callees:
        if name not in found:
            raise GenerationError(f"view rule {name!r} matched no method of {spec.source_class}")
    return found


def _check_callee_call(spec: ViewsSpec, function: ast.AsyncFunctionDef, callee: str) -> None:
    """A callee named by the source module must be called with every parameter by keyword."""
    where = location(spec, function)
    args = function.args
    if args.vararg or args.kwarg or args.posonlyargs or len(args.args) != 1:
        raise GenerationError(f"{where}: a viewed method takes self and keyword-only parameters")
    expected = {a.arg for a in args.kwonlyargs}
    calls = [
        node
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == callee
    ]
    if len(calls) != 1:
        raise GenerationError(f"{where}: calls {callee} {len(calls)} times, not once")
    passed = {k.arg for k in calls[0].keywords if k.arg and k.arg == getattr(k.value, "id", None)}
    if passed != expected:
        missing = ", ".join(sorted(expected ^ passed))
        raise GenerationError(f"{where}: {callee} is not given exactly its parameters ({missing})")


def _view_method(
    rules: Rules, view: ViewClass, function: ast.AsyncFunctionDef, callee: str
) -> ast.FunctionDef:
    node = signature_of(rules, function, ast.Name(view.returns))
    rules.need(view.returns, f"view {view.name}")
    forwarded = forwarded_args(function, {})
    node.body = [
        *docstring_of(rules, function, 8),
        *statements(f"return self._send({callee}, {forwarded})"),
    ]
    return node


def _class_docstring(text: str) -> ast.stmt:
    lines = text.strip().split("\n")
    body = [lines[0], *(f"    {line}" if line else "" for line in lines[1:])]
    return ast.Expr(ast.Constant("\n".join(body) + ("\n    " if len(lines) > 1 else "")))


def build_views_module(source_text: str, spec: ViewsSpec) -> ast.Module:
    """The generated views module for ``source_text`` (the source module), as a syntax tree."""
    tree = ast.parse(source_text)
    source = find_class(tree, spec.source_class, spec.source_path)
    rules = _views_rules(spec, tree)
    endpoints = _endpoints(spec, source)
    for name, callee in spec.callees.items():
        parsed = ast.parse(callee, mode="eval").body
        if isinstance(parsed, ast.Name):
            _check_callee_call(spec, endpoints[name], callee)
            rules.need(parsed, f"view rule {name!r}")
        elif not (
            isinstance(parsed, ast.Attribute)
            and isinstance(parsed.value, ast.Attribute)
            and isinstance(parsed.value.value, ast.Name)
            and parsed.value.value.id == "self"
        ):
            raise GenerationError(f"view rule {name!r}: {callee!r} is no name nor self.x.y")
    body: list[ast.stmt] = []
    for view in spec.classes:
        rules.need(view.base, f"view {view.name}")
        methods = [
            _view_method(rules, view, endpoints[name], callee)
            for name, callee in spec.callees.items()
        ]
        fields: dict[str, Any] = {f: [] for f in ast.ClassDef._fields}  # whatever this ast has
        cls = ast.ClassDef(**{**fields, "name": view.name, "bases": [ast.Name(view.base)]})
        cls.body = [_class_docstring(view.docstring), *methods]
        body.append(cls)
    return ast.fix_missing_locations(ast.Module([*rules.imports(), *body], []))
