"""The one table of the Images API's endpoints and the parameters each takes.

Everything that needs to know "which parameters does this call have" reads it: the emulator
(which fields it accepts and which are required), the command line (which options map to
which call), the batch runner (which names a JSON line may use), and a test that holds every
``AsyncImages`` method and request value to it, and it to the OpenAPI spec. What values a
parameter may take, per model, is not here: that is :mod:`._params`.

The typed method signatures stay hand-written (that is how type checkers narrow
``stream=``); this table is checked against them rather than generating them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

EndpointName = Literal["generate", "edit", "variation"]
"""The three image calls, by the name the rest of the package uses for them."""

ParameterKind = Literal["string", "integer", "boolean", "file", "files", "reference", "references"]
"""How a parameter travels: JSON or form text of a type, one uploaded file, or one or more
(``image`` of an edit: a file, or up to 16 sent as ``image[]``), or in a JSON body one image
reference (``{"image_url": ...}`` or ``{"file_id": ...}``) or a list of them."""


@attrs.frozen
class Parameter:
    """One API parameter of an endpoint."""

    name: str
    kind: ParameterKind
    required: bool = False


@attrs.frozen(kw_only=True)
class Endpoint:
    """One image call: where it goes, how its body is encoded, what it takes."""

    name: EndpointName
    method: str
    """The :class:`AsyncImages` method that makes the call."""
    path: str
    """Relative to the API root (``.../v1``)."""
    operation_id: str
    """The call's ``operationId`` in the OpenAPI spec."""
    body: Literal["json", "multipart"]
    default_model: str
    """The model the server uses when the request names none (the spec's default)."""
    parameters: tuple[Parameter, ...]
    aliases: tuple[str, ...] = ()
    """Other names a batch line may give the endpoint by."""
    reference_parameters: tuple[Parameter, ...] = ()
    """The parameters of the endpoint's JSON form, for an endpoint whose ``body`` is
    multipart but which also takes images by reference in a JSON body (edits); empty when
    there is no such form."""

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(parameter.name for parameter in self.parameters)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(parameter.name for parameter in self.parameters if parameter.required)

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


def _options(kind: ParameterKind, *names: str) -> tuple[Parameter, ...]:
    return tuple(Parameter(name, kind) for name in names)


GENERATE = Endpoint(
    name="generate",
    method="generate",
    path="images/generations",
    operation_id="createImage",
    body="json",
    default_model="dall-e-2",
    aliases=("generations",),
    parameters=(
        Parameter("prompt", "string", required=True),
        *_options("string", "model", "quality", "response_format", "size", "style", "user"),
        *_options("string", "background", "moderation", "output_format"),
        *_options("integer", "n", "output_compression", "partial_images"),
        Parameter("stream", "boolean"),
    ),
)

EDIT = Endpoint(
    name="edit",
    method="edit",
    path="images/edits",
    operation_id="createImageEdit",
    body="multipart",
    default_model="gpt-image-1.5",
    aliases=("edits",),
    parameters=(
        Parameter("image", "files", required=True),
        Parameter("prompt", "string", required=True),
        Parameter("mask", "file"),
        *_options("string", "model", "quality", "response_format", "size", "user"),
        *_options("string", "background", "input_fidelity", "output_format"),
        *_options("integer", "n", "output_compression", "partial_images"),
        Parameter("stream", "boolean"),
    ),
    # EditImageBodyJsonParam: "images" instead of "image", no response_format (GPT image
    # models only), and moderation, which the multipart form lacks.
    reference_parameters=(
        Parameter("images", "references", required=True),
        Parameter("prompt", "string", required=True),
        Parameter("mask", "reference"),
        *_options("string", "model", "quality", "size", "user", "moderation"),
        *_options("string", "background", "input_fidelity", "output_format"),
        *_options("integer", "n", "output_compression", "partial_images"),
        Parameter("stream", "boolean"),
    ),
)

VARIATION = Endpoint(
    name="variation",
    method="create_variation",
    path="images/variations",
    operation_id="createImageVariation",
    body="multipart",
    default_model="dall-e-2",
    aliases=("variations", "create_variation"),
    parameters=(
        Parameter("image", "file", required=True),
        *_options("string", "model", "response_format", "size", "user"),
        Parameter("n", "integer"),
    ),
)

ENDPOINTS: Mapping[EndpointName, Endpoint] = {
    endpoint.name: endpoint for endpoint in (GENERATE, EDIT, VARIATION)
}


def endpoint_named(name: str) -> Endpoint | None:
    """The endpoint called ``name`` or one of its aliases (batch lines use either)."""
    for endpoint in ENDPOINTS.values():
        if name == endpoint.name or name in endpoint.aliases:
            return endpoint
    return None
