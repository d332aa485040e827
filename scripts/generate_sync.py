"""Generate the sync facade ``images_async/_images.py`` from ``AsyncImages``.

``AsyncImages`` is the one hand-written implementation. This script reads its source with
:mod:`ast` (it never imports it) and writes ``class Images(SyncFacade)``: one delegation per
public member, in a fixed layout that ``ruff format`` leaves alone. It supports exactly the
member shapes listed in :func:`_member` and fails loudly, naming the member and its line, on
anything else.

Usage::

    python scripts/generate_sync.py           # regenerate (refuses to overwrite hand edits)
    python scripts/generate_sync.py --force   # regenerate even over hand edits
    python scripts/generate_sync.py --check   # exit 1 with a diff when the file is stale

Tests import :func:`generate_source`, :func:`check`, :func:`write` and :func:`main`.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import dataclasses
import difflib
import hashlib
import io
import re
import sys
import tokenize
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

ROOT = Path(__file__).resolve().parent.parent

#: Whole-word renames: applied to names in annotations and defaults, and to docstring text.
#: Every rule must be used at least once (or be listed in DORMANT_RENAMES).
RENAMES: dict[str, str] = {
    "AsyncImages": "Images",
    "AsyncImagesWithRawResponse": "ImagesWithRawResponse",
    "AsyncImagesWithStreamingResponse": "ImagesWithStreamingResponse",
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

#: Where the generated module imports each renamed name from (the target class it defines).
RENAMED_FROM: dict[str, str] = {
    "ImagesWithRawResponse": "images_async._sync",
    "ImagesWithStreamingResponse": "images_async._sync",
    "SyncImageEventStream": "images_async._sync",
    "SyncStreamedResponse": "images_async._sync",
    "Iterator": "collections.abc",
}

#: Public members of AsyncImages left out on purpose: SyncFacade provides each of them.
SKIPS: dict[str, str] = {
    "aclose": "SyncFacade.close closes the async client and stops the private loop",
    "__aenter__": "SyncFacade.__enter__ makes the facade a context manager",
    "__aexit__": "SyncFacade.__exit__ calls close()",
    "__repr__": "SyncFacade.__repr__ shows the same base_url",
}

GENERATOR = "scripts/generate_sync.py"
REGENERATE = "nox -s sync  (or python scripts/generate_sync.py)"
HASH_PREFIX = "# content-sha256: "
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
    dormant_renames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    regenerate: str = REGENERATE  #: the command the header and --check tell people to run
    line_length: int = 100


IMAGES_SPEC = Spec(
    source_path="images_async/_async_images.py",
    target_path="images_async/_images.py",
    source_module="images_async._async_images",
    target_module="images_async._images",
    source_class="AsyncImages",
    target_class="Images",
    base_class="SyncFacade",
    base_module="images_async._sync",
    renames=RENAMES,
    renamed_from=RENAMED_FROM,
    skips=SKIPS,
    dormant_renames=DORMANT_RENAMES,
)


class GenerationError(Exception):
    """The source has a shape the generator does not support, or a rule is wrong."""


class HandEditedError(GenerationError):
    """The generated file no longer matches its recorded hash: someone edited it."""


# -- renaming ------------------------------------------------------------------------------


class _Renamer:
    """Applies the rename table and remembers which rules were used."""

    def __init__(self, renames: Mapping[str, str]) -> None:
        self.renames = dict(renames)
        self.used: set[str] = set()
        words = sorted(renames, key=lambda word: (-len(word), word))
        self._pattern = re.compile("|".join(_whole_word(word) for word in words))

    def text(self, text: str) -> str:
        return self._pattern.sub(self._replace, text) if self.renames else text

    def _replace(self, match: re.Match[str]) -> str:
        self.used.add(match.group())
        return self.renames[match.group()]

    def expr(self, node: ast.expr) -> ast.expr:
        renamed = copy.deepcopy(node)
        for child in ast.walk(renamed):
            if isinstance(child, ast.Name) and child.id in self.renames:
                self.used.add(child.id)
                child.id = self.renames[child.id]
            elif isinstance(child, ast.Attribute) and child.attr in self.renames:
                self.used.add(child.attr)
                child.attr = self.renames[child.attr]
        return renamed


def _whole_word(word: str) -> str:
    start = r"\b" if re.match(r"\w", word[0]) else ""
    end = r"\b" if re.match(r"\w", word[-1]) else ""
    return start + re.escape(word) + end


def _check_renames_used(spec: Spec, renamer: _Renamer) -> None:
    for rule in spec.renames:
        if rule in spec.dormant_renames and rule in renamer.used:
            raise GenerationError(
                f"rename rule {rule!r} is used now: remove it from DORMANT_RENAMES"
            )
        if rule not in spec.dormant_renames and rule not in renamer.used:
            raise GenerationError(f"rename rule {rule!r} was never used")
    for rule in spec.dormant_renames:
        if rule not in spec.renames:
            raise GenerationError(f"dormant rename rule {rule!r} is not in the rename table")


# -- imports -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Import:
    module: str  #: absolute dotted module
    name: str | None  #: None for ``import module``


class _Imports:
    """Resolves the names the generated code uses to import statements, like the source does."""

    def __init__(self, spec: Spec, tree: ast.Module) -> None:
        self._spec = spec
        self._known: dict[str, _Import] = {}
        self._aliased: set[str] = set()
        self._needed: dict[str, str] = {}  # name -> where it is first used, for errors
        for node in tree.body:
            self._learn(node)

    def _learn(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                if alias.asname:
                    self._aliased.add(bound)
                self._known[bound] = _Import(alias.name.partition(".")[0], None)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node.module, node.level, self._spec.source_module)
            for alias in node.names:
                if alias.asname:
                    self._aliased.add(alias.asname)
                self._known[alias.asname or alias.name] = _Import(module, alias.name)
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            self._known[node.name] = _Import(self._spec.source_module, node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    self._known[target.id] = _Import(self._spec.source_module, target.id)

    def need(self, code: ast.expr | str, where: str) -> None:
        tree = ast.parse(code, mode="eval") if isinstance(code, str) else code
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                self._needed.setdefault(node.id, where)

    def render(self) -> list[str]:
        found = [self._resolve(name, where) for name, where in self._needed.items()]
        return _render_imports(
            [found_import for found_import in found if found_import is not None], self._spec
        )

    def _resolve(self, name: str, where: str) -> _Import | None:
        spec = self._spec
        if name == spec.target_class:
            return None
        if name == spec.base_class:
            return _Import(spec.base_module, name)
        if name in spec.renamed_from:
            return _Import(spec.renamed_from[name], name)
        if name in self._aliased:
            raise GenerationError(f"{where}: {name} comes from an aliased import (unsupported)")
        if name in self._known:
            return self._known[name]
        if name == "Iterator":  # made by the generator for AsyncGenerator[...] returns
            return _Import("collections.abc", name)
        if hasattr(builtins, name):
            return None
        raise GenerationError(f"{where}: cannot tell where {name!r} comes from")


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


def _render_imports(found: list[_Import], spec: Spec) -> list[str]:
    sections: dict[int, dict[str, set[str | None]]] = {}
    for item in found:
        module = _relative(item.module, spec.target_module)
        section = _section(module, spec)
        sections.setdefault(section, {}).setdefault(module, set()).add(item.name)
    lines = ["from __future__ import annotations"]
    for section in sorted(sections):
        modules = sections[section]
        lines.append("")
        straight = sorted((m for m in modules if None in modules[m]), key=_module_key)
        lines.extend(f"import {module}" for module in straight)
        for module in sorted((m for m in modules if modules[m] - {None}), key=_module_key):
            names = sorted((n for n in modules[module] if n is not None), key=_member_key)
            lines.extend(_from_import(module, names, spec.line_length))
    return lines


def _section(module: str, spec: Spec) -> int:
    """isort sections: 0 standard library, 1 third party, 2 first party, 3 local (relative)."""
    top = module.partition(".")[0]
    if module.startswith("."):
        return 3
    if top in sys.stdlib_module_names:
        return 0
    return 2 if top == spec.source_module.partition(".")[0] else 1


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    runs = re.findall(r"\d+|\D+", text.lower())
    return tuple((0, int(run), "") if run.isdigit() else (1, 0, run) for run in runs)


def _module_key(module: str) -> tuple[int, tuple[tuple[int, int, str], ...], str]:
    stripped = module.lstrip(".")
    return (-(len(module) - len(stripped)), _natural(stripped), module)


def _member_key(name: str) -> tuple[int, tuple[tuple[int, int, str], ...], str]:
    """ruff's order-by-type: CONSTANTS, then Classes, then other names; case-insensitive."""
    kind = 0 if len(name) > 1 and name.isupper() else 1 if name[0].isupper() else 2
    return (kind, _natural(name), name)


