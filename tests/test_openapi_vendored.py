"""The vendored OpenAPI subset (``tests/openapi/images-subset.yaml``) and the script that cuts it.

The wire-format tests trust that file, so it must be whole: every ``$ref`` resolves inside it,
every operation the project speaks is there, and its header says where it came from.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from openapi_schema import SPEC_PATH
from plugins.generator_script import load_script

vendor = load_script("vendor_openapi")


@pytest.fixture(scope="module")
def vendored_text() -> str:
    return SPEC_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def vendored(vendored_text: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(vendored_text)
    return document


def _operation_ids(document: dict[str, Any]) -> set[str]:
    return {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def test_the_vendored_subset_lies_inside_the_repository() -> None:
    repository = SPEC_PATH.parents[2]
    assert (repository / "pyproject.toml").is_file()
    assert SPEC_PATH.is_relative_to(repository)


def test_every_reference_of_the_vendored_subset_resolves(vendored: dict[str, Any]) -> None:
    assert list(vendor.references(vendored)), "a subset without references proves nothing"
    assert vendor.dangling_references(vendored) == []


def test_the_vendored_subset_holds_the_image_file_and_batch_operations(
    vendored: dict[str, Any],
) -> None:
    assert _operation_ids(vendored) == set(vendor.OPERATIONS)
    assert {"createImage", "createImageEdit", "createImageVariation"} <= _operation_ids(vendored)
    schemas = vendored["components"]["schemas"]
    for name in ("ImagesResponse", "ImageGenStreamEvent", "ImageEditStreamEvent", "Batch"):
        assert name in schemas


def test_the_vendored_subset_holds_json_edits_and_the_files_api(vendored: dict[str, Any]) -> None:
    schemas = vendored["components"]["schemas"]
    for name in (
        "EditImageBodyJsonParam",
        "ImageRefParam",
        "CreateFileRequest",
        "OpenAIFile",
        "DeleteFileResponse",
        "ListFilesResponse",
    ):
        assert name in schemas, name
    edit_bodies = vendored["paths"]["/images/edits"]["post"]["requestBody"]["content"]
    assert edit_bodies["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EditImageBodyJsonParam"
    }
    assert "multipart/form-data" in edit_bodies
    files_paths = {"/files", "/files/{file_id}", "/files/{file_id}/content"}
    assert files_paths <= set(vendored["paths"])
    assert set(vendored["paths"]["/files"]) >= {"get", "post"}
    assert set(vendored["paths"]["/files/{file_id}"]) >= {"get", "delete"}


def test_the_header_records_source_version_and_digest(vendored_text: str) -> None:
    header = vendored_text.split("\nopenapi:", 1)[0]
    assert "do not edit" in header
    assert re.search(r"^# source: \S", header, re.MULTILINE)
    assert re.search(r"^# spec: OpenAI API \d+\.\d+", header, re.MULTILINE)
    assert re.search(r"^# sha256 of the full spec: [0-9a-f]{64}$", header, re.MULTILINE)


def test_the_vendored_body_is_exactly_what_the_script_writes(
    vendored_text: str, vendored: dict[str, Any]
) -> None:
    # A hand edit (or a reformat) shows up as a difference from the script's own dump.
    body = vendored_text[vendored_text.index("\nopenapi:") + 1 :]
    assert body == yaml.safe_dump(vendored, sort_keys=False, allow_unicode=True, width=100)


# --- the script, on small specs ------------------------------------------------------------


def _tiny_spec() -> dict[str, Any]:
    def ok(ref: str) -> dict[str, Any]:
        schema = {"$ref": ref}
        return {"200": {"content": {"application/json": {"schema": schema}}}}

    return {
        "openapi": "3.1.0",
        "info": {"title": "Tiny", "version": "9.9", "description": "dropped"},
        "paths": {
            "/images/generations": {
                "post": {"operationId": "createImage", "responses": ok("#/components/schemas/A")}
            },
            "/models": {
                "get": {"operationId": "listModels", "responses": ok("#/components/schemas/Z")}
            },
        },
        "components": {
            "schemas": {
                "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"items": {"$ref": "#/components/schemas/A"}},  # a cycle ends too
                "Z": {"type": "string"},
            }
        },
    }


def test_extract_keeps_the_operations_and_what_they_reach_transitively() -> None:
    subset = vendor.extract(_tiny_spec(), ["createImage"])
    assert list(subset["paths"]) == ["/images/generations"]
    assert sorted(subset["components"]["schemas"]) == ["A", "B"]
    assert subset["info"] == {"title": "Tiny", "version": "9.9"}
    assert vendor.dangling_references(subset) == []


def test_extract_fails_for_an_operation_the_spec_lacks() -> None:
    with pytest.raises(KeyError, match="createImageEdit"):
        vendor.extract(_tiny_spec(), ["createImage", "createImageEdit"])


def test_dangling_references_are_reported() -> None:
    document = _tiny_spec()
    del document["components"]["schemas"]["B"]
    assert vendor.dangling_references(document) == ["#/components/schemas/B"]


def test_render_writes_the_header_and_refuses_a_spec_that_does_not_resolve() -> None:
    text = vendor.render(yaml.safe_dump(_tiny_spec()).encode(), "a test", ["createImage"])
    assert text.startswith("# GENERATED by scripts/vendor_openapi.py")
    assert "# source: a test\n# spec: Tiny 9.9\n" in text
    broken = _tiny_spec()
    broken["components"]["schemas"]["A"]["properties"]["b"]["$ref"] = "#/components/schemas/Q"
    with pytest.raises(KeyError):
        vendor.render(yaml.safe_dump(broken).encode(), "a test", ["createImage"])
