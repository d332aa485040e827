"""An images JSON body taken apart as it arrives: the base64 payloads, and everything else.

:class:`BodySplitter` is fed the body chunk by chunk, cut anywhere. Every ``"b64_json"``
string value is handed out in pieces (:class:`PayloadPiece`) as soon as its bytes arrive,
and replaced in the kept *skeleton* by a marker naming its index (:func:`payload_marker`),
so the skeleton stays valid JSON and is small however large the images are.
:class:`Base64Pieces` decodes such pieces in 4-byte groups as strictly as
``Image.decode()`` decodes a whole payload. Pure: no I/O.

A payload is never left in place for ``json.loads`` (as the in-memory parser of
:mod:`._converter` leaves one with escapes): its escaped ``/`` (``\\/``) is undone here, and
any other escape is passed on as it is, to fail as malformed base64.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
from typing import NamedTuple

_B64_KEY = b"b64_json"
_WHITESPACE = b" \t\r\n"
#: Where a JSON string (entered at its opening quote) may end, or escape a character.
_STRING_STOP = re.compile(rb'["\\]')

# The scanner's states: outside any string; inside one; right after a backslash in one;
# after a ``"b64_json"`` string (before the colon that makes it a key); after that colon;
# inside a payload; right after a backslash in one.
_OUTSIDE, _STRING, _ESCAPE, _AFTER_KEY, _AFTER_COLON, _PAYLOAD, _PAYLOAD_ESCAPE = range(7)


if sys.version_info >= (3, 11):

    def _strict_b64decode(text: bytes | memoryview) -> bytes:
        # As Image.decode() decodes (see _models), here on views of network chunks.
        return binascii.a2b_base64(text, strict_mode=True)

else:  # Python 3.10 has no strict_mode: its b64decode(validate=True), as Image.decode()

    def _strict_b64decode(text: bytes | memoryview) -> bytes:
        return base64.b64decode(text, validate=True)


def payload_marker(value: object) -> int | None:
    """The payload index a skeleton's ``b64_json`` value names, or None if it names none.

    A marker is a string: a NUL and the index. Every string the server put in that place
    was cut out, so a server's own value (a number, null) is never taken for a marker.
    """
    if isinstance(value, str) and value[:1] == "\x00" and value[1:].isdigit():
        return int(value[1:])
    return None


class PayloadPiece(NamedTuple):
    """A run of one payload's base64 text, in body order."""

    payload: int
    """Which payload (0, 1, ... in body order): the number left in the skeleton."""
    text: bytes
    """The base64 text (possibly empty)."""
    last: bool
    """Whether the payload's closing quote came right after this piece."""