def _from_import(module: str, names: list[str], line_length: int) -> list[str]:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= line_length:
        return [line]
    return [f"from {module} import (", *(f"    {name}," for name in names), ")"]


# -- rendering pieces ----------------------------------------------------------------------


class _Context:
    """What rendering one class needs: the spec, the source text, renames and imports."""

    def __init__(self, spec: Spec, source: str, tree: ast.Module) -> None:
        self.spec = spec
        self.source = source
        self.renamer = _Renamer(spec.renames)
        self.imports = _Imports(spec, tree)

    def expr(self, node: ast.expr, where: str) -> str:
        """The renamed expression as ruff formats it; its names are recorded for import."""
        renamed = self.renamer.expr(node)
        self.imports.need(renamed, where)
        return _double_quoted(ast.unparse(renamed))

    def annotation(self, node: ast.expr, where: str) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            raise GenerationError(f"{where}: quoted annotation; write it unquoted")
        return self.expr(node, where)

    def docstring(self, node: ast.AST, indent: int) -> list[str]:
        """The docstring's source text, renamed; lines the renames made too long are wrapped."""
        body = getattr(node, "body", [])
        if not (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            return []
        if body[0].col_offset != indent:
            raise GenerationError(f"line {body[0].lineno}: docstring is not indented {indent}")
        original = (ast.get_source_segment(self.source, body[0]) or "").splitlines()
        lines = [" " * indent + original[0], *original[1:]]
        out: list[str] = []
        for before in lines:
            after = self.renamer.text(before)
            if len(after) > self.spec.line_length >= len(before):
                out.extend(_wrap(after, self.spec.line_length, body[0].lineno))
            else:
                out.append(after.rstrip() if after.strip() else "")
        return out


def _double_quoted(code: str) -> str:
    """ast.unparse writes 'text'; ruff format writes "text" when that needs no more escapes."""
    pieces: list[str] = []
    last = 0
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type != tokenize.STRING:
            continue
        start, end = token.start[1], token.end[1]
        literal = token.string
        quote = len(literal) - len(literal.lstrip("rbuRBU"))
        body = literal[quote + 1 : -1]
        if literal[quote] == "'" and not literal.endswith("'''") and '"' not in body:
            literal = f'{literal[:quote]}"{body}"'
        pieces.extend([code[last:start], literal])
        last = end
    return "".join([*pieces, code[last:]])


def _wrap(line: str, line_length: int, lineno: int) -> list[str]:
    indent = line[: len(line) - len(line.lstrip())]
    cut = line.rfind(" ", len(indent) + 1, line_length + 1)
    if cut < 0:
        raise GenerationError(f"line {lineno}: renamed docstring line is too long to wrap")
    rest = indent + line[cut + 1 :]
    tail = _wrap(rest, line_length, lineno) if len(rest) > line_length else [rest]
    return [line[:cut], *tail]


def _parameters(ctx: _Context, args: ast.arguments, where: str) -> list[str]:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults.extend(args.defaults)
    params: list[str] = []
    for index, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        params.append(_parameter(ctx, arg, default, where))
        if index == len(args.posonlyargs) - 1:
            params.append("/")
    if args.vararg:
        params.append("*" + _parameter(ctx, args.vararg, None, where))
    elif args.kwonlyargs:
        params.append("*")
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(_parameter(ctx, arg, default, where))
    if args.kwarg:
        params.append("**" + _parameter(ctx, args.kwarg, None, where))
    return params


def _parameter(ctx: _Context, arg: ast.arg, default: ast.expr | None, where: str) -> str:
    text = arg.arg
    if arg.annotation is not None:
        text += ": " + ctx.annotation(arg.annotation, f"{where}, parameter {arg.arg}")
    if default is not None:
        value = ctx.expr(default, f"{where}, default of {arg.arg}")
        text += f" = {value}" if arg.annotation is not None else f"={value}"
    return text


def _forwarded(args: ast.arguments, where: str) -> list[str]:
    """Every parameter but self, passed on: by name, or by position where *args needs it."""
    positional = [*args.posonlyargs, *args.args]
    if not positional:
        raise GenerationError(f"{where}: a method needs a self parameter")
    forwarded: list[str] = []
    for index, arg in enumerate(positional[1:], start=1):
        by_position = index < len(args.posonlyargs) or args.vararg is not None
        forwarded.append(arg.arg if by_position else f"{arg.arg}={arg.arg}")
    if args.vararg:
        forwarded.append(f"*{args.vararg.arg}")
    forwarded.extend(f"{arg.arg}={arg.arg}" for arg in args.kwonlyargs)
    if args.kwarg:
        forwarded.append(f"**{args.kwarg.arg}")
    return forwarded


def _nested_call(lead: str, outer: str, inner: str, arguments: list[str]) -> list[str]:
    """``lead + outer(inner(arguments))``, laid out one argument per line like ruff does."""
    if not arguments:
        return [f"        {lead}{outer}({inner}())"]
    return [
        f"        {lead}{outer}(",
        f"            {inner}(",
        *(f"                {argument}," for argument in arguments),
        "            )",
        "        )",
    ]


def _signature(ctx: _Context, function: Function, returns: str, *, stub: bool) -> list[str]:
    where = _where(ctx.spec, function)
    params = _parameters(ctx, function.args, where)
    end = f" -> {returns}:" + (" ..." if stub else "")
    if params == ["self"]:
        return [f"    def {function.name}(self){end}"]
    return [f"    def {function.name}(", *(f"        {p}," for p in params), f"    ){end}"]


def _where(spec: Spec, node: ast.stmt) -> str:
    name = getattr(node, "name", type(node).__name__)
    return f"{spec.source_class}.{name} (line {node.lineno})"


def _decorators(node: Function) -> list[str]:
    names = []
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Name):
            names.append(decorator.id)
        elif isinstance(decorator, ast.Attribute):
            names.append(decorator.attr)
        else:
            names.append(ast.unparse(decorator))
    return names


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


