"""The package's layout keeps its promises: data flows one way, each room owns one concern.

Read from the source (``ast``), not by importing, so imports under ``TYPE_CHECKING`` count
too: no cycles between modules, the core imports neither the command line nor the testing
package, only the transport uses aiohttp's client, and hand-written modules stay small.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "images_async"
#: Written by scripts/generate_sync.py: their size follows AsyncImages'.
GENERATED = {"_sync_client", "_views", "_sync_views"}
#: The typed ``stream=`` overloads of generate and edit (three each) are hand-written by
#: design, since that is how type checkers narrow the result; they are most of this module.
LARGER_BY_DESIGN = {"_async_images": 650}
MODULE_LINES = 520


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_modules(name: str) -> set[str]:
    """The package modules ``name`` imports, anywhere in its source."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else node.module
            target = target or base
            candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(candidate for candidate in candidates if candidate in modules())
    found.discard(name)
    return found


def is_core(name: str) -> bool:
    return not name.startswith(("images_async.cli", "images_async.testing"))


def test_no_module_imports_one_that_imports_it_back() -> None:
    # The package __init__ files re-export, so they sit on top and are left out of cycles.
    graph = {
        name: imported_modules(name)
        for name, path in modules().items()
        if path.name != "__init__.py"
    }
    for name in graph:
        graph[name] = {target for target in graph[name] if target in graph}
    cycles = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):  # bounded: every module is visited once
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_core_imports_neither_the_cli_nor_the_testing_package() -> None:
    wrong = {
        name: sorted(target for target in imported_modules(name) if not is_core(target))
        for name in modules()
        if is_core(name) and name != "images_async.__main__"
    }
    assert {name: targets for name, targets in wrong.items() if targets} == {}


def test_only_the_http_boundary_uses_aiohttps_client() -> None:
    users = set()
    for name, path in modules().items():
        if not is_core(name):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "aiohttp" for a in node.names):
                users.add(name)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiohttp"):
                users.add(name)
    # The transport, and the request bodies it writes.
    assert users == {"images_async._transport", "images_async._wire_body"}


def test_hand_written_modules_stay_small() -> None:
    too_long = {}
    for name, path in modules().items():
        short_name = name.rpartition(".")[2]
        if short_name in GENERATED:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > LARGER_BY_DESIGN.get(short_name, MODULE_LINES):
            too_long[name] = lines
    assert too_long == {}
