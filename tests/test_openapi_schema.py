"""Tests of the OpenAPI spec checker in ``openapi_schema`` itself, offline.

The other tests trust this helper to say whether the client's requests match the spec, so
each rule it enforces (unknown fields, enums, bounds, multipart typing, file parts, arrays,
responses and stream events) gets one passing and one failing example here.
"""

from __future__ import annotations

from typing import Any

import pytest
from openapi_schema import (
    MultipartField,
    check_json_request,
    check_json_response,
    check_multipart_request,
    check_stream_event,
    request_schema,
    response_schema,
)

PNG = b"\x89PNG\r\n\x1a\n"


def generation_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt": "a sea otter in a beret",
        "model": "gpt-image-1",
        "n": 2,
        "quality": "high",
        "size": "1024x1024",
        "output_format": "webp",
        "output_compression": 80,
        "background": "transparent",
        "moderation": "low",
        "stream": False,
    }
    body.update(overrides)
    return body


def edit_fields(*extra: MultipartField, images: int = 1) -> list[MultipartField]:
    fields: list[MultipartField] = [("prompt", "add a hat", None), ("model", "gpt-image-1", None)]
    fields += [("image[]", PNG, f"image{index}.png") for index in range(images)]
    return fields + list(extra)


def images_response(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "created": 1713833628,
        "data": [{"b64_json": "aGVsbG8="}],
        "output_format": "png",
        "size": "1024x1024",
        "quality": "high",
        "usage": {
            "total_tokens": 100,
            "input_tokens": 50,
            "output_tokens": 50,
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
        },
    }
    body.update(overrides)
    return body


def partial_image_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "image_generation.partial_image",
        "b64_json": "aGVsbG8=",
        "created_at": 1620000000,
        "size": "1024x1024",
        "quality": "high",
        "background": "auto",
        "output_format": "png",
        "partial_image_index": 0,
    }
    event.update(overrides)
    return event


# --- JSON requests ------------------------------------------------------------------------


def test_valid_generation_body_passes() -> None:
    check_json_request("createImage", generation_body())


def test_minimal_generation_body_passes() -> None:
    check_json_request("createImage", {"prompt": "an otter"})


def test_nullable_fields_accept_null() -> None:
    check_json_request("createImage", generation_body(quality=None, n=None, partial_images=None))


@pytest.mark.parametrize("model", ["gpt-image-1", "dall-e-3", "my-fine-tuned-model", ""])
def test_model_accepts_any_string(model: str) -> None:
    # The spec's model is anyOf(plain string, enum): the enum documents, it does not restrict.
    check_json_request("createImage", generation_body(model=model))


def test_unknown_field_fails() -> None:
    with pytest.raises(AssertionError, match=r"seed: unknown field"):
        check_json_request("createImage", generation_body(seed=7))


def test_wrong_quality_enum_fails() -> None:
    with pytest.raises(AssertionError, match=r"quality: 'ultra' is not one of"):
        check_json_request("createImage", generation_body(quality="ultra"))


def test_n_above_maximum_fails() -> None:
    with pytest.raises(AssertionError, match=r"n: 11 is greater than the maximum of 10"):
        check_json_request("createImage", generation_body(n=11))


def test_missing_prompt_fails() -> None:
    with pytest.raises(AssertionError, match=r"'prompt' is a required property"):
        check_json_request("createImage", {"model": "dall-e-3"})


def test_every_violation_is_listed() -> None:
    with pytest.raises(AssertionError) as raised:
        check_json_request("createImage", generation_body(n=0, quality="ultra", seed=1))
    message = str(raised.value)
    for field in ("n:", "quality:", "seed:"):
        assert field in message


def test_json_edit_body_uses_image_references() -> None:
    body = {"prompt": "add a hat", "images": [{"image_url": "https://example.com/a.png"}]}
    check_json_request("createImageEdit", body)
    with pytest.raises(AssertionError, match=r"images\[0\]"):
        check_json_request("createImageEdit", {**body, "images": [{"url": "x"}]})


