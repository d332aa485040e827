"""Drawing and describing the images of an accepted request: the emulator's successful answers.

This module owns what a 200 says. An accepted request becomes a :class:`RenderPlan` (model
family, size, count, quality, format, streaming...), whose pictures are drawn by
:mod:`images_async.testing.pictures`, encoded in the requested format and compression by
:mod:`._image_codec` (dall-e models always answer PNG, as the API does), and described as
the API does: the images body (URLs or base64, ``revised_prompt``, token ``usage``) or the
events of a stream (partial images, then the completed one). Nothing here touches aiohttp;
storing pictures behind URLs is the server's business, handed in as a callable.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from .._endpoints import ENDPOINTS, EndpointName
from .._files import UploadFile
from .._params import ModelRules, parse_size
from . import pictures
from ._image_codec import OutputFormat, encode_picture
from ._pillow import Image
from ._validation import AcceptedRequest, family_of

__all__ = ["RenderPlan", "draw_all", "images_body", "plan_images", "stream_events", "usage"]

# Sizes the spec's response schemas can name; others are left out of responses.
_RESPONSE_SIZES = frozenset({"1024x1024", "1024x1536", "1536x1024"})
_OUTPUT_FORMATS: Mapping[str, OutputFormat] = {"png": "png", "jpeg": "jpeg", "webp": "webp"}
# Output tokens of one 1024x1024 image per quality (gpt-image-1's published table); other
# sizes scale with their area.
_OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
# The largest picture any model draws (gpt-image-2's 3840x2160). An unchecked emulator
# (validate=False) takes any WIDTHxHEIGHT; one past these, or with an empty edge, is drawn
# at the default size instead of allocating gigabytes.
_MAX_EDGE = 3840
_MAX_PIXELS = 3840 * 2160


@attrs.frozen(kw_only=True)
class RenderPlan:
    """An accepted request, reduced to what drawing and describing its images needs."""

    endpoint: EndpointName
    family: str
    """The known model whose behaviour the requested one gets (itself, when known)."""
    gpt: bool
    prompt: str
    n: int
    width: int
    height: int
    quality: str
    background: str
    output_format: OutputFormat
    """What the pictures are encoded as: always ``png`` for dall-e models."""
    output_compression: int | None
    requested_background: str
    """``background`` as asked (``auto`` when not): whether an edit keeps its alpha."""
    url_mode: bool
    stream: bool
    partial_images: int
    style: str
    images: tuple[UploadFile, ...] = ()
    mask: UploadFile | None = None

    @property
    def size_label(self) -> str:
        """``WIDTHxHEIGHT``."""
        return f"{self.width}x{self.height}"


def _output_size(
    params: Mapping[str, object], rules: ModelRules, images: Sequence[UploadFile]
) -> tuple[int, int]:
    size = params.get("size")
    if isinstance(size, str) and (dimensions := parse_size(size)) and _drawable(*dimensions):
        return dimensions
    first = images[0].info if images else None
    if not rules.gpt_options or first is None or not first.width:
        return 1024, 1024
    width, height = first.width, first.height or first.width
    if f"{width}x{height}" in rules.sizes:
        return width, height
    if width > height * 1.2:
        return 1536, 1024
    return (1024, 1536) if height > width * 1.2 else (1024, 1024)


def _drawable(width: int, height: int) -> bool:
    return 0 < width <= _MAX_EDGE and 0 < height <= _MAX_EDGE and width * height <= _MAX_PIXELS


def plan_images(accepted: AcceptedRequest, endpoint: EndpointName) -> RenderPlan:
    """What to draw for ``accepted``, with the defaults the API applies filled in."""
    params = accepted.params

    def text(name: str, default: str) -> str:
        value = params.get(name)
        return value if isinstance(value, str) else default

    def number(name: str, default: int) -> int:
        value = params.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    rules = family_of(text("model", ENDPOINTS[endpoint].default_model))
    quality = text("quality", "auto")
    width, height = _output_size(params, rules, accepted.images)
    gpt = rules.gpt_options
    output_format = text("output_format", "png") if gpt else "png"
    compression = params.get("output_compression")
    return RenderPlan(
        endpoint=endpoint,
        family=rules.name,
        gpt=gpt,
        prompt=text("prompt", ""),
        n=min(max(number("n", 1), 1), 10),
        width=width,
        height=height,
        quality=quality if quality in _OUTPUT_TOKENS else "high",
        background="transparent" if params.get("background") == "transparent" else "opaque",
        output_format=_OUTPUT_FORMATS.get(output_format, "png"),
        output_compression=compression if isinstance(compression, int) else None,
        requested_background=text("background", "auto"),
        url_mode=not gpt and text("response_format", "url") == "url",
        stream=params.get("stream") is True,
        partial_images=min(max(number("partial_images", 0), 0), 3),
        style=text("style", "vivid"),
        images=accepted.images,
        mask=accepted.mask,
    )


def _draw(plan: RenderPlan, index: int) -> Image.Image:
    quality = plan.quality if plan.gpt else "high"
    if plan.endpoint == "edit" and plan.images:
        first = plan.images[0]
        edited = pictures.edited_picture(
            first.content,
            plan.prompt,
            plan.width,
            plan.height,
            mask=plan.mask.content if plan.mask else None,
            index=index,
            count=plan.n,
            quality=quality,
        )
        keep_alpha = plan.requested_background == "transparent" or (
            bool(first.info and first.info.has_alpha) and plan.requested_background != "opaque"
        )
        return edited if keep_alpha else edited.convert("RGB")
    if plan.endpoint == "variation" and plan.images:
        return pictures.variation_picture(
            plan.images[0].content, plan.width, plan.height, index=index
        )
    return pictures.generated_picture(
        plan.prompt,
        plan.width,
        plan.height,
        index=index,
        count=plan.n,
        quality=quality,
        transparent=plan.gpt and plan.background == "transparent",
    )


def draw_all(plan: RenderPlan) -> list[tuple[bytes, list[bytes]]]:
    """Each image, encoded as the plan says, with its partial images (only for streams)."""

    def encoded(picture: Image.Image) -> bytes:
        return encode_picture(picture, plan.output_format, compression=plan.output_compression)

    drawn = []
    for index in range(plan.n):
        final = _draw(plan, index)
        count = plan.partial_images if plan.stream else 0
        partials = [encoded(partial) for partial in pictures.partial_pictures(final, count)]
        drawn.append((encoded(final), partials))
    return drawn


def usage(plan: RenderPlan) -> dict[str, object]:
    """The token ``usage`` the API reports for ``plan`` (GPT image models only)."""
    text_tokens = max(1, math.ceil(len(plan.prompt) / 4))
    image_tokens = 0
    for upload in plan.images:
        width = (upload.info.width if upload.info else None) or 1024
        height = (upload.info.height if upload.info else None) or 1024
        tiles = min(math.ceil(width / 512) * math.ceil(height / 512), 16)
        image_tokens += 65 + 129 * tiles
    per_image = round(_OUTPUT_TOKENS[plan.quality] * plan.width * plan.height / (1024 * 1024))
    output_tokens = per_image * (1 if plan.stream else plan.n)
    input_tokens = text_tokens + image_tokens
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
        "output_tokens_details": {"image_tokens": output_tokens, "text_tokens": 0},
    }


def _revised_prompt(plan: RenderPlan, index: int) -> str:
    description = pictures.describe_picture(plan.prompt, index=index)
    return f"{plan.prompt.rstrip('. ')}. A {plan.style} image showing {description}."


def _sse(event: Mapping[str, object]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def stream_events(plan: RenderPlan, drawn: list[tuple[bytes, list[bytes]]]) -> tuple[bytes, ...]:
    """The encoded ``text/event-stream`` events: each image's partials, then its completion."""
    prefix = "image_generation" if plan.endpoint == "generate" else "image_edit"
    common = {
        "size": plan.size_label if plan.size_label in _RESPONSE_SIZES else "auto",
        "quality": plan.quality,
        "background": plan.background,
        "output_format": plan.output_format,
    }
    events: list[bytes] = []
    for final, partials in drawn:
        for index, partial in enumerate(partials):
            events.append(
                _sse(
                    {
                        "type": f"{prefix}.partial_image",
                        "b64_json": base64.b64encode(partial).decode("ascii"),
                        "created_at": int(time.time()),
                        **common,
                        "partial_image_index": index,
                    }
                )
            )
        events.append(
            _sse(
                {
                    "type": f"{prefix}.completed",
                    "b64_json": base64.b64encode(final).decode("ascii"),
                    "created_at": int(time.time()),
                    **common,
                    "usage": usage(plan),
                }
            )
        )
    return tuple(events)


def images_body(
    plan: RenderPlan, drawn: list[tuple[bytes, list[bytes]]], store: Callable[[bytes], str]
) -> dict[str, object]:
    """The JSON body of a non-streamed answer; ``store`` keeps a picture, giving its URL."""
    data: list[dict[str, str]] = []
    for index, (picture, _partials) in enumerate(drawn):
        if plan.url_mode:
            item = {"url": store(picture)}
        else:
            item = {"b64_json": base64.b64encode(picture).decode("ascii")}
        if plan.family == "dall-e-3":
            item["revised_prompt"] = _revised_prompt(plan, index)
        data.append(item)
    body: dict[str, object] = {"created": int(time.time()), "data": data}
    if plan.gpt:
        body.update(
            background=plan.background,
            output_format=plan.output_format,
            quality=plan.quality,
            usage=usage(plan),
        )
        if plan.size_label in _RESPONSE_SIZES:
            body["size"] = plan.size_label
    return body
