"""The syntax-tree half of ``scripts/generate_sync.py``: builds the sync facade's module.

:func:`build_module` reads the async class from its source with :mod:`ast` (never importing
it) and returns the module of the sync class as a syntax tree: one delegation per public
member, renamed by the spec's tables. :func:`build_views_module` builds the raw and
streaming view classes the same way: one declared method per endpoint, with the endpoint's
parameters and docstring. Laying the text out is the formatter's job, not ours.
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any, TypeAlias

ASYNC_ITERATORS = frozenset({"AsyncIterator", "AsyncGenerator"})

Function: TypeAlias = ast.FunctionDef | ast.AsyncFunctionDef


@dataclasses.dataclass(frozen=True)
class Spec:
    """What to generate: which class, from which module, into which module, with which rules."""

    source_path: str  #: source file, relative to the repository root (posix)
    target_path: str  #: generated file, relative to the repository root (posix)
    source_module: str  #: dotted name of the source module
    target_module: str  #: dotted name of the generated module
    source_class: str
    target_class: str
    base_class: str
    base_module: str  #: dotted name of the module defining base_class
    renames: Mapping[str, str]
    renamed_from: Mapping[str, str]
    skips: Mapping[str, str]
    regenerate: str  #: the command the header and --check tell people to run
    conversions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    drops: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    dormant_renames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    line_length: int = 100


class GenerationError(Exception):
    """The source has a shape the generator does not support, or a rule is wrong."""


# -- rules ---------------------------------------------------------------------------------


class _Rules:
    """Applies the spec's tables, remembering what was used, and collects the names to import."""

    def __init__(self, spec: Spec, tree: ast.Module) -> None:
        self.spec = spec
        self.used: set[str] = set()
        words = sorted(spec.renames, key=lambda word: (-len(word), word))
        self._pattern = re.compile("|".join(_whole_word(word) for word in words))
        self._known: dict[str, tuple[str, str | None]] = {}  # name -> (module, imported name)
        self._needed: dict[str, str] = {}  # name -> where it is first used, for errors
        for node in tree.body:
            self._learn(node)

    def text(self, text: str) -> str:
        if not self.spec.renames:
            return text
        return self._pattern.sub(lambda m: self._use(m.group(), self.spec.renames), text)

    def _use(self, key: str, table: Mapping[str, str]) -> str:
        self.used.add(key)
        return table[key]

    def expr(self, node: ast.expr, where: str, *, annotation: bool = True) -> ast.expr:
        """A renamed copy of ``node``; the names it uses are recorded for import."""
        if annotation and isinstance(node, ast.Constant) and isinstance(node.value, str):
            raise GenerationError(f"{where}: quoted annotation; write it unquoted")
        renamed = copy.deepcopy(node)
        for child in ast.walk(renamed):
            if isinstance(child, ast.Name) and child.id in self.spec.renames:
                child.id = self._use(child.id, self.spec.renames)
            elif isinstance(child, ast.Attribute) and child.attr in self.spec.renames:
                child.attr = self._use(child.attr, self.spec.renames)
        self.need(renamed, where)
        return renamed

    def conversion(self, node: ast.expr | None) -> str | None:
        """The base-class method converting a result annotated ``node``, if it needs one."""
        found = {n.id for n in ast.walk(node or ast.Pass()) if isinstance(n, ast.Name)}
        methods = {self.spec.conversions[name] for name in found & set(self.spec.conversions)}
        self.used.update(f"conversion:{name}" for name in found & set(self.spec.conversions))
        if len(methods) > 1:
            raise GenerationError(f"two conversions for one result: {sorted(methods)}")
        return methods.pop() if methods else None

    def check_used(self, seen_skips: set[str], dropped: set[tuple[str, str]]) -> None:
        spec = self.spec
        for rule in spec.renames:
            if rule in spec.dormant_renames and rule in self.used:
                raise GenerationError(
                    f"rename rule {rule!r} is used now: remove it from DORMANT_RENAMES"
                )
            if rule not in spec.dormant_renames and rule not in self.used:
                raise GenerationError(f"rename rule {rule!r} was never used")
        for rule in spec.dormant_renames:
            if rule not in spec.renames:
                raise GenerationError(f"dormant rename rule {rule!r} is not in the rename table")
        for name in spec.conversions:
            if f"conversion:{name}" not in self.used:
                raise GenerationError(f"conversion rule {name!r} matched no result")
        for name in spec.skips:
            if name not in seen_skips:
                raise GenerationError(f"skip rule {name!r} matched no member of the class")
        for member, parameters in spec.drops.items():
            for parameter in parameters:
                if (member, parameter) not in dropped:
                    raise GenerationError(f"drop rule {member}.{parameter} matched no parameter")

    # -- imports ---------------------------------------------------------------------------

    def _learn(self, node: ast.stmt) -> None:
        module = self.spec.source_module
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.partition(".")[0]
                self._known[alias.asname or top] = (alias.name if alias.asname else top, None)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node.module, node.level, module)
            for alias in node.names:
                self._known[alias.asname or alias.name] = (source, alias.name)
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            self._known[node.name] = (module, node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    self._known[target.id] = (module, target.id)

    def need(self, code: ast.AST | str, where: str) -> None:
        tree = ast.parse(code, mode="eval") if isinstance(code, str) else code
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                self._needed.setdefault(node.id, where)

    def imports(self) -> list[ast.stmt]:
        """One import per needed name, unsorted (ruff sorts them), relative inside the package."""
        spec = self.spec
        nodes: list[ast.stmt] = [ast.ImportFrom("__future__", [ast.alias("annotations")], 0)]
        for name, where in self._needed.items():
            if name == spec.target_class or (hasattr(builtins, name) and name not in self._known):
                continue
            imported: str | None = name
            if name == spec.base_class:
                module = spec.base_module
            elif name in spec.renamed_from:
                module = spec.renamed_from[name]
            elif name in self._known:
                module, imported = self._known[name]
            elif name == "Iterator":  # made by the generator for AsyncGenerator[...] returns
                module = "collections.abc"
            else:
                raise GenerationError(f"{where}: cannot tell where {name!r} comes from")
            if imported is None:
                nodes.append(ast.Import([ast.alias(module, None if module == name else name)]))
                continue
            relative = _relative(module, spec.target_module)
            level = len(relative) - len(relative.lstrip("."))
            alias = ast.alias(imported, None if imported == name else name)
            nodes.append(ast.ImportFrom(relative.lstrip(".") or None, [alias], level))
        return nodes


def _whole_word(word: str) -> str:
    start = r"\b" if re.match(r"\w", word[0]) else ""
    end = r"\b" if re.match(r"\w", word[-1]) else ""
    return start + re.escape(word) + end


def _absolute(module: str | None, level: int, importer: str) -> str:
    if level == 0:
        return module or ""
    package = importer.split(".")[:-level]
    return ".".join([*package, *([module] if module else [])])


def _relative(module: str, importer: str) -> str:
    """``module`` as the generated module writes it: relative inside the same package."""
    parts, package = module.split("."), importer.split(".")[:-1]
    if not package or parts[0] != package[0]:
        return module
    common = 0
    while common < min(len(parts), len(package)) and parts[common] == package[common]:
        common += 1
    return "." * (len(package) - common + 1) + ".".join(parts[common:])


# -- pieces of a member --------------------------------------------------------------------


def _where(spec: Spec, node: ast.stmt) -> str:
    return f"{spec.source_class}.{getattr(node, 'name', type(node).__name__)} (line {node.lineno})"


def _docstring(rules: _Rules, node: Function | ast.ClassDef, indent: int) -> list[ast.stmt]:
    """The renamed docstring; a line the renames made too long is wrapped at a space."""
    doc = ast.get_docstring(node, clean=False)
    if doc is None:
        return []
    limit, originals, lines = rules.spec.line_length, doc.split("\n"), []
    for number, before in enumerate(originals):
        lead, trail = indent + 3 if number == 0 else 0, 3 if number == len(originals) - 1 else 0
        after = rules.text(before)
        while lead + len(after) + trail > limit >= lead + len(before) + trail:
            cut = after.rfind(" ", len(after) - len(after.lstrip()) + 1, limit - lead + 1)
            if cut < 0:
                raise GenerationError(f"line {node.lineno}: renamed docstring line is too long")
            lines.append(after[:cut])
            after, lead = " " * indent + after[cut + 1 :], 0
        lines.append(after)
    return [ast.Expr(ast.Constant("\n".join(lines)))]


def _signature(rules: _Rules, function: Function, returns: ast.expr | None) -> ast.FunctionDef:
    """A plain ``def`` with the renamed parameters of ``function`` (minus dropped ones)."""
    where = _where(rules.spec, function)
    args = copy.deepcopy(function.args)
    dropped = rules.spec.drops.get(function.name, {})
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults = [*defaults, *args.defaults]
    kept = [(a, d) for a, d in zip(positional, defaults, strict=True) if a.arg not in dropped]
    if any(a.arg in dropped and d is None for a, d in zip(positional, defaults, strict=True)):
        raise GenerationError(f"{where}: only a parameter with a default can be dropped")
    args.posonlyargs = [a for a in args.posonlyargs if a.arg not in dropped]
    args.args = [a for a, _ in kept if a in args.args]
    args.defaults = [d for _, d in kept if d is not None]
    keywords = list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    if any(a.arg in dropped and d is None for a, d in keywords):
        raise GenerationError(f"{where}: only a parameter with a default can be dropped")
    args.kwonlyargs = [a for a, _ in keywords if a.arg not in dropped]
    args.kw_defaults = [d for a, d in keywords if a.arg not in dropped]
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None and arg.annotation is not None:
            arg.annotation = rules.expr(arg.annotation, f"{where}, parameter {arg.arg}")
    args.defaults = [rules.expr(d, where, annotation=False) for d in args.defaults]
    args.kw_defaults = [d and rules.expr(d, where, annotation=False) for d in args.kw_defaults]
    fields: dict[str, Any] = {f: getattr(function, f, None) for f in ast.FunctionDef._fields}
    node = ast.FunctionDef(**fields)  # every field, whatever this Python's ast has
    node.args, node.returns, node.decorator_list, node.body = args, returns, [], []
    return node


def _forwarded(function: Function, dropped: Mapping[str, str]) -> str:
    """Every parameter but self, passed on: by name, or by position where *args needs it."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    if not positional:
        raise GenerationError(f"line {function.lineno}: a method needs a self parameter")
    forwarded: list[str] = []
    for index, arg in enumerate(positional[1:], start=1):
        if arg.arg not in dropped:
            by_position = index < len(args.posonlyargs) or args.vararg is not None
            forwarded.append(arg.arg if by_position else f"{arg.arg}={arg.arg}")
    if args.vararg:
        forwarded.append(f"*{args.vararg.arg}")
    forwarded.extend(f"{a.arg}={a.arg}" for a in args.kwonlyargs if a.arg not in dropped)
    if args.kwarg:
        forwarded.append(f"**{args.kwarg.arg}")
    return ", ".join(forwarded)


def _returns(rules: _Rules, function: Function, *, iterator: bool = False) -> ast.expr:
    """The renamed return annotation; ``AsyncGenerator[T, S]`` becomes ``Iterator[T]``."""
    where = _where(rules.spec, function)
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


def _decorators(node: Function) -> list[str]:
    return [
        d.id if isinstance(d, ast.Name) else d.attr if isinstance(d, ast.Attribute) else "?"
        for d in node.decorator_list
    ]


def _annotation_name(node: ast.expr | None) -> str | None:
    """``X`` for ``X``, ``m.X``, ``X[...]`` and ``m.X[...]``."""
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _is_generator(function: ast.AsyncFunctionDef) -> bool:
    """True when ``yield`` occurs in the function itself, not in a nested function."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    return False


def _statements(code: str) -> list[ast.stmt]:
    return ast.parse(code).body


# -- member shapes -------------------------------------------------------------------------


def _method_kind(spec: Spec, function: Function) -> str:
    where = _where(spec, function)
    returned = _annotation_name(function.returns)
    if isinstance(function, ast.AsyncFunctionDef):
        if _is_generator(function):
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
    raise GenerationError(
        f"{where}: unsupported public plain method; only async def, async generators and "
        f"plain methods returning {spec.source_class} or an async iterator are generated"
    )


def _method(rules: _Rules, overloads: list[Function], function: Function) -> list[ast.stmt]:
    """Coroutine method (with overloads), async iterator method, or derived client."""
    spec = rules.spec
    kind = _method_kind(spec, function)
    nodes: list[ast.stmt] = []
    for stub in overloads:
        if isinstance(stub, ast.AsyncFunctionDef) != isinstance(function, ast.AsyncFunctionDef):
            raise GenerationError(f"{_where(spec, stub)}: overload and implementation differ")
        node = _signature(rules, stub, _returns(rules, stub, iterator=kind == "iterate"))
        node.decorator_list = [rules.expr(d, _where(spec, stub)) for d in stub.decorator_list]
        node.body = _docstring(rules, stub, 8) or [ast.Expr(ast.Constant(...))]
        nodes.append(node)
    node = _signature(rules, function, _returns(rules, function, iterator=kind == "iterate"))
    forwarded = _forwarded(function, spec.drops.get(function.name, {}))
    inner = f"self._async.{function.name}({forwarded})"
    conversion = rules.conversion(function.returns) if kind == "call" else None
    if kind == "call" and conversion is None:
        _check_no_async_result(spec, function)
    if kind != "call":
        code = f"return self._{kind}({inner})"
    elif conversion is not None:
        code = f"return self.{conversion}(self._call({inner}))"
    elif isinstance(function.returns, ast.Constant) and function.returns.value is None:
        code = f"self._call({inner})"
    else:
        code = f"return self._call({inner})"
    node.body = [*_docstring(rules, function, 8), *_statements(code)]
    return [*nodes, node]


def _check_no_async_result(spec: Spec, function: Function) -> None:
    for node in ast.walk(function.returns or ast.Pass()):
        if isinstance(node, ast.Name) and node.id in spec.renames:
            raise GenerationError(
                f"{_where(spec, function)}: returns {node.id}, which sync code cannot use; "
                "add a conversion rule for it"
            )


def _property(rules: _Rules, function: Function, decorator: str) -> list[ast.stmt]:
    """A property passing the async client's value through, or a cached view."""
    spec = rules.spec
    where = _where(spec, function)
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
    node = _signature(rules, function, _returns(rules, function))
    node.decorator_list = [rules.expr(function.decorator_list[0], where)]
    node.body = [*_docstring(rules, function, 8), *_statements(code)]
    return [node]


def _init(rules: _Rules, function: Function) -> list[ast.stmt]:
    """Same parameters (minus dropped ones); builds the async client and attaches it."""
    spec = rules.spec
    where = _where(spec, function)
    if isinstance(function, ast.AsyncFunctionDef) or function.decorator_list:
        raise GenerationError(f"{where}: __init__ must be a plain undecorated def")
    rules.need(spec.source_class, where)
    forwarded = _forwarded(function, spec.drops.get("__init__", {}))
    node = _signature(rules, function, ast.Constant(None))
    code = f"self._attach({spec.source_class}({forwarded}))"
    node.body = [*_docstring(rules, function, 8), *_statements(code)]
    return [node]


def _member(rules: _Rules, overloads: list[Function], function: Function) -> list[ast.stmt]:
    """The generated definitions of one public member.

    Supported: ``__init__``; ``async def`` (with ``@overload`` stubs); async generators;
    plain ``def`` returning the source class or an async iterator; ``@property``;
    ``@functools.cached_property`` returning a view class. Everything else fails, naming
    the member and its line.
    """
    where = _where(rules.spec, function)
    decorators = _decorators(function)
    if function.name == "__init__":
        return _init(rules, function)
    if function.name.startswith("__"):
        raise GenerationError(f"{where}: unsupported dunder method; generate or skip it")
    if decorators in (["property"], ["cached_property"]):
        return _property(rules, function, decorators[0])
    if decorators:
        raise GenerationError(f"{where}: unsupported decorator(s) {', '.join(decorators)}")
    return _method(rules, overloads, function)


def _members(rules: _Rules, cls: ast.ClassDef) -> list[ast.stmt]:
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
            raise GenerationError(f"{_where(spec, overloads[-1])}: overload without a body")
        if _decorators(node) == ["overload"]:
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
        raise GenerationError(f"{_where(spec, overloads[-1])}: overload without a body")
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
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == spec.source_class]
    if not classes:
        raise GenerationError(f"no top-level class {spec.source_class} in {spec.source_path}")
    rules = _Rules(spec, tree)
    cls = copy.copy(classes[0])
    cls.name, cls.keywords, cls.decorator_list = spec.target_class, [], []
    cls.bases = [ast.Name(spec.base_class)]
    cls.body = [*_docstring(rules, classes[0], 4), *_members(rules, classes[0])]
    rules.need(spec.base_class, f"base class {spec.base_class}")
    return ast.fix_missing_locations(ast.Module([*rules.imports(), cls], []))


