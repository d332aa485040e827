"""Fan-out request values: one frozen object per API call, checked when built.

Pure data: each value carries the same parameters as its :class:`AsyncImages` method and is
validated by the same rules as soon as it is constructed (file contents are checked when the
request is sent, since reading files up front would hold a whole batch in memory; image
references need no reading, and are checked whole at once). The client
turns a value into a call (:func:`request_arguments`); a value never calls the client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

import attrs

from ._config import Timeout
from ._files import FileTypes, as_image_list
from ._image_refs import ImageInput, edit_references
from ._params import (
    given_parameters,
    validate_edit_parameters,
    validate_generate,
    validate_reference_edit,
    validate_variation_parameters,
)

#: Fields of every request that shape the HTTP call rather than the API parameters.
_CALL_OPTIONS = ("extra_headers", "extra_query", "extra_body", "timeout", "max_retries")


@attrs.frozen(kw_only=True)
class RequestOptions:
    """What every request value carries besides its API parameters: how to make the call."""

    extra_headers: Mapping[str, str] | None = None
    """Headers added to this call."""
    extra_query: Mapping[str, str] | None = None
    """Query parameters added to this call."""
    extra_body: Mapping[str, object] | None = None
    """Body fields added to this call (not validated)."""
    timeout: float | Timeout | None = None
    """This call's timeout (None: the client's)."""
    max_retries: int | None = None
    """This call's retries (None: the client's)."""

    @property
    def image_count(self) -> int:
        """How many images the call asks for (for images-per-minute limits)."""
        n = getattr(self, "n", None)
        return n if isinstance(n, int) and n > 0 else 1

    def _parameters(self) -> dict[str, Any]:
        """The given API parameters, without files and call options (for validation)."""
        arguments = request_arguments(self)
        for name in (*_CALL_OPTIONS, "image", "mask"):
            arguments.pop(name, None)
        return arguments


@attrs.frozen(kw_only=True)
class GenerateRequest(RequestOptions):
    """One ``generate`` call (see :meth:`AsyncImages.generate` for the parameters)."""

    prompt: str
    """What to draw."""
    model: str | None = None
    """The model, by name (None: the server's default)."""
    n: int | None = None
    """How many images to make."""
    quality: str | None = None
    """``low``, ``medium``, ``high`` or ``auto`` (GPT image models); ``standard``, or ``hd``
    (dall-e-3)."""
    response_format: str | None = None
    """``b64_json`` or ``url`` (dall-e models only)."""
    size: str | None = None
    """``WIDTHxHEIGHT`` or ``auto``."""
    style: str | None = None
    """``vivid`` or ``natural`` (dall-e-3)."""
    user: str | None = None
    """An identifier of your end user, for abuse monitoring."""
    background: str | None = None
    """``transparent``, ``opaque`` or ``auto`` (GPT image models)."""
    moderation: str | None = None
    """``low`` or ``auto`` (GPT image models)."""
    output_compression: int | None = None
    """0 to 100, for ``jpeg`` and ``webp`` output (GPT image models)."""
    output_format: str | None = None
    """``png``, ``jpeg`` or ``webp`` (GPT image models)."""

    def __attrs_post_init__(self) -> None:
        validate_generate(self._parameters())


@attrs.frozen(kw_only=True)
class EditRequest(RequestOptions):
    """One ``edit`` call (see :meth:`AsyncImages.edit` for the parameters).

    Its images and mask are local files or references (:class:`ImageURL`, :class:`FileID`,
    or their dicts), not a mix of both.
    """

    image: ImageInput | Sequence[ImageInput]
    """The image or images to edit: uploads, or references (not a mix)."""
    prompt: str
    """What to change."""
    mask: ImageInput | None = None
    """Whose transparent area marks what to repaint, of the same kind as the images."""
    model: str | None = None
    """The model, by name (None: the server's default)."""
    n: int | None = None
    """How many images to make."""
    quality: str | None = None
    """``low``, ``medium``, ``high`` or ``auto`` (GPT image models); ``standard``, or ``hd``
    (dall-e-3)."""
    response_format: str | None = None
    """``b64_json`` or ``url`` (dall-e models only)."""
    size: str | None = None
    """``WIDTHxHEIGHT`` or ``auto``."""
    user: str | None = None
    """An identifier of your end user, for abuse monitoring."""
    background: str | None = None
    """``transparent``, ``opaque`` or ``auto`` (GPT image models)."""
    input_fidelity: str | None = None
    """``high`` or ``low``: how closely the output keeps the input's features."""
    output_compression: int | None = None
    """0 to 100, for ``jpeg`` and ``webp`` output (GPT image models)."""
    output_format: str | None = None
    """``png``, ``jpeg`` or ``webp`` (GPT image models)."""

    def __attrs_post_init__(self) -> None:
        references = edit_references(as_image_list(self.image), self.mask)
        if references is None:
            validate_edit_parameters(self._parameters())
        else:
            validate_reference_edit(self._parameters(), *references)


@attrs.frozen(kw_only=True)
class VariationRequest(RequestOptions):
    """One ``create_variation`` call (see :meth:`AsyncImages.create_variation`)."""

    image: FileTypes
    """The image to vary: a square PNG upload (dall-e-2)."""
    model: str | None = None
    """The model, by name (None: the server's default)."""
    n: int | None = None
    """How many variations to make."""
    response_format: str | None = None
    """``b64_json`` or ``url`` (dall-e models only)."""
    size: str | None = None
    """``WIDTHxHEIGHT`` or ``auto``."""
    user: str | None = None
    """An identifier of your end user, for abuse monitoring."""

    def __attrs_post_init__(self) -> None:
        validate_variation_parameters(self._parameters())


ImageRequest: TypeAlias = "GenerateRequest | EditRequest | VariationRequest"
"""Any request value :meth:`AsyncImages.run_many` accepts."""

RequestT = TypeVar("RequestT", bound=ImageRequest)
"""The request type of one fan-out: ``run_many`` gives each request back in its outcome."""


def request_arguments(request: RequestOptions) -> dict[str, Any]:
    """Every given field of a request value, as keyword arguments of its client method."""
    return given_parameters(**attrs.asdict(request, recurse=False))
