"""The endpoint table holds to the OpenAPI spec; methods, request values and commands to it.

The table is the one place the package lists each call's parameters; the spec (vendored in
``tests/openapi/``) is where those facts come from. So the table is checked against the
spec, and the hand-written signatures, the request values (by the batch's endpoint map) and
the command line's options against the table.
"""

from __future__ import annotations

import argparse
import functools
import inspect
from typing import Any

import attrs
import pytest
import yaml
from openapi_schema import SPEC_PATH

from images_async import AsyncImages
from images_async._endpoints import ENDPOINTS, Endpoint, endpoint_named
from images_async.cli.batch import REQUEST_TYPES
from images_async.cli.parser import build_parser

#: Arguments of every call that shape the HTTP request rather than carry API parameters.
CALL_OPTIONS = {"extra_headers", "extra_query", "extra_body", "timeout", "max_retries"}
#: The command that makes each call.
COMMANDS = {"generate": "generate", "edit": "edit", "variation": "variations"}
CONTENT_TYPES = {"json": "application/json", "multipart": "multipart/form-data"}

endpoints = pytest.mark.parametrize("endpoint", list(ENDPOINTS.values()), ids=list(ENDPOINTS))


@functools.cache
def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(SPEC_PATH.read_bytes(), Loader=yaml.CSafeLoader)
    return document


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or what its ``$ref`` names (the spec is raw here, not translated)."""
    while "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def spec_schema(endpoint: Endpoint) -> dict[str, Any]:
    """The spec's request-body schema of the endpoint, for the body kind the client sends."""
    (operation,) = (
        item["post"]
        for item in spec()["paths"].values()
        if item.get("post", {}).get("operationId") == endpoint.operation_id
    )
    body = operation["requestBody"]["content"][CONTENT_TYPES[endpoint.body]]
    return resolved(body["schema"])


def spec_kind(schema: dict[str, Any]) -> str:
    """The table's kind for one property of the spec: its JSON type, or file(s) for binary."""
    schema = resolved(schema)
    branches = [schema, *(resolved(b) for b in schema.get("anyOf", []) + schema.get("oneOf", []))]
    if any(branch.get("format") == "binary" for branch in branches):
        return "file"
    items = [branch.get("items", {}) for branch in branches if branch.get("type") == "array"]
    if any(item.get("format") == "binary" for item in items):
        return "files"
    (kind,) = {branch.get("type") for branch in branches} - {None, "null"}
    return str(kind)


@endpoints
def test_the_table_lists_exactly_the_parameters_of_the_spec(endpoint: Endpoint) -> None:
    schema = spec_schema(endpoint)
    assert set(endpoint.parameter_names) == set(schema["properties"])
    assert set(endpoint.required) == set(schema["required"])


@endpoints
def test_each_parameter_travels_as_the_spec_types_it(endpoint: Endpoint) -> None:
    properties = spec_schema(endpoint)["properties"]
    kinds = {parameter.name: parameter.kind for parameter in endpoint.parameters}
    expected = {name: spec_kind(schema) for name, schema in properties.items()}
    # An edit's image is one file or many: the spec says so with an array beside the file.
    if endpoint.name == "edit":
        assert expected["image"] == "file"
        expected["image"] = "files"
    assert kinds == expected


@endpoints
def test_default_models_are_the_spec_defaults(endpoint: Endpoint) -> None:
    assert endpoint.default_model == spec_schema(endpoint)["properties"]["model"]["default"]


def test_the_table_has_the_documented_paths_and_operations() -> None:
    assert {name: (e.path, e.operation_id) for name, e in ENDPOINTS.items()} == {
        "generate": ("images/generations", "createImage"),
        "edit": ("images/edits", "createImageEdit"),
        "variation": ("images/variations", "createImageVariation"),
    }


@endpoints
def test_each_method_takes_exactly_the_tables_parameters(endpoint: Endpoint) -> None:
    signature = inspect.signature(getattr(AsyncImages, endpoint.method))
    parameters = {
        name: parameter
        for name, parameter in signature.parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name not in CALL_OPTIONS
    }
    assert set(parameters) == set(endpoint.parameter_names)
    required = {name for name, p in parameters.items() if p.default is inspect.Parameter.empty}
    assert required == set(endpoint.required)


@endpoints
def test_each_request_value_has_exactly_the_tables_parameters(endpoint: Endpoint) -> None:
    request_type = REQUEST_TYPES[endpoint.name]
    fields = {field.name for field in attrs.fields(request_type)} - CALL_OPTIONS
    # A fan-out never streams: a request value is one response, not an event stream.
    assert fields == set(endpoint.parameter_names) - {"stream", "partial_images"}


@endpoints
def test_each_command_takes_every_parameter_of_its_call(endpoint: Endpoint) -> None:
    (commands,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    destinations = {action.dest for action in commands.choices[COMMANDS[endpoint.name]]._actions}
    # The images are positional arguments, so a command takes them under the plural.
    expected = {"images" if name == "image" else name for name in endpoint.parameter_names}
    assert expected <= destinations


def test_endpoints_are_found_by_name_and_by_alias() -> None:
    assert endpoint_named("generate") is ENDPOINTS["generate"]
    assert endpoint_named("edits") is ENDPOINTS["edit"]
    assert endpoint_named("create_variation") is ENDPOINTS["variation"]
    assert endpoint_named("images") is None
