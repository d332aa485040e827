"""From call parameters to a :class:`PreparedRequest`: validation, uploads, body text.

One preparer per endpoint, taking exactly the parameters of its :class:`AsyncImages` method
(the response mode aside); :func:`prepare_request_value` does the same for a fan-out's
request values. Nothing here sends: a prepared request is plain data the transport encodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import attrs

from ._config import TimeoutTypes, checked_headers, checked_query
from ._endpoints import ENDPOINTS
from ._files import FileTypes, UploadFile, as_image_list, form_fields, image_labels, load_uploads
from ._image_refs import ImageInput, Reference, edit_references, reference_json
from ._params import (
    given_parameters,
    validate_edit,
    validate_generate,
    validate_reference_edit,
    validate_variation,
)
from ._request_values import (
    EditRequest,
    GenerateRequest,
    ImageRequest,
    VariationRequest,
    request_arguments,
)


@attrs.frozen(kw_only=True)
class PreparedRequest:
    """Everything needed to send (and resend) one API call, and its per-call overrides."""

    path: str
    method: str = "POST"
    """The HTTP method; a ``GET`` or ``DELETE`` carries no body."""
    model: str | None = None
    """The request's model; on Azure OpenAI it may name the deployment."""
    json_body: Mapping[str, object] | None = None
    form_fields: Sequence[tuple[str, str]] = ()
    files: Sequence[tuple[str, UploadFile]] = ()
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, str] | None = None
    stream: bool = False
    """The response is a stream of server-sent events."""
    timeout: TimeoutTypes = None
    """This call's timeout, unchecked (None: the client's)."""
    max_retries: int | None = None
    """This call's retries, unchecked (None: the client's)."""


def _checked_extras(
    extra_headers: object, extra_query: object
) -> tuple[Mapping[str, str] | None, Mapping[str, str] | None]:
    """A call's ``extra_headers`` and ``extra_query``, by the rules of the client options of
    the same kind; :class:`InvalidRequestError` otherwise, whether or not requests are
    validated (no server gets to see them)."""
    return (
        checked_headers(extra_headers, option="extra_headers", per_call=True),
        checked_query(extra_query, option="extra_query", per_call=True),
    )


async def prepare_generate(
    validate: bool,
    /,
    *,
    prompt: str,
    model: str | None = None,
    n: int | None = None,
    quality: str | None = None,
    response_format: str | None = None,
    size: str | None = None,
    style: str | None = None,
    user: str | None = None,
    background: str | None = None,
    moderation: str | None = None,
    output_compression: int | None = None,
    output_format: str | None = None,
    partial_images: int | None = None,
    stream: bool | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_query: Mapping[str, str] | None = None,
    extra_body: Mapping[str, object] | None = None,
    timeout: TimeoutTypes = None,
    max_retries: int | None = None,
) -> PreparedRequest:
    """``POST /images/generations`` (see :meth:`AsyncImages.generate`)."""
    extra_headers, extra_query = _checked_extras(extra_headers, extra_query)
    params = given_parameters(
        prompt=prompt,
        model=model,
        n=n,
        quality=quality,
        response_format=response_format,
        size=size,
        style=style,
        user=user,
        background=background,
        moderation=moderation,
        output_compression=output_compression,
        output_format=output_format,
        partial_images=partial_images,
        stream=stream,
    )
    if validate:
        validate_generate(params)
    return PreparedRequest(
        path=ENDPOINTS["generate"].path,
        model=model,
        json_body={**params, **(extra_body or {})},
        extra_headers=extra_headers,
        extra_query=extra_query,
        stream=bool(stream),
        timeout=timeout,
        max_retries=max_retries,
    )