class BodySplitter:
    """Feed it the body in chunks; it yields payload pieces and keeps the rest.

    The skeleton (:meth:`skeleton`) is the body with each ``"b64_json": "..."`` value
    replaced by the payload's marker. A body that ends inside a payload or a string leaves a
    skeleton that is not valid JSON, so parsing it reports the truncation.
    """

    def __init__(self) -> None:
        self._skeleton = bytearray()
        self._state = _OUTSIDE
        self._string_start = 0
        self._payloads = 0

    def skeleton(self) -> bytes:
        """The body without its payloads, as far as it was fed."""
        return bytes(self._skeleton)

    def feed(self, chunk: bytes) -> list[PayloadPiece]:
        """The payload pieces ``chunk`` holds; the rest of it goes to the skeleton."""
        pieces: list[PayloadPiece] = []
        position = 0
        while position < len(chunk):
            if self._state in (_PAYLOAD, _PAYLOAD_ESCAPE):
                position = self._payload(chunk, position, pieces)
            elif self._state == _OUTSIDE:
                position = self._outside(chunk, position)
            elif self._state in (_STRING, _ESCAPE):
                position = self._string(chunk, position)
            else:
                position = self._after_key(chunk, position)
        return pieces

    def _payload(self, chunk: bytes, position: int, pieces: list[PayloadPiece]) -> int:
        if self._state == _PAYLOAD_ESCAPE:  # a backslash ended the previous chunk
            escaped = chunk[position : position + 1]
            text = escaped if escaped == b"/" else b"\\" + escaped
            pieces.append(PayloadPiece(self._payloads, text, False))
            self._state = _PAYLOAD
            return position + 1
        # Base64 holds no quotes: the payload ends at the next one (an escaped quote would
        # be malformed base64 anyway, and its backslash fails when decoded).
        closing = chunk.find(b'"', position)
        end = len(chunk) if closing < 0 else closing
        text = chunk[position:end]  # the whole chunk, most of the time: no copy
        if b"\\" in text:
            if closing < 0 and text.endswith(b"\\") and not text.endswith(b"\\\\"):
                text = text[:-1]  # what it escapes comes with the next chunk
                self._state = _PAYLOAD_ESCAPE
            # JSON may escape "/" (some encoders always do); any other escape is kept as
            # it is, which no base64 decoder accepts.
            text = text.replace(b"\\/", b"/")
        pieces.append(PayloadPiece(self._payloads, text, closing >= 0))
        if closing < 0:
            return len(chunk)
        self._skeleton += b'"\\u0000%d"' % self._payloads
        self._payloads += 1
        self._state = _OUTSIDE
        return closing + 1

    def _outside(self, chunk: bytes, position: int) -> int:
        opening = chunk.find(b'"', position)
        if opening < 0:
            self._skeleton += chunk[position:]
            return len(chunk)
        self._skeleton += chunk[position : opening + 1]
        self._string_start = len(self._skeleton)
        self._state = _STRING
        return opening + 1

    def _string(self, chunk: bytes, position: int) -> int:
        if self._state == _ESCAPE:  # the escaped character, whatever it is
            self._skeleton += chunk[position : position + 1]
            self._state = _STRING
            return position + 1
        stop = _STRING_STOP.search(chunk, position)
        if stop is None:
            self._skeleton += chunk[position:]
            return len(chunk)
        end = stop.start()
        self._skeleton += chunk[position : end + 1]
        if chunk[end] == ord("\\"):
            self._state = _ESCAPE
        elif (
            len(self._skeleton) - 1 - self._string_start == len(_B64_KEY)
            and self._skeleton[self._string_start : -1] == _B64_KEY
        ):
            self._state = _AFTER_KEY
        else:
            self._state = _OUTSIDE
        return end + 1

    def _after_key(self, chunk: bytes, position: int) -> int:
        byte = chunk[position]
        if byte in _WHITESPACE:
            self._skeleton.append(byte)
        elif self._state == _AFTER_KEY and byte == ord(":"):
            self._skeleton.append(byte)
            self._state = _AFTER_COLON
        elif self._state == _AFTER_COLON and byte == ord('"'):
            self._state = _PAYLOAD  # the quote is not kept: the marker stands for the string
        else:
            self._state = _OUTSIDE  # "b64_json" was a value, or its value is not a string
            return position  # this byte is looked at again, outside
        return position + 1


class Base64Pieces:
    """Strict base64 decoding of a payload that arrives in pieces cut anywhere.

    Each :meth:`feed` decodes the whole 4-character groups it completes; :meth:`finish`
    decodes the rest. Anything ``binascii.a2b_base64(strict_mode=True)`` refuses in the
    whole payload raises :class:`binascii.Error` here too, padding in the middle included.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._decoded = False
        self._padded = False
        self._only_padding_left = False

    def feed(self, text: bytes) -> list[bytes]:
        """The decoded bytes of the whole groups ``text`` completes, in pieces."""
        decoded: list[bytes] = []
        view = memoryview(text)  # slices of a view copy nothing: a piece is a network chunk
        if self._pending:
            needed = 4 - len(self._pending)
            self._pending += bytes(view[:needed])
            if len(self._pending) < 4:
                return decoded
            decoded.append(self._decode(self._pending))
            view = view[needed:]
        whole = len(view) - len(view) % 4
        self._pending = bytes(view[whole:])
        if whole:
            decoded.append(self._decode(view[:whole]))
        return decoded

    def finish(self) -> list[bytes]:
        """The bytes of what is left; raises :class:`binascii.Error` if that is no group."""
        pending, self._pending = self._pending, b""
        return [self._decode(pending)] if pending else []

    def _decode(self, group: bytes | memoryview) -> bytes:
        if self._decoded and not self._padded and _all_padding(group):
            # The strict decoder accepts any run of "=" after whole unpadded groups
            # ("AAAA==="), and nothing else after it: so does this one.
            self._only_padding_left = True
            return b""
        if self._padded or self._only_padding_left:
            raise binascii.Error("Excess data after padding")
        self._padded = group[-1] == ord("=")
        self._decoded = True
        return _strict_b64decode(group)


def _all_padding(group: bytes | memoryview) -> bool:
    # The first byte rules out almost every group before any copy is made.
    return group[0] == ord("=") and bytes(group).count(b"=") == len(group)
