"""JSON image edits: ``POST /images/edits`` with an ``EditImageBodyJsonParam`` body.

This module owns what the emulator accepts as a JSON edit (:func:`accept_json_edit`): the
spec's fields (``images``, a list of 1 to 16 ``ImageRefParam``\\s, an optional ``mask``
reference, and the edit's other parameters but ``response_format``), GPT image models only
(dall-e-2 edits are multipart: a JSON body for it is a 400), every reference resolved by
:mod:`._image_refs`, and then the same checks as a multipart edit of the same files, so both
forms end in the same :class:`~._validation.AcceptedRequest` and the same pictures.

Messages about the decoded images name them as a multipart edit does (``image[0]``).
"""

from __future__ import annotations

from collections.abc import Mapping

from .._endpoints import ENDPOINTS
from .._errors import InvalidRequestError
from .._files import UploadFile, load_uploads
from .._params import MAX_EDIT_IMAGES
from ._bodies import RequestBody
from ._file_store import FileStore
from ._image_refs import ReferencedImage, resolve_reference
from ._responses import APIError, bad_request, from_invalid_request
from ._validation import AcceptedRequest, family_of, field_types, json_params, validated

__all__ = ["JSON_EDIT_FIELDS", "accept_json_edit"]

#: The plain fields of a JSON edit and their types (``images`` and ``mask`` come apart), from
#: the endpoint table's JSON form of an edit: the multipart edit's fields without
#: ``response_format`` (GPT image models answer base64 only), with ``moderation``.
JSON_EDIT_FIELDS: Mapping[str, str] = field_types(ENDPOINTS["edit"].reference_parameters)


async def accept_json_edit(
    body: RequestBody, *, validate: bool, files: FileStore
) -> AcceptedRequest:
    """The values and resolved images of a JSON edit; raises `APIError` for what the API refuses.

    References are resolved even when ``validate`` is off: there is nothing to draw without
    them. Decoding the images in full is left to :func:`~._validation.check_decodable`.
    """
    if body.failure is not None:
        raise body.failure
    params = json_params(body)
    references = params.pop("images", None)
    mask_reference = params.pop("mask", None)
    if validate:
        _check_model(params.get("model"))
    if references is None:
        raise bad_request(
            "Missing required parameter: 'images'.", "images", "missing_required_parameter"
        )
    if not isinstance(references, list):
        raise bad_request(
            "Invalid type for 'images': expected an array of image references.",
            "images",
            "invalid_type",
        )
    if validate and not 1 <= len(references) <= MAX_EDIT_IMAGES:
        raise bad_request(
            f"Invalid 'images': {len(references)} images given; an edit takes 1 to "
            f"{MAX_EDIT_IMAGES}.",
            "images",
            "invalid_value",
        )
    referenced = [
        await resolve_reference(reference, f"images[{index}]", files)
        for index, reference in enumerate(references)
    ]
    if mask_reference is not None:
        referenced.append(await resolve_reference(mask_reference, "mask", files))
    uploads = await _as_uploads(referenced, mask=mask_reference is not None)
    images, mask = (uploads[:-1], uploads[-1]) if mask_reference is not None else (uploads, None)
    if validate:
        params = validated(params, "edit", images, mask, fields=JSON_EDIT_FIELDS)
    return AcceptedRequest(params=params, images=tuple(images), mask=mask)


def _check_model(model: object) -> None:
    """Refuse a model that does not take JSON edits: only the GPT image models do."""
    if not isinstance(model, str) or not model:
        return  # the default (a GPT image model), or a type error the field check names
    family = family_of(model)
    if family.gpt_options and "edit" in family.endpoints:
        return
    note = "" if model == family.name else f" (the emulator treats {model!r} like {family.name})"
    raise APIError(
        400,
        f"Invalid value for 'model': {model} cannot edit from a JSON body{note}; JSON edits "
        "support GPT image models only. Send dall-e-2 edits as multipart/form-data with the "
        f"image files (the default model is {ENDPOINTS['edit'].default_model}).",
        param="model",
        code="invalid_value",
    )


async def _as_uploads(referenced: list[ReferencedImage], *, mask: bool) -> list[UploadFile]:
    """The referenced files read as uploads are (identified, named, typed)."""
    count = len(referenced) - (1 if mask else 0)
    labels = [f"images[{index}]" for index in range(count)] + (["mask"] if mask else [])
    try:
        return await load_uploads(
            [(image.filename, image.content, image.content_type) for image in referenced],
            labels,
        )
    except InvalidRequestError as error:
        raise from_invalid_request(error) from None
