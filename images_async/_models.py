"""The response models: plain frozen attrs classes with no wire knowledge.

How JSON becomes these objects lives in :mod:`images_async._converter`. Base64 payloads are
kept as the ASCII bytes they arrived as and decoded only when asked for, so a multi-megabyte
image is never copied through intermediate strings.
"""

from __future__ import annotations

import base64
import binascii
import sys

import attrs

from ._errors import ImageDecodeError


@attrs.frozen(kw_only=True)
class InputTokensDetails:
    """How the input tokens of a GPT image call split between text and images."""

    text_tokens: int = 0
    """Tokens spent on the prompt text."""
    image_tokens: int = 0
    """Tokens spent on input images."""


@attrs.frozen(kw_only=True)
class OutputTokensDetails:
    """How the output tokens of a GPT image call split between images and text."""

    image_tokens: int = 0
    """Tokens spent on output images."""
    text_tokens: int = 0
    """Tokens spent on output text."""


@attrs.frozen(kw_only=True)
class Usage:
    """Token usage reported for the GPT image models."""

    input_tokens: int = 0
    """Tokens in the input (text and images)."""
    output_tokens: int = 0
    """Tokens in the output."""
    total_tokens: int = 0
    """Input plus output tokens."""
    input_tokens_details: InputTokensDetails | None = None
    """The input split by kind, when reported."""
    output_tokens_details: OutputTokensDetails | None = None
    """The output split by kind, when reported."""


if sys.version_info >= (3, 11):

    def _strict_b64decode(payload: bytes) -> bytes:
        # What b64decode(validate=True) runs on 3.11+, without the copy of its input it
        # makes first: a payload is megabytes.
        return binascii.a2b_base64(payload, strict_mode=True)

else:  # Python 3.10 has no strict_mode: its b64decode(validate=True), as before

    def _strict_b64decode(payload: bytes) -> bytes:
        return base64.b64decode(payload, validate=True)


def _decode_base64(payload: bytes | None, what: str) -> bytes:
    """The bytes of a base64 payload; :class:`ImageDecodeError` when missing or malformed."""
    if payload is None:
        raise ImageDecodeError(f"{what} carries no b64_json payload")
    try:
        return _strict_b64decode(payload)
    except binascii.Error as exc:
        raise ImageDecodeError(f"{what} carries malformed base64: {exc}") from None


@attrs.frozen(kw_only=True)
class Image:
    """One generated image: inline base64 data or a URL, never both in practice."""

    url: str | None = None
    """Where to download the image (dall-e models with ``response_format="url"``)."""
    revised_prompt: str | None = None
    """The prompt the model actually used (dall-e-3)."""
    b64_payload: bytes | None = attrs.field(default=None, repr=False)
    """The base64 text as ASCII bytes, exactly as received."""

    @property
    def b64_json(self) -> str | None:
        """The base64 text as a string, as in the JSON body (built on each access)."""
        # UTF-8 as the body was: a damaged payload is shown as sent, and fails in decode().
        return None if self.b64_payload is None else self.b64_payload.decode("utf-8", "replace")

    def decode(self) -> bytes:
        """The image file's bytes, decoded from the inline base64 payload.

        Raises ``ImageDecodeError`` (a ``ValueError``) when the image only has a URL or
        its payload is not valid base64; use ``AsyncImages.read_image`` to get the bytes in
        either case.
        """
        return _decode_base64(self.b64_payload, "this image")

    def __repr__(self) -> str:
        size = "none" if self.b64_payload is None else f"{len(self.b64_payload)} base64 chars"
        return f"Image(url={self.url!r}, revised_prompt={self.revised_prompt!r}, b64_json=<{size}>)"


@attrs.frozen(kw_only=True)
class ImagesResponse:
    """The answer of the generations, edits and variations endpoints."""

    created: int
    """Unix time (seconds) when the images were created."""
    data: tuple[Image, ...] = ()
    """The generated images."""
    background: str | None = None
    """``transparent`` or ``opaque`` (GPT image models)."""
    output_format: str | None = None
    """``png``, ``webp`` or ``jpeg`` (GPT image models)."""
    quality: str | None = None
    """``low``, ``medium`` or ``high`` (GPT image models)."""
    size: str | None = None
    """The size of the generated images, ``WIDTHxHEIGHT``."""
    usage: Usage | None = None
    """Token usage (GPT image models)."""


@attrs.frozen(kw_only=True)
class ImageStreamEvent:
    """Base of the server-sent events of a streamed generation or edit."""

    type: str
    """The event type, e.g. ``image_generation.partial_image``."""


@attrs.frozen(kw_only=True)
class PartialImageEvent(ImageStreamEvent):
    """A partial image of a streamed generation or edit (``*.partial_image``)."""

    partial_image_index: int = 0
    """0-based index of this partial image."""
    created_at: int = 0
    """Unix time the event was created."""
    size: str | None = None
    """Size of the image."""
    quality: str | None = None
    """Quality of the image."""
    background: str | None = None
    """Background of the image."""
    output_format: str | None = None
    """Format of the image."""
    b64_payload: bytes | None = attrs.field(default=None, repr=False)
    """The base64 text as ASCII bytes."""

    def decode(self) -> bytes:
        """The partial image file's bytes (``ImageDecodeError`` if missing or damaged)."""
        return _decode_base64(self.b64_payload, "this event")


@attrs.frozen(kw_only=True)
class CompletedImageEvent(ImageStreamEvent):
    """The final image of a streamed generation or edit (``*.completed``)."""

    created_at: int = 0
    """Unix time the event was created."""
    size: str | None = None
    """Size of the image."""
    quality: str | None = None
    """Quality of the image."""
    background: str | None = None
    """Background of the image."""
    output_format: str | None = None
    """Format of the image."""
    usage: Usage | None = None
    """Token usage for the whole call."""
    b64_payload: bytes | None = attrs.field(default=None, repr=False)
    """The base64 text as ASCII bytes."""

    def decode(self) -> bytes:
        """The final image file's bytes (``ImageDecodeError`` if missing or damaged)."""
        return _decode_base64(self.b64_payload, "this event")


@attrs.frozen(kw_only=True)
class UnknownStreamEvent(ImageStreamEvent):
    """An event type this version of the client does not know; its JSON is kept as is."""

    data: dict[str, object] = attrs.field(factory=dict)
    """The decoded event JSON."""