# -- member shapes -------------------------------------------------------------------------


def _returns(ctx: _Context, function: Function) -> str:
    if function.returns is None:
        raise GenerationError(f"{_where(ctx.spec, function)}: no return annotation")
    return ctx.annotation(function.returns, f"{_where(ctx.spec, function)}, return annotation")


def _iterator_returns(ctx: _Context, function: Function) -> str:
    """``AsyncIterator[T]`` is renamed by the table; ``AsyncGenerator[T, S]`` becomes
    ``Iterator[T]``."""
    annotation = function.returns
    where = _where(ctx.spec, function)
    if not isinstance(annotation, ast.Subscript):
        raise GenerationError(f"{where}: annotate it as AsyncIterator[...] or AsyncGenerator[...]")
    if _annotation_name(annotation) == "AsyncGenerator":
        item = annotation.slice
        if isinstance(item, ast.Tuple):
            item = item.elts[0]
        annotation = ast.Subscript(value=ast.Name("Iterator"), slice=item, ctx=ast.Load())
    return ctx.annotation(annotation, f"{where}, return annotation")


def _delegation(ctx: _Context, function: Function, returns: str, kind: str) -> list[str]:
    """The body handing ``self._async.NAME(...)`` to the facade: call, iterate or derive."""
    forwarded = _forwarded(function.args, _where(ctx.spec, function))
    inner = f"self._async.{function.name}"
    if kind == "iterate":
        return _nested_call("return ", "self._iterate", inner, forwarded)
    if kind == "derive":
        return _nested_call("return ", "self._derive", inner, forwarded)
    if returns == "None":
        return _nested_call("", "self._call", inner, forwarded)
    taken = {arg.arg for arg in ast.walk(function.args) if isinstance(arg, ast.arg)}
    result = next(name for name in ("result", "result_", "result__") if name not in taken)
    call = _nested_call(f"{result}: {returns} = ", "self._call", inner, forwarded)
    return [*call, f"        return {result}"]


