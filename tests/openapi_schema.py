"""Check request and response bodies against the official OpenAI OpenAPI spec.

This module owns the bridge between the spec and ``jsonschema``. The spec is the subset
vendored in ``tests/openapi/images-subset.yaml`` (cut from the official document by
``scripts/vendor_openapi.py``), so the tests need nothing outside the repository:

* loading the spec once and finding an operation's request or 200-response schema;
* translating the spec's OpenAPI-only leftovers (``nullable``, boolean
  ``exclusiveMinimum``, ``discriminator``, ``x-*``...) into plain JSON Schema 2020-12;
* reading a multipart/form-data body the way the server does, so a form can be checked
  against the same schema as a JSON body;
* forbidding request fields the spec does not define, because the client must send only
  spec fields even though the spec's schemas allow extra ones.

Every ``check_*`` function raises ``AssertionError`` listing all violations at once, one
line per field, so a failing test shows the whole picture. The spec is data: nothing here
mutates it; translated copies and validators are cached for the whole test session.
"""

from __future__ import annotations

import copy
import functools
import re
import reprlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

SPEC_PATH = Path(__file__).resolve().parent / "openapi" / "images-subset.yaml"

Schema = dict[str, Any]
MultipartField = tuple[str, str | bytes, str | None]
"""One part of a multipart/form-data body: (name, value, filename or None for a text part)."""

# Keywords whose values are one schema, a list of schemas, or a name-to-schema map: the
# translation walks only these, so example payloads and enum values are never rewritten.
_SCHEMA_KEYWORDS = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_SCHEMA_LIST_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_MAP_KEYWORDS = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs"})
# OpenAPI vocabulary that JSON Schema either does not know or would read differently.
_OPENAPI_ONLY_KEYWORDS = frozenset({"nullable", "discriminator", "example", "xml", "externalDocs"})

_INTEGER_TEXT = re.compile(r"-?[0-9]+")
# A text part naming one member of an object property, as form encoders write nested values.
_OBJECT_MEMBER = re.compile(r"(?P<name>\w+)\[(?P<key>[A-Za-z_]\w*)\]")
_NUMBER_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_BOOLEAN_TEXT = {"true": True, "false": False}
_LONGEST_MESSAGE = 160


# --- Public API ---------------------------------------------------------------------------


def request_schema(operation_id: str, content_type: str) -> Schema:
    """Return the translated request-body schema of an operation (a copy, safe to modify).

    A top-level ``$ref`` is followed; nested ``$ref``s still point into
    ``#/components/schemas`` of the spec.
    """
    return copy.deepcopy(_request_schema(operation_id, content_type))


def response_schema(operation_id: str, content_type: str = "application/json") -> Schema:
    """Return the translated schema of an operation's 200 response (a copy, safe to modify).

    ``content_type="text/event-stream"`` gives the schema of one streamed event.
    """
    return copy.deepcopy(_response_schema(operation_id, content_type))


def check_json_request(operation_id: str, body: Mapping[str, Any]) -> None:
    """Assert that a JSON request body matches the spec and sends only spec fields."""
    content_type = "application/json"
    schema = _request_schema(operation_id, content_type)
    violations = _unknown_fields(schema, body)
    violations += _schema_violations(_validator("request", operation_id, content_type), body)
    _raise_if_any(violations, f"{operation_id} {content_type} request")


def check_multipart_request(operation_id: str, fields: Sequence[MultipartField]) -> None:
    """Assert that the parts of a multipart/form-data request match the spec.

    Text parts are read as the property's JSON type (integers, ``"true"``/``"false"``),
    repeated names and ``name[]`` parts become arrays, ``name[key]`` parts members of an
    object (``expires_after[anchor]``), and file parts are allowed exactly
    for the ``format: binary`` properties. The resulting object is then checked like a
    JSON body.
    """
    content_type = "multipart/form-data"
    schema = _request_schema(operation_id, content_type)
    body, violations, dropped = _form_to_json(schema, fields)
    violations += _unknown_fields(schema, body)
    validator = _validator("request", operation_id, content_type)
    violations += _schema_violations(validator, body, reported=dropped)
    _raise_if_any(violations, f"{operation_id} {content_type} request")


