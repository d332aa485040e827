"""Extract the part of the official OpenAI OpenAPI spec that this project's tests check against.

The full spec is about 3 MB and changes often; the tests need only the image operations, the
file and batch operations that batch offloading uses, and every schema those reach. This
script copies exactly that subset into ``tests/openapi/images-subset.yaml``, so a clone of the
repository is complete on its own, and records where the subset came from in the file's
header: the spec's title and version, the SHA-256 of the file it was cut from, and a
free-text source.

Usage::

    python scripts/vendor_openapi.py PATH/TO/openapi.yaml [--source TEXT] [--output PATH]

Run it again when the upstream spec moves; review the diff like any other change. Tests
import :func:`extract`, :func:`references` and :func:`dangling_references`.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "tests" / "openapi" / "images-subset.yaml"
DEFAULT_SOURCE = "OpenAI's published OpenAPI document (github.com/openai/openai-openapi)"

#: The operations kept, by ``operationId``: the three image endpoints, then what offloading a
#: job to the Batch API needs (uploading and fetching files, creating and following batches).
OPERATIONS: tuple[str, ...] = (
    "createImage",
    "createImageEdit",
    "createImageVariation",
    "createFile",
    "listFiles",
    "retrieveFile",
    "downloadFile",
    "deleteFile",
    "createBatch",
    "listBatches",
    "retrieveBatch",
    "cancelBatch",
)

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def references(node: Any) -> Iterator[str]:
    """Every ``$ref`` string anywhere inside ``node``."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def _pointer(ref: str) -> tuple[str, ...]:
    """The path segments of a local reference such as ``#/components/schemas/Image``."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, not {ref!r}")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in ref[2:].split("/"))


def _resolve(document: Mapping[str, Any], ref: str) -> Any:
    target: Any = document
    for segment in _pointer(ref):
        if not isinstance(target, Mapping) or segment not in target:
            raise KeyError(ref)
        target = target[segment]
    return target


def dangling_references(document: Mapping[str, Any]) -> list[str]:
    """The ``$ref``s of ``document`` that do not resolve inside it, sorted and unique."""
    dangling = set()
    for ref in references(document):
        try:
            _resolve(document, ref)
        except (KeyError, ValueError):
            dangling.add(ref)
    return sorted(dangling)


def _selected_paths(spec: Mapping[str, Any], operation_ids: Sequence[str]) -> dict[str, Any]:
    """The path items holding the wanted operations, with only those operations in them."""
    wanted = set(operation_ids)
    paths: dict[str, Any] = {}
    for path, item in spec.get("paths", {}).items():
        kept = {
            method: operation
            for method, operation in item.items()
            if method in _HTTP_METHODS and operation.get("operationId") in wanted
        }
        if kept:
            # Parameters declared on the path item apply to every operation under it.
            shared = {key: value for key, value in item.items() if key not in _HTTP_METHODS}
            paths[path] = {**shared, **kept}
            wanted -= {operation["operationId"] for operation in kept.values()}
    if wanted:
        raise KeyError(f"the spec has no operation(s) {', '.join(sorted(wanted))}")
    return paths


def _reachable_components(spec: Mapping[str, Any], roots: Any) -> dict[str, dict[str, Any]]:
    """Every component that ``roots`` reaches through ``$ref``s, transitively."""
    components: dict[str, dict[str, Any]] = {}
    pending = list(references(roots))
    seen: set[str] = set()
    while pending:  # ends: each reference is followed once, and there are finitely many
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        segments = _pointer(ref)
        if len(segments) != 3 or segments[0] != "components":
            raise ValueError(f"unsupported reference {ref!r}: expected #/components/KIND/NAME")
        target = _resolve(spec, ref)
        components.setdefault(segments[1], {})[segments[2]] = target
        pending.extend(references(target))
    # Sorted by name, so re-running on a moved spec gives a reviewable diff.
    return {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())}


def extract(spec: Mapping[str, Any], operation_ids: Sequence[str] = OPERATIONS) -> dict[str, Any]:
    """The self-contained subset of ``spec`` that the given operations need."""
    paths = _selected_paths(spec, operation_ids)
    subset: dict[str, Any] = {
        "openapi": spec.get("openapi"),
        "info": {key: spec["info"][key] for key in ("title", "version") if key in spec["info"]},
        "paths": paths,
        "components": _reachable_components(spec, paths),
    }
    security = spec.get("components", {}).get("securitySchemes")
    if security:
        subset["components"]["securitySchemes"] = security
    return subset


def _header(spec: Mapping[str, Any], digest: str, source: str) -> str:
    info = spec.get("info", {})
    return "\n".join(
        [
            "# GENERATED by scripts/vendor_openapi.py: do not edit by hand.",
            "# The image, file and batch operations of the OpenAI OpenAPI spec, with every",
            "# component they reach; the tests check wire formats against it.",
            f"# source: {source}",
            f"# spec: {info.get('title', '?')} {info.get('version', '?')}",
            f"# sha256 of the full spec: {digest}",
            "",
        ]
    )


def render(spec_bytes: bytes, source: str, operation_ids: Sequence[str] = OPERATIONS) -> str:
    """The text of the vendored file cut from the full spec ``spec_bytes``."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # several times faster on 3 MB
    spec = yaml.load(spec_bytes, Loader=loader)
    subset = extract(spec, operation_ids)
    if dangling := dangling_references(subset):
        raise ValueError(f"the subset does not resolve: {', '.join(dangling)}")
    body = yaml.safe_dump(subset, sort_keys=False, allow_unicode=True, width=100)
    return _header(spec, hashlib.sha256(spec_bytes).hexdigest(), source) + body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="the full OpenAPI spec (YAML)")
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="where the spec came from")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    text = render(args.spec.read_bytes(), args.source)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text):,} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