def _method(ctx: _Context, overloads: list[Function], function: Function) -> list[str]:
    """Shapes 1-3: coroutine method, async iterator method, derived client; with overloads."""
    kind = _method_kind(ctx, function)
    returns_of = _iterator_returns if kind == "iterate" else _returns
    lines: list[str] = []
    for stub in overloads:
        if isinstance(stub, ast.AsyncFunctionDef) != isinstance(function, ast.AsyncFunctionDef):
            raise GenerationError(f"{_where(ctx.spec, stub)}: overload and implementation differ")
        decorator = ctx.expr(stub.decorator_list[0], _where(ctx.spec, stub))
        docstring = ctx.docstring(stub, 8)
        lines.extend([f"    @{decorator}"])
        lines.extend(_signature(ctx, stub, returns_of(ctx, stub), stub=not docstring))
        lines.extend([*docstring, ""])
    returns = returns_of(ctx, function)
    lines.extend(_signature(ctx, function, returns, stub=False))
    lines.extend(ctx.docstring(function, 8))
    lines.extend(_delegation(ctx, function, returns, kind))
    return lines


def _method_kind(ctx: _Context, function: Function) -> str:
    where = _where(ctx.spec, function)
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
    if isinstance(function.returns, ast.Name) and returned == ctx.spec.source_class:
        return "derive"
    raise GenerationError(
        f"{where}: unsupported public plain method; only async def, async generators and "
        f"plain methods returning {ctx.spec.source_class} or an async iterator are generated"
    )