def check_json_response(operation_id: str, body: Mapping[str, Any]) -> None:
    """Assert that a JSON 200-response body matches the spec (extra fields are allowed)."""
    content_type = "application/json"
    validator = _validator("response", operation_id, content_type)
    _raise_if_any(_schema_violations(validator, body), f"{operation_id} {content_type} response")


def check_stream_event(operation_id: str, event: Mapping[str, Any]) -> None:
    """Assert that one decoded server-sent event matches the operation's event schema."""
    content_type = "text/event-stream"
    validator = _validator("response", operation_id, content_type)
    _raise_if_any(_schema_violations(validator, event), f"{operation_id} stream event")


# --- Loading and translating the spec ---------------------------------------------------


@functools.cache
def _spec() -> dict[str, Any]:
    # The C loader parses it several times faster than the pure-Python one.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open("rb") as stream:
        spec: dict[str, Any] = yaml.load(stream, Loader=loader)
    return spec


@functools.cache
def _operations() -> dict[str, dict[str, Any]]:
    operations: dict[str, dict[str, Any]] = {}
    for path_item in _spec()["paths"].values():
        for operation in path_item.values():
            # Path items also hold shared "parameters" lists and summaries; skip those.
            if isinstance(operation, dict) and "operationId" in operation:
                operations[operation["operationId"]] = operation
    return operations


@functools.cache
def _components() -> dict[str, Any]:
    """The spec's component schemas, translated; the root every ``$ref`` resolves against."""
    schemas = _spec()["components"]["schemas"]
    return {"schemas": {name: _to_json_schema(schema) for name, schema in schemas.items()}}


def _to_json_schema(schema: Any) -> Any:
    """Translate one OpenAPI schema object into JSON Schema 2020-12, returning a new object."""
    if not isinstance(schema, dict):
        return schema  # boolean schemas
    translated: Schema = {}
    for key, value in schema.items():
        if key.startswith("x-") or key in _OPENAPI_ONLY_KEYWORDS:
            continue
        if key in _SCHEMA_KEYWORDS:
            translated[key] = _to_json_schema(value)
        elif key in _SCHEMA_LIST_KEYWORDS:
            translated[key] = [_to_json_schema(item) for item in value]
        elif key in _SCHEMA_MAP_KEYWORDS:
            translated[key] = {name: _to_json_schema(item) for name, item in value.items()}
        else:
            translated[key] = value
    _translate_exclusive_bounds(translated)
    if schema.get("nullable") is True:
        # A separate branch, because "type" may be absent (anyOf) and "enum" would still
        # reject null if we only widened "type".
        return {"anyOf": [translated, {"type": "null"}]}
    return translated


def _translate_exclusive_bounds(schema: Schema) -> None:
    # OpenAPI 3.0 wrote "exclusiveMinimum: true" next to "minimum"; JSON Schema 2020-12 wants
    # the bound itself, and would compare numbers against True otherwise.
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        flag = schema.get(exclusive)
        if isinstance(flag, bool):
            del schema[exclusive]
            if flag and bound in schema:
                schema[exclusive] = schema.pop(bound)


def _lookup(ref: str) -> Schema:
    """Resolve a local ``#/components/schemas/...`` reference to its translated schema."""
    prefix = "#/components/schemas/"
    if not ref.startswith(prefix):
        raise ValueError(f"unsupported $ref {ref!r}: only {prefix}... references are handled")
    name = ref.removeprefix(prefix).replace("~1", "/").replace("~0", "~")
    schema: Schema = _components()["schemas"][name]
    return schema


