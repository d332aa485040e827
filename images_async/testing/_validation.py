"""Validating a request like the Images API: fields, types, values, models and uploads.

This module owns what the emulator accepts (:func:`accept_request`). Which fields each
endpoint takes, their types, which are required and the default model come from the
endpoint table (:mod:`images_async._endpoints`), which a test holds to the OpenAPI spec.
What values each model accepts comes from the client's own rule table
(:mod:`images_async._params`), so on those rules the emulator agrees with the client by
construction rather than checking it. On top it makes the checks only a server can make:
unknown fields, JSON and form types, text that is not valid Unicode, and uploads that are
damaged although their header looks fine, or too large to decode (each PNG, JPEG or WEBP
upload is decoded in full by :func:`~._image_codec.decode_upload`). Every refusal is an
:class:`~._responses.APIError` in the API's shape.

Model names the rule table does not know are accepted, so code written for a newer model can
run offline: such a name behaves like its closest known family (:func:`family_of`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import attrs

from .._endpoints import ENDPOINTS, EndpointName, Parameter, ParameterKind
from .._errors import InvalidRequestError
from .._files import UploadFile, image_labels, load_uploads
from .._params import (
    BACKGROUNDS,
    INPUT_FIDELITIES,
    KNOWN_MODELS,
    MODERATIONS,
    OUTPUT_FORMATS,
    QUALITIES,
    RESPONSE_FORMATS,
    STYLES,
    ModelRules,
    parse_size,
    validate_edit,
    validate_generate,
    validate_variation,
)
from ._bodies import UNPARSEABLE_JSON, RequestBody
from ._image_codec import decode_upload
from ._responses import APIError, bad_request, from_invalid_request

__all__ = [
    "FIELD_TYPES",
    "AcceptedRequest",
    "accept_request",
    "check_decodable",
    "family_of",
    "field_types",
    "json_params",
    "validated",
]

#: The family of a name that starts like no known model: the newest GPT image model.
_FALLBACK_FAMILY = "gpt-image-2"
#: What may follow a known name in a name of its family (``dall-e-3-hd``, ``gpt-image-1.7``).
_FAMILY_SEPARATORS = ("-", ".", "_", ":", "@")
_STRING, _INTEGER, _BOOLEAN = "a string", "an integer", "a boolean"
_TYPE_NAMES: Mapping[ParameterKind, str] = {
    "string": _STRING,
    "integer": _INTEGER,
    "boolean": _BOOLEAN,
}


def field_types(parameters: Sequence[Parameter]) -> dict[str, str]:
    """The JSON or form text fields among ``parameters``, each with the type it must have
    (files and image references come apart)."""
    return {p.name: _TYPE_NAMES[p.kind] for p in parameters if p.kind in _TYPE_NAMES}


#: Each endpoint's JSON or form text fields and the type each must have.
FIELD_TYPES: Mapping[EndpointName, Mapping[str, str]] = {
    name: field_types(endpoint.parameters) for name, endpoint in ENDPOINTS.items()
}
_VOCABULARIES = {
    "quality": QUALITIES,
    "style": STYLES,
    "background": BACKGROUNDS,
    "moderation": MODERATIONS,
    "output_format": OUTPUT_FORMATS,
    "response_format": RESPONSE_FORMATS,
    "input_fidelity": INPUT_FIDELITIES,
}
_IMAGE_FIELD = re.compile(r"image(\[\d*\])?")
# Form integers are ASCII digits (int() also takes Arabic-Indic or fullwidth ones); more
# digits than this are out of every range, and int() refuses past 4300 digits anyway.
_FORM_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
_MAX_INTEGER_DIGITS = 100


@attrs.frozen(kw_only=True)
class AcceptedRequest:
    """A request that passed the checks (or was not checked): its values and uploads."""

    params: Mapping[str, object]
    images: tuple[UploadFile, ...] = ()
    mask: UploadFile | None = None


def family_of(model: str) -> ModelRules:
    """The known model whose rules and behaviour ``model`` gets.

    A known name is itself. Otherwise the longest known name that ``model`` extends, past a
    separator, is its family (``dall-e-3-hd`` is dall-e-3, ``gpt-image-1-mini-2027`` is
    gpt-image-1-mini); any other name (``gpt-image-3``, ``my-model``) is GPT-image-like.
    """
    known = KNOWN_MODELS.get(model)
    if known is not None:
        return known
    extended = [
        rules
        for name, rules in KNOWN_MODELS.items()
        if model.startswith(name) and model[len(name)] in _FAMILY_SEPARATORS
    ]
    if extended:
        return max(extended, key=lambda rules: len(rules.name))
    return KNOWN_MODELS[_FALLBACK_FAMILY]


async def accept_request(
    endpoint: EndpointName, body: RequestBody, *, validate: bool
) -> AcceptedRequest:
    """The request's values and uploads; raises `APIError` for what the API refuses.

    Uploads are only checked against their headers here; :func:`check_decodable` decodes
    them (slow: run it off the event loop).
    """
    if body.failure is not None:
        raise body.failure
    if ENDPOINTS[endpoint].body == "json":
        params = json_params(body)
        images: list[UploadFile] = []
        mask = None
    else:
        params = _form_params(body, endpoint)
        images, mask = await _uploads(body, endpoint)
    if validate:
        params = validated(params, endpoint, images, mask)
    return AcceptedRequest(params=params, images=tuple(images), mask=mask)


def check_decodable(images: Sequence[UploadFile], mask: UploadFile | None) -> None:
    """Refuse, naming it, the first upload that does not decode in full (or is too large to).

    Uploads whose header names no format the API reads were refused before this.
    """
    labelled = [*zip(images, image_labels(len(images)), strict=True)]
    if mask is not None:
        labelled.append((mask, "mask"))
    for upload, param in labelled:
        if upload.info is None:
            continue
        try:
            decode_upload(upload.content).close()
        except ValueError as exc:
            raise bad_request(
                f"Invalid image file: {upload.filename!r} could not be decoded: {exc}.",
                param,
                "invalid_image",
            ) from None


# --- values -------------------------------------------------------------------------------


def json_params(body: RequestBody) -> dict[str, object]:
    """The members of a JSON object body that are not null; refuses what the API cannot read."""
    if body.kind != "json":
        raise bad_request("Invalid Content-Type header: this endpoint takes application/json.")
    document = body.document
    if not isinstance(document, dict):
        raise bad_request("The JSON body of your request must be an object.")
    params: dict[str, object] = {}
    for name, value in document.items():
        if _holds_lone_surrogate(name):
            raise bad_request(UNPARSEABLE_JSON)
        if _holds_lone_surrogate(value):
            raise bad_request(
                f"Invalid value for '{name}': it holds a lone surrogate (an unpaired \\ud800-"
                "\\udfff escape), which is not valid Unicode.",
                name,
                "invalid_value",
            )
        if value is not None:
            params[name] = value
    return params


def _holds_lone_surrogate(value: object) -> bool:
    """Whether any string in a parsed JSON value is not valid Unicode."""
    # A stack, not recursion: the parser accepted the nesting, so must this walk.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _text_value(name: str, text: str, expected: str | None) -> object:
    if expected == _INTEGER:
        digits = text.strip()
        if not _FORM_INTEGER.fullmatch(digits):
            raise _invalid_type(name, expected, "a string")
        if len(digits.lstrip("-")) > _MAX_INTEGER_DIGITS:
            raise bad_request(
                f"Invalid value for '{name}': the number is too large.", name, "invalid_value"
            )
        return int(digits)
    if expected == _BOOLEAN:
        if text.strip().lower() in ("true", "false"):
            return text.strip().lower() == "true"
        raise _invalid_type(name, expected, "a string")
    return text


def _invalid_type(name: str, expected: str, got: str) -> APIError:
    message = f"Invalid type for '{name}': expected {expected}, but got {got} instead."
    return bad_request(message, name, "invalid_type")


def _json_type_name(value: object) -> str:
    if isinstance(value, bool):
        return _BOOLEAN
    if isinstance(value, int):
        return _INTEGER
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return _STRING
    return "an array" if isinstance(value, list) else "an object"


def _check_fields(params: Mapping[str, object], fields: Mapping[str, str]) -> None:
    for name, value in params.items():
        expected = fields.get(name)
        if expected is None:
            raise bad_request(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
        actual = _json_type_name(value)
        if actual != expected:
            raise _invalid_type(name, expected, actual)


def _check_values(params: Mapping[str, object]) -> None:
    for name, vocabulary in _VOCABULARIES.items():
        value = params.get(name)
        if value is not None and value not in vocabulary:
            choices = ", ".join(sorted(vocabulary))
            message = f"Invalid value: {value!r}. Supported values are: {choices}."
            raise bad_request(message, name, "invalid_value")
    size = params.get("size")
    if isinstance(size, str) and size != "auto" and parse_size(size) is None:
        message = f"Invalid value: {size!r}. The size must be 'auto' or WIDTHxHEIGHT."
        raise bad_request(message, "size", "invalid_value")


def validated(
    params: Mapping[str, object],
    endpoint: EndpointName,
    images: Sequence[UploadFile],
    mask: UploadFile | None,
    *,
    fields: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """``params`` with the default model filled in, after every check of the rule table.

    ``fields`` are the names ``params`` may use, each with its type (the endpoint's, from
    :data:`FIELD_TYPES`, unless given); the files are ``images`` and ``mask``.
    """
    _check_fields(params, FIELD_TYPES[endpoint] if fields is None else fields)
    for name in ENDPOINTS[endpoint].required:
        present = images if name == "image" else name in params
        if not present:
            raise bad_request(
                f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
            )
    params = {"model": ENDPOINTS[endpoint].default_model, **params}
    _check_values(params)
    model = params["model"]
    checked, note = params, ""
    if isinstance(model, str) and model and model not in KNOWN_MODELS:
        family = family_of(model).name
        checked = {**params, "model": family}
        note = f" (the emulator treats the unknown model {model!r} like {family})"
    try:
        if endpoint == "generate":
            validate_generate(checked)
        elif endpoint == "edit":
            validate_edit(checked, images, mask)
        else:
            validate_variation(checked, images[0])
    except InvalidRequestError as error:
        raise from_invalid_request(error, note) from None
    return params


# --- forms and uploads --------------------------------------------------------------------


def _form_params(body: RequestBody, endpoint: EndpointName) -> dict[str, object]:
    if body.kind != "multipart":
        raise bad_request("Invalid Content-Type header: this endpoint takes multipart/form-data.")
    fields = FIELD_TYPES[endpoint]
    params: dict[str, object] = {}
    for name, text in body.texts:
        if _IMAGE_FIELD.fullmatch(name) or name == "mask":
            raise _invalid_type(name, "a file", "a string")
        params[name] = _text_value(name, text, fields.get(name))
    for part in body.files:
        if part.field in fields:
            raise _invalid_type(part.field, fields[part.field], "a file")
        is_image = _IMAGE_FIELD.fullmatch(part.field) is not None
        # Text fields were refused above: a parameter here is one of the endpoint's files.
        if not is_image and ENDPOINTS[endpoint].parameter(part.field) is None:
            raise bad_request(
                f"Unknown parameter: '{part.field}'.", part.field, "unknown_parameter"
            )
    return params


async def _uploads(
    body: RequestBody, endpoint: EndpointName
) -> tuple[list[UploadFile], UploadFile | None]:
    images = [part for part in body.files if _IMAGE_FIELD.fullmatch(part.field)]
    masks = [part for part in body.files if part.field == "mask"]
    if endpoint == "variation" and len(images) > 1:
        raise bad_request("Only one image can be given for variations.", "image", "invalid_value")
    if len(masks) > 1:
        raise bad_request("Only one mask can be given.", "mask", "invalid_value")
    labels = image_labels(len(images))
    parts = [*images, *masks]
    try:
        uploads = await load_uploads(
            [(part.filename, part.content, part.content_type) for part in parts],
            [*labels, *(["mask"] if masks else [])],
        )
    except InvalidRequestError as error:
        raise from_invalid_request(error) from None
    return uploads[: len(images)], (uploads[-1] if masks else None)