def _property(ctx: _Context, function: Function, decorator: str) -> list[str]:
    """Shape 4: a property passing the async client's value through, or a cached view."""
    where = _where(ctx.spec, function)
    if isinstance(function, ast.AsyncFunctionDef) or len(function.args.args) != 1:
        raise GenerationError(f"{where}: a property must be a plain def taking only self")
    returned = _annotation_name(function.returns)
    returns = _returns(ctx, function)
    if decorator == "property":
        renamed = [node for node in ast.walk(function.returns or ast.Pass()) if _renamed(ctx, node)]
        if renamed:
            raise GenerationError(f"{where}: a property cannot return an async-only type")
        body = f"        return self._async.{function.name}"
    else:
        if not isinstance(function.returns, ast.Name) or returned not in ctx.spec.renames:
            raise GenerationError(f"{where}: a cached_property must return a renamed view class")
        body = f"        return {returns}(self)"
    head = ctx.expr(function.decorator_list[0], where)
    signature = _signature(ctx, function, returns, stub=False)
    return [f"    @{head}", *signature, *ctx.docstring(function, 8), body]


def _renamed(ctx: _Context, node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id in ctx.spec.renames


def _init(ctx: _Context, function: Function) -> list[str]:
    """Shape 5: same parameters; builds the async client and attaches it to the facade."""
    where = _where(ctx.spec, function)
    if isinstance(function, ast.AsyncFunctionDef) or function.decorator_list:
        raise GenerationError(f"{where}: __init__ must be a plain undecorated def")
    ctx.imports.need(ctx.spec.source_class, where)
    forwarded = _forwarded(function.args, where)
    return [
        *_signature(ctx, function, "None", stub=False),
        *ctx.docstring(function, 8),
        *_nested_call("", "self._attach", ctx.spec.source_class, forwarded),
    ]


def _member(ctx: _Context, overloads: list[Function], function: Function) -> list[str] | None:
    """The generated lines of one public member, or None when it is skipped on purpose.

    Supported: ``__init__``; ``async def`` (with ``@overload`` stubs); async generators;
    plain ``def`` returning the source class; ``@property``; ``@functools.cached_property``
    returning a view class. Everything else fails, naming the member and its line.
    """
    where = _where(ctx.spec, function)
    decorators = _decorators(function)
    if function.name in ctx.spec.skips:
        return None
    if function.name == "__init__":
        return _init(ctx, function)
    if function.name.startswith("__"):
        raise GenerationError(f"{where}: unsupported dunder method; generate or skip it")
    if decorators in (["property"], ["cached_property"]):
        return _property(ctx, function, decorators[0])
    if decorators:
        raise GenerationError(f"{where}: unsupported decorator(s) {', '.join(decorators)}")
    return _method(ctx, overloads, function)


def _members(ctx: _Context, cls: ast.ClassDef) -> list[list[str]]:
    blocks: list[list[str]] = []
    overloads: list[Function] = []
    seen_skips: set[str] = set()
    for node in cls.body[0 if ast.get_docstring(cls) is None else 1 :]:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _check_other_statement(ctx.spec, node)
            continue
        if _is_private(node.name):
            continue
        if overloads and overloads[-1].name != node.name:
            raise GenerationError(f"{_where(ctx.spec, overloads[-1])}: overload without a body")
        if _decorators(node) == ["overload"]:
            overloads.append(node)
            continue
        if node.name in ctx.spec.skips:
            seen_skips.add(node.name)
        block = _member(ctx, overloads, node)
        overloads = []
        if block is not None:
            blocks.append(block)
    if overloads:
        raise GenerationError(f"{_where(ctx.spec, overloads[-1])}: overload without a body")
    for name in ctx.spec.skips:
        if name not in seen_skips:
            raise GenerationError(f"skip rule {name!r} matched no member of {cls.name}")
    return blocks


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


# -- the module ----------------------------------------------------------------------------


def generate_source(source_text: str, spec: Spec = IMAGES_SPEC) -> str:
    """The complete text of the generated module for ``source_text`` (the source module)."""
    tree = ast.parse(source_text)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == spec.source_class]
    if not classes:
        raise GenerationError(f"no top-level class {spec.source_class} in {spec.source_path}")
    cls = classes[0]
    ctx = _Context(spec, source_text, tree)
    class_doc = ctx.docstring(cls, 4)
    blocks = _members(ctx, cls)
    ctx.imports.need(spec.base_class, f"base class {spec.base_class}")
    _check_renames_used(spec, ctx.renamer)
    lines = [
        *ctx.imports.render(),
        "",
        "",
        f"class {spec.target_class}({spec.base_class}):",
        *class_doc,
    ]
    for block in blocks:
        if lines[-1] != f"class {spec.target_class}({spec.base_class}):":
            lines.append("")
        lines.extend(block)
    body = "\n" + "\n".join(lines) + "\n"
    text = _header(spec, body) + body
    _check_line_length(text, spec)
    return text