async def prepare_edit(
    validate: bool,
    /,
    *,
    image: ImageInput | Sequence[ImageInput],
    prompt: str,
    mask: ImageInput | None = None,
    model: str | None = None,
    n: int | None = None,
    quality: str | None = None,
    response_format: str | None = None,
    size: str | None = None,
    user: str | None = None,
    background: str | None = None,
    input_fidelity: str | None = None,
    output_compression: int | None = None,
    output_format: str | None = None,
    partial_images: int | None = None,
    stream: bool | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_query: Mapping[str, str] | None = None,
    extra_body: Mapping[str, object] | None = None,
    timeout: TimeoutTypes = None,
    max_retries: int | None = None,
) -> PreparedRequest:
    """``POST /images/edits`` (see :meth:`AsyncImages.edit`): a JSON body when the images
    and mask are references, else a multipart body of the files, which are read here."""
    extra_headers, extra_query = _checked_extras(extra_headers, extra_query)
    inputs = as_image_list(image)
    params = given_parameters(
        prompt=prompt,
        model=model,
        n=n,
        quality=quality,
        response_format=response_format,
        size=size,
        user=user,
        background=background,
        input_fidelity=input_fidelity,
        output_compression=output_compression,
        output_format=output_format,
        partial_images=partial_images,
        stream=stream,
    )
    references = edit_references(inputs, mask)
    if references is not None:
        if validate:
            validate_reference_edit(params, *references)
        return PreparedRequest(
            path=ENDPOINTS["edit"].path,
            model=model,
            json_body=_reference_edit_body(params, *references, extra_body),
            extra_headers=extra_headers,
            extra_query=extra_query,
            stream=bool(stream),
            timeout=timeout,
            max_retries=max_retries,
        )
    # No reference among the inputs: every one is a local file, sent in a multipart body.
    images = cast("list[FileTypes]", inputs)
    masks = [] if mask is None else [cast("FileTypes", mask)]
    uploads = await load_uploads(
        [*images, *masks], [*image_labels(len(images)), *["mask"] * len(masks)]
    )
    image_uploads, mask_uploads = uploads[: len(images)], uploads[len(images) :]
    if validate:
        validate_edit(params, image_uploads, mask_uploads[0] if mask_uploads else None)
    names = ["image"] if len(images) == 1 else ["image[]"] * len(images)
    return PreparedRequest(
        path=ENDPOINTS["edit"].path,
        model=model,
        form_fields=form_fields(params, extra_body),
        files=[
            *zip(names, image_uploads, strict=True),
            *(("mask", upload) for upload in mask_uploads),
        ],
        extra_headers=extra_headers,
        extra_query=extra_query,
        stream=bool(stream),
        timeout=timeout,
        max_retries=max_retries,
    )


def _reference_edit_body(
    params: Mapping[str, object],
    images: Sequence[Reference],
    mask: Reference | None,
    extra_body: Mapping[str, object] | None,
) -> dict[str, object]:
    """The JSON body of an edit by reference (``EditImageBodyJsonParam``)."""
    body: dict[str, object] = {"images": [reference_json(reference) for reference in images]}
    if mask is not None:
        body["mask"] = reference_json(mask)
    return {**body, **params, **(extra_body or {})}


async def prepare_variation(
    validate: bool,
    /,
    *,
    image: FileTypes,
    model: str | None = None,
    n: int | None = None,
    response_format: str | None = None,
    size: str | None = None,
    user: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_query: Mapping[str, str] | None = None,
    extra_body: Mapping[str, object] | None = None,
    timeout: TimeoutTypes = None,
    max_retries: int | None = None,
) -> PreparedRequest:
    """``POST /images/variations`` (see :meth:`AsyncImages.create_variation`)."""
    extra_headers, extra_query = _checked_extras(extra_headers, extra_query)
    (upload,) = await load_uploads([image], ["image"])
    params = given_parameters(
        model=model, n=n, response_format=response_format, size=size, user=user
    )
    if validate:
        validate_variation(params, upload)
    return PreparedRequest(
        path=ENDPOINTS["variation"].path,
        model=model,
        form_fields=form_fields(params, extra_body),
        files=[("image", upload)],
        extra_headers=extra_headers,
        extra_query=extra_query,
        timeout=timeout,
        max_retries=max_retries,
    )


async def prepare_request_value(validate: bool, request: ImageRequest) -> PreparedRequest:
    """The prepared request of a fan-out's request value (its files are read now)."""
    arguments = request_arguments(request)
    if isinstance(request, GenerateRequest):
        return await prepare_generate(validate, **arguments)
    if isinstance(request, EditRequest):
        return await prepare_edit(validate, **arguments)
    assert isinstance(request, VariationRequest)
    return await prepare_variation(validate, **arguments)