def _lookup_spec(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` in the raw spec (request bodies and responses may be shared)."""
    while "$ref" in node:
        target: Any = _spec()
        for segment in node["$ref"].removeprefix("#/").split("/"):
            target = target[segment.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


# --- Finding schemas and building validators ---------------------------------------------


def _operation(operation_id: str) -> dict[str, Any]:
    try:
        return _operations()[operation_id]
    except KeyError:
        raise KeyError(f"the spec has no operation {operation_id!r}") from None


def _media_schema(container: dict[str, Any], content_type: str, where: str) -> Schema:
    content = _lookup_spec(container).get("content", {})
    if content_type not in content:
        raise KeyError(f"{where} has no {content_type!r} body; the spec lists {sorted(content)}")
    schema: Schema = _to_json_schema(content[content_type]["schema"])
    if set(schema) == {"$ref"}:
        schema = _lookup(schema["$ref"])
    return schema


@functools.cache
def _request_schema(operation_id: str, content_type: str) -> Schema:
    request_body = _operation(operation_id).get("requestBody", {})
    return _media_schema(request_body, content_type, f"{operation_id} request")


@functools.cache
def _response_schema(operation_id: str, content_type: str) -> Schema:
    ok = _operation(operation_id).get("responses", {}).get("200", {})
    return _media_schema(ok, content_type, f"{operation_id} 200 response")


@functools.cache
def _validator(direction: str, operation_id: str, content_type: str) -> Draft202012Validator:
    if direction == "request":
        schema = _request_schema(operation_id, content_type)
    else:
        schema = _response_schema(operation_id, content_type)
    # Carrying the translated components inside the root document lets every local
    # "#/components/schemas/..." reference resolve without a custom registry. No format
    # checker is passed, so "format" (binary, unixtime, uri) stays an annotation.
    return Draft202012Validator({**schema, "components": _components()})


# --- Reading schemas ----------------------------------------------------------------------


def _branches(schema: Schema, seen: frozenset[str] = frozenset()) -> Iterator[Schema]:
    """Yield a schema and every schema it defers to through ``$ref``/anyOf/oneOf/allOf."""
    yield schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:  # `seen` stops recursive schemas looping
        yield from _branches(_lookup(ref), seen | {ref})
    for keyword in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(keyword, []):
            if isinstance(branch, dict):
                yield from _branches(branch, seen)


def _types(schemas: Iterable[Schema]) -> set[str]:
    types: set[str] = set()
    for schema in schemas:
        declared = schema.get("type")
        types.update([declared] if isinstance(declared, str) else declared or [])
    return types


def _item_branches(schema: Schema) -> list[Schema]:
    items = [branch.get("items") for branch in _branches(schema)]
    return [node for item in items if isinstance(item, dict) for node in _branches(item)]


def _is_file(schema: Schema) -> bool:
    """Whether a property is a file upload: ``format: binary``, alone or as array items."""
    nodes = [*_branches(schema), *_item_branches(schema)]
    return any(node.get("format") == "binary" for node in nodes)


def _text_types(schema: Schema) -> set[str]:
    """The JSON types one text part of this property may stand for (array items included)."""
    return (_types(_branches(schema)) - {"array"}) | _types(_item_branches(schema))


def _properties(schema: Schema) -> dict[str, Schema]:
    properties: dict[str, Schema] = {}
    for branch in _branches(schema):
        properties.update(branch.get("properties", {}))
    return properties


# --- Multipart ----------------------------------------------------------------------------


def _form_to_json(
    schema: Schema, fields: Sequence[MultipartField]
) -> tuple[Schema, list[str], set[str]]:
    """Turn form parts into the JSON object the server sees.

    Also returns the violations found on the way and the names of the fields left out of the
    object because one of their parts was reported.
    """
    properties = _properties(schema)
    parts_by_name: dict[str, list[tuple[str | bytes, str | None]]] = {}
    bracketed: set[str] = set()
    body: Schema = {}
    violations: list[str] = []
    for raw_name, value, filename in fields:
        member = _OBJECT_MEMBER.fullmatch(raw_name)
        if member is not None and filename is None:
            # ``expires_after[anchor]``: one member of an object property, read as its type.
            name, key = member["name"], member["key"]
            member_schema = _properties(properties.get(name, {})).get(key)
            try:
                text = value.decode() if isinstance(value, bytes) else value
                types = _text_types(member_schema) if member_schema is not None else set()
                body.setdefault(name, {})[key] = _parse_text(text, types)
            except ValueError as error:
                violations.append(f"{raw_name}: {error}")
            continue
        name = raw_name.removesuffix("[]")
        if name != raw_name:
            bracketed.add(name)
        parts_by_name.setdefault(name, []).append((value, filename))

    dropped: set[str] = set()
    for name, parts in parts_by_name.items():
        values = []
        for value, filename in parts:
            try:
                values.append(_read_part(value, filename, properties.get(name)))
            except ValueError as error:
                violations.append(f"{name}: {error}")
        if len(values) < len(parts):
            dropped.add(name)  # reported; the schema check would only repeat it less clearly
            continue
        repeated = len(parts) > 1 or name in bracketed
        body[name] = values if repeated else values[0]
    return body, violations, dropped


def _read_part(value: str | bytes, filename: str | None, schema: Schema | None) -> Any:
    """Read one form part as a JSON value; ValueError says why the part is wrong."""
    is_file = schema is not None and _is_file(schema)
    if filename is not None:
        if schema is not None and not is_file:
            raise ValueError(f"sent as a file part (filename {filename!r}) but is a text field")
        # The spec types uploads as strings (format: binary); the content is not checked.
        return f"<file {filename!r}, {len(value)} bytes>"
    if is_file:
        raise ValueError("sent as a text part but is a file field: send it with a filename")
    text = value.decode() if isinstance(value, bytes) else value
    return _parse_text(text, _text_types(schema) if schema is not None else set())


def _parse_text(text: str, types: set[str]) -> Any:
    """Read a text part as the JSON type the schema expects for it."""
    if "string" in types:
        return text
    if "integer" in types and _INTEGER_TEXT.fullmatch(text):
        return int(text)
    if "number" in types and _NUMBER_TEXT.fullmatch(text):
        return float(text)
    if "boolean" in types and text in _BOOLEAN_TEXT:
        return _BOOLEAN_TEXT[text]
    expected = [
        description
        for type_name, description in (
            ("integer", "an integer"),
            ("number", "a number"),
            ("boolean", "'true' or 'false'"),
        )
        if type_name in types
    ]
    if not expected:
        return text  # no scalar reading applies; leave it to the schema check
    raise ValueError(f"text {text!r} is not {' or '.join(expected)}")


# --- Reporting ----------------------------------------------------------------------------


def _unknown_fields(schema: Schema, body: Mapping[str, Any]) -> list[str]:
    known = _properties(schema)
    if not known or not isinstance(body, Mapping):
        return []  # a free-form schema, or a non-object body the schema check reports
    return [
        f"{name}: unknown field, not a property of the spec's request schema"
        for name in body
        if name not in known
    ]


def _schema_violations(
    validator: Draft202012Validator, instance: Any, reported: Iterable[str] = ()
) -> list[str]:
    """Describe every schema error; ``reported`` fields are not called missing again."""
    already_said = {f"{name!r} is a required property" for name in reported}
    errors = sorted(validator.iter_errors(instance), key=lambda error: error.json_path)
    return [
        _describe(error)
        for error in errors
        if error.absolute_path or error.message not in already_said
    ]


def _describe(error: ValidationError) -> str:
    # For anyOf/oneOf the top error only says "not valid under any of the given schemas";
    # best_match descends to the branch closest to the value, e.g. the enum or maximum.
    detail = best_match([error])
    message = _short_message(detail)
    if detail.context:  # best_match found no single closest branch: show each one's complaint
        alternatives = sorted({_short_message(branch) for branch in detail.context})
        message += f" ({'; '.join(alternatives)})"
    location = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in detail.absolute_path
    )
    return f"{location.removeprefix('.') or '(body)'}: {message}"


def _short_message(error: ValidationError) -> str:
    # jsonschema repeats the whole value in its messages; for 17 uploads or a long prompt
    # that buries the reason, so long messages are rebuilt around an abbreviated value.
    message = str(error.message)
    if len(message) <= _LONGEST_MESSAGE:
        return message
    value = reprlib.repr(error.instance)
    if isinstance(error.instance, (list, str)):
        value += f" (length {len(error.instance)})"
    return f"{value} fails {error.validator}: {reprlib.repr(error.validator_value)}"


def _raise_if_any(violations: list[str], what: str) -> None:
    if violations:
        lines = "\n".join(f"  - {violation}" for violation in violations)
        raise AssertionError(f"{what} violates the OpenAPI spec:\n{lines}")