# -- views -----------------------------------------------------------------------------------


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


def _views_rules(spec: ViewsSpec, tree: ast.Module) -> _Rules:
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
    return _Rules(rules_spec, tree)


def _endpoints(spec: ViewsSpec, cls: ast.ClassDef) -> dict[str, ast.AsyncFunctionDef]:
    """The implementation of each method named in ``spec.callees``, checked to be viewable."""
    found: dict[str, ast.AsyncFunctionDef] = {}
    for node in cls.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if node.name not in spec.callees or _decorators(node) == ["overload"]:
            continue
        where = f"{spec.source_class}.{node.name} (line {node.lineno})"
        if not isinstance(node, ast.AsyncFunctionDef) or node.decorator_list:
            raise GenerationError(f"{where}: a viewed method must be an undecorated async def")
        if _is_generator(node):
            raise GenerationError(f"{where}: an async generator cannot be viewed")
        found[node.name] = node
    for name in spec.callees:
        if name not in found:
            raise GenerationError(f"view rule {name!r} matched no method of {spec.source_class}")
    return found


def _check_callee_call(spec: ViewsSpec, function: ast.AsyncFunctionDef, callee: str) -> None:
    """A callee named by the source module must be called with every parameter by keyword."""
    where = f"{spec.source_class}.{function.name} (line {function.lineno})"
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
    rules: _Rules, view: ViewClass, function: ast.AsyncFunctionDef, callee: str
) -> ast.FunctionDef:
    node = _signature(rules, function, ast.Name(view.returns))
    rules.need(view.returns, f"view {view.name}")
    forwarded = _forwarded(function, {})
    node.body = [
        *_docstring(rules, function, 8),
        *_statements(f"return self._send({callee}, {forwarded})"),
    ]
    return node


def _class_docstring(text: str) -> ast.stmt:
    lines = text.strip().split("\n")
    body = [lines[0], *(f"    {line}" if line else "" for line in lines[1:])]
    return ast.Expr(ast.Constant("\n".join(body) + ("\n    " if len(lines) > 1 else "")))


def build_views_module(source_text: str, spec: ViewsSpec) -> ast.Module:
    """The generated views module for ``source_text`` (the source module), as a syntax tree."""
    tree = ast.parse(source_text)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == spec.source_class]
    if not classes:
        raise GenerationError(f"no top-level class {spec.source_class} in {spec.source_path}")
    rules = _views_rules(spec, tree)
    endpoints = _endpoints(spec, classes[0])
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