@pytest.mark.parametrize(
    ("images", "violation"),
    [
        ([{"image_url": "data:image/png;base64,aGk=", "file_id": "file-1"}], r"images\[0\]"),
        ([{"file_id": "file-1"}] * 17, r"images: .* fails maxItems"),
        ([], r"images: \[\] should be non-empty"),
    ],
    ids=["both-kinds", "17-images", "no-images"],
)
def test_json_edit_references_are_one_of_two_kinds_and_1_to_16(
    images: list[dict[str, str]], violation: str
) -> None:
    body = {"prompt": "add a hat", "images": [{"file_id": "file-1"}], "mask": {"file_id": "f"}}
    check_json_request("createImageEdit", body)
    with pytest.raises(AssertionError, match=violation):
        check_json_request("createImageEdit", {**body, "images": images})


def test_json_edit_body_has_no_response_format() -> None:
    body = {"prompt": "add a hat", "images": [{"file_id": "file-1"}], "moderation": "low"}
    check_json_request("createImageEdit", body)
    with pytest.raises(AssertionError, match=r"response_format: unknown field"):
        check_json_request("createImageEdit", {**body, "response_format": "b64_json"})


# --- Multipart requests -------------------------------------------------------------------


def test_valid_edit_form_passes() -> None:
    extra: list[MultipartField] = [
        ("n", "2", None),
        ("stream", "true", None),
        ("partial_images", "2", None),
        ("output_compression", "50", None),
        ("quality", "high", None),
        ("mask", PNG, "mask.png"),
    ]
    check_multipart_request("createImageEdit", edit_fields(*extra))


def test_stream_must_be_true_or_false() -> None:
    with pytest.raises(AssertionError, match=r"stream: text 'yes' is not 'true' or 'false'"):
        check_multipart_request("createImageEdit", edit_fields(("stream", "yes", None)))


@pytest.mark.parametrize("text", ["two", "1.5", ""])
def test_integer_field_must_parse_as_int(text: str) -> None:
    with pytest.raises(AssertionError, match=r"n: text .* is not an integer"):
        check_multipart_request("createImageEdit", edit_fields(("n", text, None)))


def test_integer_field_is_range_checked_after_parsing() -> None:
    with pytest.raises(AssertionError, match=r"n: 11 is greater than the maximum of 10"):
        check_multipart_request("createImageEdit", edit_fields(("n", "11", None)))


def test_three_bracketed_images_pass() -> None:
    check_multipart_request("createImageEdit", edit_fields(images=3))


def test_seventeen_images_exceed_max_items() -> None:
    with pytest.raises(AssertionError, match=r"image: .*\(length 17\) fails maxItems: 16"):
        check_multipart_request("createImageEdit", edit_fields(images=17))


def test_repeated_plain_name_also_becomes_an_array() -> None:
    fields: list[MultipartField] = [("prompt", "p", None)]
    fields += [("image", PNG, f"{index}.png") for index in range(17)]
    with pytest.raises(AssertionError, match=r"maxItems: 16"):
        check_multipart_request("createImageEdit", fields)


def test_image_sent_as_text_part_fails() -> None:
    fields: list[MultipartField] = [("prompt", "p", None), ("image", "image.png", None)]
    with pytest.raises(AssertionError, match=r"image: sent as a text part but is a file field"):
        check_multipart_request("createImageEdit", fields)


def test_text_field_sent_as_file_part_fails() -> None:
    fields = edit_fields(("quality", b"high", "quality.txt"))
    with pytest.raises(AssertionError, match=r"quality: sent as a file part"):
        check_multipart_request("createImageEdit", fields)


def test_unknown_form_field_fails() -> None:
    with pytest.raises(AssertionError, match=r"style: unknown field"):
        check_multipart_request("createImageEdit", edit_fields(("style", "vivid", None)))


def test_missing_image_fails() -> None:
    with pytest.raises(AssertionError, match=r"'image' is a required property"):
        check_multipart_request("createImageEdit", [("prompt", "p", None)])


def test_variation_passes() -> None:
    fields: list[MultipartField] = [
        ("image", PNG, "otter.png"),
        ("model", "dall-e-2", None),
        ("n", "3", None),
        ("size", "512x512", None),
        ("response_format", "b64_json", None),
    ]
    check_multipart_request("createImageVariation", fields)


def test_variation_rejects_dall_e_3_size() -> None:
    fields: list[MultipartField] = [("image", PNG, "otter.png"), ("size", "1792x1024", None)]
    with pytest.raises(AssertionError, match=r"size: '1792x1024' is not one of"):
        check_multipart_request("createImageVariation", fields)


