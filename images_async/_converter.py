"""Wire format: JSON bodies and server-sent events into models, through a private converter.

All wire knowledge lives here: the ``b64_json`` -> ``b64_payload`` rename, which event type
maps to which class, and the fast path for large bodies. An image response is mostly base64
text; parsing it with ``json.loads`` would copy every payload bytes -> str -> str, and
decoding would copy it again. Instead the body stays the chunks it arrived in; each payload
is cut out of them as bytes (one copy, each chunk dropped once copied from), a small
skeleton goes to ``json.loads``, and the payloads are decoded only when a caller asks for
the image bytes.
"""

from __future__ import annotations

import bisect
import io
import json
import types
import typing
from collections.abc import Callable, Iterator, Mapping
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
    converter.register_structure_hook_factory(
        _is_optional, lambda type_: _structure_optional(type_, converter)
    )
    return converter


def _is_optional(type_: Any) -> bool:
    arguments = typing.get_args(type_)
    return (
        typing.get_origin(type_) in (typing.Union, types.UnionType)
        and len(arguments) == 2
        and type(None) in arguments
    )


def _structure_optional(type_: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """cattrs' handling of ``X | None``, with the hook for ``X`` looked up once: cattrs looks
    it up again for every value, a good part of parsing a small response."""
    (inner,) = (argument for argument in typing.get_args(type_) if argument is not type(None))
    # The hook cattrs itself would use (cattrs < 24 has no public get_structure_hook).
    dispatch = typing.cast(
        Callable[[Any], Callable[[Any, Any], Any]], converter._structure_func.dispatch
    )
    structure_inner = dispatch(inner)

    def hook(value: Any, _type: Any) -> Any:
        return None if value is None else structure_inner(value, inner)

    return hook


def _structure_from_objects_only(
    cls: type[_T], converter: cattrs.Converter
) -> Callable[[Any, Any], _T]:
    """cattrs' hook for ``cls``, refusing non-objects.

    cattrs alone builds a model from any value that supports ``in`` ("a string", a list),
    silently giving every field its default.
    """
    structure = cattrs.gen.make_dict_structure_fn(cls, converter)

    def hook(value: Any, type_: Any) -> _T:
        if type(value) is not dict and not isinstance(value, Mapping):  # dict: the fast check
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


class _ChunkedBody:
    """A body kept as the chunks it arrived in, read by absolute position.

    Nothing is joined: searches run chunk by chunk (a match may straddle chunks), and a
    range is copied out once. :meth:`copy_releasing` drops each chunk it is done with, so a
    payload being copied out and the chunks it comes from are not all held at once.
    """

    __slots__ = ("_chunks", "_starts", "size")

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = [chunk for chunk in chunks if chunk]
        self._starts: list[int] = []
        size = 0
        for chunk in self._chunks:
            self._starts.append(size)
            size += len(chunk)
        self.size = size

    def _index(self, position: int) -> int:
        return bisect.bisect_right(self._starts, position) - 1

    def byte_at(self, position: int) -> int:
        index = self._index(position)
        return self._chunks[index][position - self._starts[index]]

    def find(self, needle: bytes, start: int, end: int | None = None) -> int:
        """The first position of ``needle`` in ``[start, end)``, or -1."""
        end = self.size if end is None else end
        if start >= end:
            return -1
        first = self._index(start)
        for index in range(first, len(self._chunks)):
            chunk_start = self._starts[index]
            if chunk_start >= end:
                break
            if index > first and len(needle) > 1:
                # A match straddling the boundary starts before any match inside this chunk.
                window_start = max(start, chunk_start - len(needle) + 1)
                window = self.copy(window_start, min(end, chunk_start + len(needle) - 1))
                if (found := window.find(needle)) >= 0:
                    return window_start + found
            chunk = self._chunks[index]
            found = chunk.find(needle, max(start - chunk_start, 0), end - chunk_start)
            if found >= 0:
                return chunk_start + found
        return -1

    def _pieces(self, start: int, end: int) -> Iterator[tuple[int, memoryview]]:
        index = self._index(start)
        while start < end:
            chunk_start = self._starts[index]
            chunk = self._chunks[index]
            stop = min(end, chunk_start + len(chunk))
            yield index, memoryview(chunk)[start - chunk_start : stop - chunk_start]
            start = stop
            index += 1

    def copy(self, start: int, end: int) -> bytes:
        """The bytes of ``[start, end)``: one copy, none for one whole chunk."""
        index = self._index(start) if start < end else -1
        if index >= 0 and end <= self._starts[index] + len(self._chunks[index]):
            local = start - self._starts[index]
            return self._chunks[index][local : end - start + local]  # a whole chunk: no copy
        return b"".join([piece for _, piece in self._pieces(start, end)])

    def copy_releasing(self, start: int, end: int) -> bytes:
        """:meth:`copy`, dropping each chunk that ends inside the range once copied from."""
        index = self._index(start) if start < end else -1
        if index < 0 or end <= self._starts[index] + len(self._chunks[index]):
            return self.copy(start, end)
        # Grown piece by piece as the chunks go (sized up front, it would be held together
        # with all of them); BytesIO hands its buffer over without copying it again.
        buffer = io.BytesIO()
        for index, piece in self._pieces(start, end):
            buffer.write(piece)
            piece.release()
            if self._starts[index] + len(self._chunks[index]) < end:
                self._chunks[index] = b""
        return buffer.getvalue()


class _OneChunk:
    """A body that arrived in one piece (most small ones): :class:`_ChunkedBody`'s
    interface straight on the ``bytes``, at no cost per call."""

    __slots__ = ("_body", "byte_at", "find", "size")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.byte_at: Callable[[int], int] = body.__getitem__
        self.find: Callable[..., int] = body.find
        self.size = len(body)

    def copy(self, start: int, end: int) -> bytes:
        return self._body[start:end]

    copy_releasing = copy  # the caller holds the body anyway


def _skip_whitespace(body: _ChunkedBody | _OneChunk, position: int) -> int:
    while position < body.size and body.byte_at(position) in _JSON_WHITESPACE:
        position += 1
    return position


def _split_chunks(chunks: list[bytes]) -> tuple[bytes, list[bytes]]:
    """:func:`split_base64_payloads` of the body the chunks make, in order.

    Takes the chunks over (the list is emptied) and drops each one as soon as everything
    in it was copied out, so the body and its payloads are never all held at once.
    """
    body = _OneChunk(chunks[0]) if len(chunks) == 1 else _ChunkedBody(chunks)
    chunks.clear()
    skeleton: list[bytes] = []
    payloads: list[bytes] = []
    copied_up_to = 0
    search_from = 0
    while (key := body.find(_B64_KEY, search_from)) >= 0:
        search_from = key + len(_B64_KEY)
        if key and body.byte_at(key - 1) == _BACKSLASH:
            continue  # the key text sits inside another string
        colon = _skip_whitespace(body, search_from)
        if colon >= body.size or body.byte_at(colon) != _COLON:
            continue
        opening = _skip_whitespace(body, colon + 1)
        if opening >= body.size or body.byte_at(opening) != _QUOTE:
            continue
        closing = body.find(b'"', opening + 1)
        if closing < 0 or body.find(b"\\", opening + 1, closing) >= 0:
            continue
        skeleton.append(body.copy(copied_up_to, opening))
        skeleton.append(str(len(payloads)).encode())
        payloads.append(body.copy_releasing(opening + 1, closing))
        copied_up_to = search_from = closing + 1
    skeleton.append(body.copy(copied_up_to, body.size))
    return b"".join(skeleton), payloads


def split_base64_payloads(body: bytes) -> tuple[bytes, list[bytes]]:
    """Cut every ``"b64_json": "..."`` string out of a JSON body.

    Returns the body with each such value replaced by its index in the returned list, so the
    skeleton stays valid JSON. A value that cannot be cut safely (escapes inside it, an
    unusual layout) is left in place for ``json.loads``; the structuring step accepts both.
    """
    return _split_chunks([body])


def _attach_payload(node: object, payloads: list[bytes]) -> None:
    """Rename ``b64_json`` to ``b64_payload`` in one object, swapping an index for its payload.

    Only where the models have a payload (an image, an event): elsewhere an unknown field is
    ignored by the structuring step anyway, so the document is not walked as a whole.
    """
    if isinstance(node, dict) and "b64_json" in node:
        value = node.pop("b64_json")
        if isinstance(value, int) and not isinstance(value, bool) and payloads:
            value = payloads[value] if 0 <= value < len(payloads) else None
        node["b64_payload"] = value


def _load_json_object(chunks: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    skeleton, payloads = _split_chunks(chunks)
    return _json_object(skeleton), payloads


def _json_object(skeleton: bytes) -> dict[str, Any]:
    try:
        document = json.loads(skeleton)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResponseShapeError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ResponseShapeError(f"expected a JSON object, got {type(document).__name__}")
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
    return parse_images_chunks([body])


def parse_images_chunks(chunks: list[bytes]) -> ImagesResponse:
    """:func:`parse_images_response` of the body ``chunks`` make; empties the list.

    Each payload is copied out of the chunks once, and a chunk is dropped once copied from:
    the body is never joined.
    """
    document, payloads = _load_json_object(chunks)
    for image in _images_of(document):
        _attach_payload(image, payloads)
    return _structure(document, ImagesResponse)


def _images_of(document: dict[str, Any]) -> list[Any]:
    """The ``data`` list of an images response document (``null`` taken as no images)."""
    data = document.get("data")
    if "data" in document and data is None:
        document["data"] = data = []
    elif data is not None and not isinstance(data, list):
        # cattrs would build a tuple from any iterable: {} and "" would become no images.
        raise ResponseShapeError(f"ImagesResponse.data: expected a list, got {type(data).__name__}")
    return data or []


def parse_images_skeleton(
    skeleton: bytes, marker: Callable[[object], int | None]
) -> tuple[ImagesResponse, list[int | None]]:
    """An :class:`ImagesResponse` from a body whose ``b64_json`` strings were cut out and
    replaced by markers, and for each of its images the payload index its marker names
    (``marker(value)``, see :mod:`._payload_split`), or None.

    The images come without those payloads; any other ``b64_json`` value is structured as
    usual (a string kept, a number refused). Raises :class:`ResponseShapeError`.
    """
    document = _json_object(skeleton)
    indices: list[int | None] = []
    for image in _images_of(document):
        index = marker(image.get("b64_json")) if isinstance(image, dict) else None
        if index is not None:
            del image["b64_json"]
        else:
            _attach_payload(image, [])
        indices.append(index)
    return _structure(document, ImagesResponse), indices


def parse_stream_event(data: bytes) -> ImageStreamEvent:
    """One server-sent event's ``data`` as the event class its ``type`` names."""
    document, payloads = _load_json_object([data])
    _attach_payload(document, payloads)
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