def _header(spec: Spec, body: str) -> str:
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return "\n".join(
        [
            f'"""{spec.target_class}: the sync facade of :class:`{spec.source_class}`, '
            "one delegation per member.",
            "",
            f"Each method hands the coroutine of its ``{spec.source_class}`` namesake to "
            f":class:`{spec.base_class}`,",
            "which runs it on a private event loop; this module holds no logic of its own.",
            '"""',
            "",
            f"# Generated by {GENERATOR} from {spec.source_path}: do not edit.",
            f"# Regenerate with: {spec.regenerate}",
            f"{HASH_PREFIX}{digest}",
            "",
        ]
    )


def _check_line_length(text: str, spec: Spec) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > spec.line_length:
            raise GenerationError(
                f"generated line {number} is longer than {spec.line_length}: {line.strip()}"
            )


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


def generate(root: Path = ROOT, spec: Spec = IMAGES_SPEC) -> str:
    """The generated module for the source file under ``root``."""
    return generate_source((root / spec.source_path).read_text(encoding="utf-8"), spec)


def _read(path: Path) -> str | None:
    return path.read_bytes().decode("utf-8") if path.exists() else None


def check(root: Path = ROOT, spec: Spec = IMAGES_SPEC) -> str:
    """Empty when the generated file under ``root`` is fresh; else a diff and the fix."""
    expected = generate(root, spec)
    current = _read(root / spec.target_path)
    if current == expected:
        return ""
    diff = difflib.unified_diff(
        (current or "").splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{spec.target_path} (on disk)",
        tofile=f"{spec.target_path} (generated)",
    )
    shown = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
    if current is None:
        shown = f"{spec.target_path} does not exist.\n"
    return f"{shown}\n{spec.target_path} is stale. Regenerate it with: {spec.regenerate}\n"


def write(root: Path = ROOT, spec: Spec = IMAGES_SPEC, *, force: bool = False) -> bool:
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
        prog=GENERATOR, description="Generate images_async/_images.py from AsyncImages."
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
        changed = write(args.root, force=args.force)
    except GenerationError as error:
        print(f"{GENERATOR}: error: {error}", file=sys.stderr)
        return 1
    state = "wrote" if changed else "up to date:"
    print(f"{state} {IMAGES_SPEC.target_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
