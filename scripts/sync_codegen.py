"""The shared syntax-tree pieces of ``scripts/generate_sync.py``'s two builders.

This module owns what both builders need: :class:`Spec` and :class:`GenerationError`;
:class:`Rules`, which applies a spec's rename tables, records which rules were used and
works out the generated module's imports; and the pieces of one generated method (its
renamed docstring and signature, the arguments it passes on). The builders are
``scripts/sync_client_codegen.py`` (the facade class) and ``scripts/sync_views_codegen.py``
(the raw and streaming view classes). Laying the text out is the formatter's job, not ours.
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Protocol, TypeAlias

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
    #: The generated module's docstring; None: the facade's standard one.
    summary: str | None = None
    line_length: int = 100


class GenerationError(Exception):
    """The source has a shape the generator does not support, or a rule is wrong."""


# -- rules ---------------------------------------------------------------------------------


class Rules:
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
        if not self.spec.renames:  # an empty pattern would match everywhere
            return text
        return self._pattern.sub(lambda match: self._use(match.group()), text)

    def _use(self, key: str) -> str:
        self.used.add(key)
        return self.spec.renames[key]

    def expr(self, node: ast.expr, where: str, *, annotation: bool = True) -> ast.expr:
        """A renamed copy of ``node``; the names it uses are recorded for import."""
        if annotation and isinstance(node, ast.Constant) and isinstance(node.value, str):
            raise GenerationError(f"{where}: quoted annotation; write it unquoted")
        renamed = copy.deepcopy(node)
        for child in ast.walk(renamed):
            if isinstance(child, ast.Name) and child.id in self.spec.renames:
                child.id = self._use(child.id)
            elif isinstance(child, ast.Attribute) and child.attr in self.spec.renames:
                child.attr = self._use(child.attr)
        self.need(renamed, where)
        return renamed

    def conversion(self, node: ast.expr | None) -> str | None:
        """The base-class method converting a result annotated ``node``, if it needs one."""
        found = {n.id for n in ast.walk(node or ast.Pass()) if isinstance(n, ast.Name)}
        matched = found & set(self.spec.conversions)
        methods = {self.spec.conversions[name] for name in matched}
        self.used.update(f"conversion:{name}" for name in matched)
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
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            # Names the source imports for its annotations only (to import faster): the
            # generated module needs them all the same, and imports them at run time.
            for child in node.body:
                self._learn(child)
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


def _is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` tests ``TYPE_CHECKING`` (or ``typing.TYPE_CHECKING``)."""
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


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


class Sourced(Protocol):
    """Any spec: it names the class generated from."""

    @property
    def source_class(self) -> str: ...


def location(spec: Sourced, node: ast.stmt) -> str:
    """``SourceClass.member (line N)``, for error messages."""
    return f"{spec.source_class}.{getattr(node, 'name', type(node).__name__)} (line {node.lineno})"


def find_class(tree: ast.Module, name: str, path: str) -> ast.ClassDef:
    """The top-level class ``name`` of the module parsed from ``path``."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise GenerationError(f"no top-level class {name} in {path}")


def docstring_of(rules: Rules, node: Function | ast.ClassDef, indent: int) -> list[ast.stmt]:
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


def signature_of(rules: Rules, function: Function, returns: ast.expr | None) -> ast.FunctionDef:
    """A plain ``def`` with the renamed parameters of ``function`` (minus dropped ones)."""
    where = location(rules.spec, function)
    args = copy.deepcopy(function.args)
    dropped = rules.spec.drops.get(function.name, {})
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    pairs = list(zip(positional, [*defaults, *args.defaults], strict=True))
    keywords = list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    if any(a.arg in dropped and d is None for a, d in [*pairs, *keywords]):
        raise GenerationError(f"{where}: only a parameter with a default can be dropped")
    kept = [(a, d) for a, d in pairs if a.arg not in dropped]
    args.posonlyargs = [a for a in args.posonlyargs if a.arg not in dropped]
    args.args = [a for a, _ in kept if a in args.args]
    args.defaults = [d for _, d in kept if d is not None]
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


def forwarded_args(function: Function, dropped: Mapping[str, str]) -> str:
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


def decorator_names(node: Function) -> list[str]:
    """The last part of each decorator's name: ``overload``, ``cached_property``..."""
    return [
        d.id if isinstance(d, ast.Name) else d.attr if isinstance(d, ast.Attribute) else "?"
        for d in node.decorator_list
    ]


def is_generator(function: ast.AsyncFunctionDef) -> bool:
    """True when ``yield`` occurs in the function itself, not in a nested function."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    return False


def statements(code: str) -> list[ast.stmt]:
    return ast.parse(code).body
