"""Wire format: JSON bodies and server-sent events into models, through a private converter.

All wire knowledge lives here: the ``b64_json`` -> ``b64_payload`` rename, which event type
maps to which class, and the fast path for large bodies. An image response is mostly base64
text; parsing it with ``json.loads`` would copy every payload bytes -> str -> str, and
decoding would copy it again. Instead :func:`split_base64_payloads` cuts each payload out of
the body as bytes (one copy), hands a small skeleton to ``json.loads``, and the payloads are
decoded only when a caller asks for the image bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
import cattrs.gen

from ._models import (
    CompletedImageEvent,
    ImagesResponse,
    ImageStreamEvent,
    PartialImageEvent,
    UnknownStreamEvent,
)

_T = TypeVar("_T")

_B64_KEY = b'"b64_json"'
_JSON_WHITESPACE = b" \t\r\n"
_QUOTE = ord('"')
_BACKSLASH = ord("\\")
_COLON = ord(":")


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False)
    # Payloads are already bytes; the default hook would copy them with bytes(value).
    converter.register_structure_hook(bytes, _structure_bytes)
    converter.register_structure_hook_factory(
        attrs.has, lambda cls: _structure_from_objects_only(cls, converter)
    )
    return converter


def _structure_from_objects_only(
    cls: type[_T], converter: cattrs.Converter
) -> Callable[[Any, Any], _T]:
    """cattrs' hook for ``cls``, refusing non-objects.

    cattrs alone builds a model from any value that supports ``in`` ("a string", a list),
    silently giving every field its default.
    """
    structure = cattrs.gen.make_dict_structure_fn(cls, converter)

    def hook(value: Any, type_: Any) -> _T:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a JSON object, got {type(value).__name__}")
        return structure(value, type_)

    return hook


def _structure_bytes(value: object, _type: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("ascii")
    raise TypeError(f"expected base64 text, got {type(value).__name__}")


_converter = _make_converter()


class ResponseShapeError(ValueError):
    """A body that is not the JSON shape the API documents."""


def _skip_whitespace(body: bytes, position: int) -> int:
    while position < len(body) and body[position] in _JSON_WHITESPACE:
        position += 1
    return position


def split_base64_payloads(body: bytes) -> tuple[bytes, list[bytes]]:
    """Cut every ``"b64_json": "..."`` string out of a JSON body.

    Returns the body with each such value replaced by its index in the returned list, so the
    skeleton stays valid JSON. A value that cannot be cut safely (escapes inside it, an
    unusual layout) is left in place for ``json.loads``; the structuring step accepts both.
    """
    view = memoryview(body)
    pieces: list[bytes | memoryview] = []
    payloads: list[bytes] = []
    copied_up_to = 0
    search_from = 0
    while (key := body.find(_B64_KEY, search_from)) >= 0:
        search_from = key + len(_B64_KEY)
        if key and body[key - 1] == _BACKSLASH:
            continue  # the key text sits inside another string
        colon = _skip_whitespace(body, search_from)
        if colon >= len(body) or body[colon] != _COLON:
            continue
        opening = _skip_whitespace(body, colon + 1)
        if opening >= len(body) or body[opening] != _QUOTE:
            continue
        closing = body.find(b'"', opening + 1)
        if closing < 0 or body.find(b"\\", opening + 1, closing) >= 0:
            continue
        pieces.append(view[copied_up_to:opening])
        pieces.append(str(len(payloads)).encode())
        payloads.append(body[opening + 1 : closing])
        copied_up_to = search_from = closing + 1
    if not payloads:
        return body, payloads
    pieces.append(view[copied_up_to:])
    return b"".join(pieces), payloads


def _attach_payloads(node: object, payloads: list[bytes]) -> None:
    """Rename ``b64_json`` to ``b64_payload`` in place, swapping indexes for payloads."""
    if isinstance(node, dict):
        if "b64_json" in node:
            value = node.pop("b64_json")
            if isinstance(value, int) and not isinstance(value, bool) and payloads:
                value = payloads[value] if 0 <= value < len(payloads) else None
            node["b64_payload"] = value
        for child in node.values():
            _attach_payloads(child, payloads)
    elif isinstance(node, list):
        for child in node:
            _attach_payloads(child, payloads)


def _load_json_object(body: bytes) -> dict[str, Any]:
    skeleton, payloads = split_base64_payloads(body)
    try:
        document = json.loads(skeleton)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResponseShapeError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ResponseShapeError(f"expected a JSON object, got {type(document).__name__}")
    _attach_payloads(document, payloads)
    return document


def _structure(document: Mapping[str, Any], model: type[_T]) -> _T:
    try:
        return _converter.structure(document, model)
    except cattrs.BaseValidationError as exc:
        problems = "; ".join(cattrs.transform_error(exc, path=model.__name__))
        raise ResponseShapeError(problems) from None
    except (TypeError, ValueError) as exc:
        raise ResponseShapeError(f"{model.__name__}: {exc}") from None


def parse_images_response(body: bytes) -> ImagesResponse:
    """An :class:`ImagesResponse` from a JSON body; raises :class:`ResponseShapeError`."""
    document = _load_json_object(body)
    data = document.get("data")
    if "data" in document and data is None:
        document["data"] = []
    elif data is not None and not isinstance(data, list):
        # cattrs would build a tuple from any iterable: {} and "" would become no images.
        raise ResponseShapeError(f"ImagesResponse.data: expected a list, got {type(data).__name__}")
    return _structure(document, ImagesResponse)


def parse_stream_event(data: bytes) -> ImageStreamEvent:
    """One server-sent event's ``data`` as the event class its ``type`` names."""
    document = _load_json_object(data)
    event_type = document.get("type")
    if not isinstance(event_type, str):
        raise ResponseShapeError("a stream event has no 'type'")
    if event_type.endswith(".partial_image"):
        return _structure(document, PartialImageEvent)
    if event_type.endswith(".completed"):
        return _structure(document, CompletedImageEvent)
    # Keep the JSON as the server sent it: without the payload splitting and renaming.
    return UnknownStreamEvent(type=event_type, data=json.loads(data))


def response_to_json(response: ImagesResponse) -> dict[str, Any]:
    """The response as the API's JSON shape again (for printing and saving)."""
    document: dict[str, Any] = _converter.unstructure(response)
    for image in document.get("data", []):
        payload = image.pop("b64_payload", None)
        if payload is not None:
            image["b64_json"] = payload.decode("ascii")
    pruned: dict[str, Any] = _prune_none(document)
    return pruned


def _prune_none(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _prune_none(value) for key, value in node.items() if value is not None}
    if isinstance(node, list):
        return [_prune_none(value) for value in node]
    return node