def test_multipart_model_accepts_any_string() -> None:
    fields: list[MultipartField] = [("image", PNG, "otter.png"), ("model", "my-model", None)]
    check_multipart_request("createImageVariation", fields)


def test_file_upload_form_reads_object_members_from_brackets() -> None:
    fields: list[MultipartField] = [
        ("purpose", "batch", None),
        ("file", b"{}", "jobs.jsonl"),
        ("expires_after[anchor]", "created_at", None),
        ("expires_after[seconds]", "3600", None),
    ]
    check_multipart_request("createFile", fields)
    with pytest.raises(AssertionError, match=r"expires_after.seconds: 60 is less than"):
        check_multipart_request("createFile", [*fields[:3], ("expires_after[seconds]", "60", None)])
    with pytest.raises(AssertionError, match=r"expires_after.anchor: 'now' is not one of"):
        check_multipart_request("createFile", [*fields[:2], ("expires_after[anchor]", "now", None)])
    with pytest.raises(AssertionError, match=r"purpose: 'training' is not one of"):
        check_multipart_request("createFile", [("purpose", "training", None), fields[1]])


# --- Responses and stream events ----------------------------------------------------------


def file_object(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "file-abc123",
        "object": "file",
        "bytes": 120,
        "created_at": 1677610602,
        "filename": "jobs.jsonl",
        "purpose": "batch",
        "status": "processed",
    }
    body.update(overrides)
    return body


def test_file_object_responses() -> None:
    check_json_response("createFile", file_object())
    check_json_response("retrieveFile", file_object(expires_at=1677614202))
    check_json_response("deleteFile", {"id": "file-abc123", "object": "file", "deleted": True})
    listing = {"object": "list", "data": [file_object()], "has_more": False}
    check_json_response(
        "listFiles", {**listing, "first_id": "file-abc123", "last_id": "file-abc123"}
    )
    with pytest.raises(AssertionError, match=r"'status' is a required property"):
        check_json_response(
            "retrieveFile", {k: v for k, v in file_object().items() if k != "status"}
        )
    with pytest.raises(AssertionError, match=r"purpose: 'images' is not one of"):
        check_json_response("createFile", file_object(purpose="images"))
    with pytest.raises(AssertionError, match=r"'deleted' is a required property"):
        check_json_response("deleteFile", {"id": "file-abc123", "object": "file"})
    with pytest.raises(AssertionError, match=r"'first_id' is a required property"):
        check_json_response("listFiles", listing)


def test_valid_images_response_passes() -> None:
    check_json_response("createImage", images_response())
    check_json_response("createImageVariation", {"created": 1, "data": [{"url": "https://x"}]})


def test_response_may_carry_fields_newer_than_the_spec() -> None:
    check_json_response("createImage", images_response(new_server_field=True))


def test_response_without_created_fails() -> None:
    body = images_response()
    del body["created"]
    with pytest.raises(AssertionError, match=r"'created' is a required property"):
        check_json_response("createImage", body)


def test_partial_image_event_passes() -> None:
    check_stream_event("createImage", partial_image_event())


def test_completed_event_passes() -> None:
    event = partial_image_event(type="image_generation.completed")
    del event["partial_image_index"]
    event["usage"] = images_response()["usage"]
    check_stream_event("createImage", event)


def test_event_of_unknown_shape_fails() -> None:
    with pytest.raises(AssertionError, match=r"stream event violates"):
        check_stream_event("createImage", partial_image_event(type="image_edit.partial_image"))


# --- Schema access ------------------------------------------------------------------------


def test_request_schema_resolves_the_top_level_reference() -> None:
    schema = request_schema("createImageEdit", "multipart/form-data")
    assert {"prompt", "image", "mask"} <= set(schema["properties"])
    assert schema["required"] == ["prompt", "image"]


def test_returned_schemas_are_copies() -> None:
    request_schema("createImage", "application/json")["properties"].clear()
    assert "prompt" in request_schema("createImage", "application/json")["properties"]


def test_stream_response_schema_is_a_union_of_events() -> None:
    assert len(response_schema("createImage", "text/event-stream")["anyOf"]) == 2


def test_missing_body_type_is_a_lookup_error() -> None:
    with pytest.raises(KeyError, match=r"text/event-stream"):
        response_schema("createImageVariation", "text/event-stream")
    with pytest.raises(KeyError, match=r"noSuchOperation"):
        request_schema("noSuchOperation", "application/json")
