"""The facade builder of ``scripts/generate_sync.py``: the sync class, one delegation per member.

:func:`build_module` reads the async class from its source with :mod:`ast` (never importing
it) and returns the module of the sync class as a syntax tree: one delegation per public
member, renamed by the spec's tables. This module owns the member shapes the facade
supports (:func:`_member` lists them) and fails when a rule of the spec goes unused; the
pieces shared with the views builder live in ``scripts/sync_codegen.py``.
"""

from __future__ import annotations

import ast
import copy

from sync_codegen import (
    Function,
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

ASYNC_ITERATORS = frozenset({"AsyncIterator", "AsyncGenerator"})


# -- pieces of a member --------------------------------------------------------------------


def _returns(rules: Rules, function: Function, *, iterator: bool = False) -> ast.expr:
    """The renamed return annotation; ``AsyncGenerator[T, S]`` becomes ``Iterator[T]``."""
    where = location(rules.spec, function)
    annotation = function.returns
    if annotation is None:
        raise GenerationError(f"{where}: no return annotation")
    if iterator:
        if not isinstance(annotation, ast.Subscript):
            raise GenerationError(f"{where}: annotate it as AsyncIterator[...] or AsyncGenerator")
        if _annotation_name(annotation) == "AsyncGenerator":
            item = annotation.slice
            item = item.elts[0] if isinstance(item, ast.Tuple) else item
            annotation = ast.Subscript(ast.Name("Iterator"), item, ast.Load())
    return rules.expr(annotation, f"{where}, return annotation")


def _annotation_name(node: ast.expr | None) -> str | None:
    """``X`` for ``X``, ``m.X``, ``X[...]`` and ``m.X[...]``."""
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


# -- member shapes -------------------------------------------------------------------------


def _method_kind(spec: Spec, function: Function) -> str:
    where = location(spec, function)
    returned = _annotation_name(function.returns)
    if isinstance(function, ast.AsyncFunctionDef):
        if is_generator(function):
            return "iterate"
        if returned in ASYNC_ITERATORS:
            raise GenerationError(
                f"{where}: a coroutine returning an async iterator is unsupported; "
                "make it an async generator (use yield)"
            )
        return "call"
    if returned in ASYNC_ITERATORS:
        return "iterate"
    if isinstance(function.returns, ast.Name) and returned == spec.source_class:
        return "derive"
    if isinstance(function.returns, ast.Name) and returned in spec.conversions:
        return "open"
    raise GenerationError(
        f"{where}: unsupported public plain method; only async def, async generators and "
        f"plain methods returning {spec.source_class}, an async iterator or a result with a "
        "conversion rule are generated"
    )


def _method(rules: Rules, overloads: list[Function], function: Function) -> list[ast.stmt]:
    """Coroutine method (with overloads), async iterator method, or derived client."""
    spec = rules.spec
    kind = _method_kind(spec, function)
    nodes: list[ast.stmt] = []
    for stub in overloads:
        if isinstance(stub, ast.AsyncFunctionDef) != isinstance(function, ast.AsyncFunctionDef):
            raise GenerationError(f"{location(spec, stub)}: overload and implementation differ")
        node = signature_of(rules, stub, _returns(rules, stub, iterator=kind == "iterate"))
        node.decorator_list = [rules.expr(d, location(spec, stub)) for d in stub.decorator_list]
        node.body = docstring_of(rules, stub, 8) or [ast.Expr(ast.Constant(...))]
        nodes.append(node)
    node = signature_of(rules, function, _returns(rules, function, iterator=kind == "iterate"))
    forwarded = forwarded_args(function, spec.drops.get(function.name, {}))
    inner = f"self._async.{function.name}({forwarded})"
    conversion = rules.conversion(function.returns) if kind in ("call", "open") else None
    if kind == "call" and conversion is None:
        _check_no_async_result(spec, function)
    if kind == "open":  # a context the sync twin enters on first use: handed over unopened
        code = f"return self.{conversion}(lambda: {inner})"
    elif kind != "call":
        code = f"return self._{kind}({inner})"
    elif conversion is not None:
        code = f"return self.{conversion}(self._call({inner}))"
    elif isinstance(function.returns, ast.Constant) and function.returns.value is None:
        code = f"self._call({inner})"
    else:
        code = f"return self._call({inner})"
    node.body = [*docstring_of(rules, function, 8), *statements(code)]
    return [*nodes, node]


def _check_no_async_result(spec: Spec, function: Function) -> None:
    for node in ast.walk(function.returns or ast.Pass()):
        if isinstance(node, ast.Name) and node.id in spec.renames:
            raise GenerationError(
                f"{location(spec, function)}: returns {node.id}, which sync code cannot use; "
                "add a conversion rule for it"
            )


def _property(rules: Rules, function: Function, decorator: str) -> list[ast.stmt]:
    """A property passing the async client's value through, or a cached view."""
    spec = rules.spec
    where = location(spec, function)
    if isinstance(function, ast.AsyncFunctionDef) or len(function.args.args) != 1:
        raise GenerationError(f"{where}: a property must be a plain def taking only self")
    returns = function.returns or ast.Pass()
    if decorator == "property":
        if any(isinstance(n, ast.Name) and n.id in spec.renames for n in ast.walk(returns)):
            raise GenerationError(f"{where}: a property cannot return an async-only type")
        code = f"return self._async.{function.name}"
    elif isinstance(function.returns, ast.Name) and function.returns.id in spec.renames:
        code = f"return {spec.renames[function.returns.id]}(self)"
    else:
        raise GenerationError(f"{where}: a cached_property must return a renamed view class")
    node = signature_of(rules, function, _returns(rules, function))
    node.decorator_list = [rules.expr(function.decorator_list[0], where)]
    node.body = [*docstring_of(rules, function, 8), *statements(code)]
    return [node]


def _init(rules: Rules, function: Function) -> list[ast.stmt]:
    """Same parameters (minus dropped ones); builds the async client and attaches it."""
    spec = rules.spec
    where = location(spec, function)
    if isinstance(function, ast.AsyncFunctionDef) or function.decorator_list:
        raise GenerationError(f"{where}: __init__ must be a plain undecorated def")
    rules.need(spec.source_class, where)
    forwarded = forwarded_args(function, spec.drops.get("__init__", {}))
    node = signature_of(rules, function, ast.Constant(None))
    code = f"self._attach({spec.source_class}({forwarded}))"
    node.body = [*docstring_of(rules, function, 8), *statements(code)]
    return [node]


def _member(rules: Rules, overloads: list[Function], function: Function) -> list[ast.stmt]:
    """The generated definitions of one public member.

    Supported: ``__init__``; ``async def`` (with ``@overload`` stubs); async generators;
    plain ``def`` returning the source class, an async iterator, or a result named in the
    spec's conversions (an async context, handed to the conversion unopened); ``@property``;
    ``@functools.cached_property`` returning a view class. Everything else fails, naming
    the member and its line.
    """
    where = location(rules.spec, function)
    decorators = decorator_names(function)
    if function.name == "__init__":
        return _init(rules, function)
    if function.name.startswith("__"):
        raise GenerationError(f"{where}: unsupported dunder method; generate or skip it")
    if decorators in (["property"], ["cached_property"]):
        return _property(rules, function, decorators[0])
    if decorators:
        raise GenerationError(f"{where}: unsupported decorator(s) {', '.join(decorators)}")
    return _method(rules, overloads, function)


def _members(rules: Rules, cls: ast.ClassDef) -> list[ast.stmt]:
    spec = rules.spec
    body: list[ast.stmt] = []
    overloads: list[Function] = []
    seen_skips: set[str] = set()
    dropped: set[tuple[str, str]] = set()
    for node in cls.body[0 if ast.get_docstring(cls) is None else 1 :]:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _check_other_statement(spec, node)
            continue
        if _is_private(node.name):
            continue
        if overloads and overloads[-1].name != node.name:
            raise GenerationError(f"{location(spec, overloads[-1])}: overload without a body")
        if decorator_names(node) == ["overload"]:
            overloads.append(node)
            continue
        if node.name in spec.skips:
            seen_skips.add(node.name)
        else:
            names = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            dropped.update((node.name, p) for p in spec.drops.get(node.name, {}) if p in names)
            body.extend(_member(rules, overloads, node))
        overloads = []
    if overloads:
        raise GenerationError(f"{location(spec, overloads[-1])}: overload without a body")
    rules.check_used(seen_skips, dropped)
    return body


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _check_other_statement(spec: Spec, node: ast.stmt) -> None:
    """Private attributes and ``pass`` are fine; anything public besides methods is not."""
    if isinstance(node, ast.Pass):
        return
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    names = [target.id for target in targets if isinstance(target, ast.Name)]
    if names and len(names) == len(targets) and all(_is_private(name) for name in names):
        return
    statement = ast.unparse(node).splitlines()[0]
    raise GenerationError(
        f"{spec.source_class} (line {node.lineno}): unsupported class-level statement "
        f"{statement!r}; only methods and private attributes are generated from"
    )


def build_module(source_text: str, spec: Spec) -> ast.Module:
    """The generated module for ``source_text`` (the source module), as a syntax tree."""
    tree = ast.parse(source_text)
    source = find_class(tree, spec.source_class, spec.source_path)
    rules = Rules(spec, tree)
    cls = copy.copy(source)
    cls.name, cls.keywords, cls.decorator_list = spec.target_class, [], []
    cls.bases = [ast.Name(spec.base_class)]
    cls.body = [*docstring_of(rules, source, 4), *_members(rules, source)]
    rules.need(spec.base_class, f"base class {spec.base_class}")
    return ast.fix_missing_locations(ast.Module([*rules.imports(), cls], []))
