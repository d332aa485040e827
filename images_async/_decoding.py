"""Content decoding of response bodies (gzip, deflate), one bounded piece at a time.

aiohttp's own decompression inflates a whole network chunk at once, so a small gzip body can
become hundreds of megabytes before any size check sees it; the transport asks only for the
codings undone here and never inflates more than :data:`DECODED_PIECE_BYTES` at a time.
Pure: no I/O, no aiohttp.
"""

from __future__ import annotations

import zlib

#: The content codings :class:`Inflater` undoes, and so the only ones asked for.
ACCEPT_ENCODING = "gzip, deflate"
#: The most decoded bytes one decoding step yields, however well the body compresses.
DECODED_PIECE_BYTES = 64 * 1024
_CODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


class UnsupportedEncodingError(ValueError):
    """A ``Content-Encoding`` other than one gzip or deflate layer."""


def inflater_for(content_encoding: str) -> Inflater | None:
    """The decoder of a ``Content-Encoding`` header value; None when the body is plain.

    Raises :class:`UnsupportedEncodingError` for codings this module cannot undo.
    """
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [coding for coding in codings if coding not in ("", "identity")]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in _CODINGS:
        return Inflater(_CODINGS[codings[0]])
    raise UnsupportedEncodingError(
        f"cannot decode Content-Encoding {content_encoding!r}: only gzip and deflate are supported"
    )


class Inflater:
    """Undoes gzip or deflate in pieces of at most :data:`DECODED_PIECE_BYTES`.

    ``feed`` it a network chunk, then take ``next_piece()`` until it returns None. Corrupt
    data raises :class:`zlib.error`.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._zlib: zlib._Decompress | None = None
        self._pending = b""
        self._more_output = False

    def feed(self, data: bytes) -> None:
        self._pending = data

    def next_piece(self) -> bytes | None:
        """The next decoded piece of what was fed, or None once all of it is decoded."""
        while self._pending or self._more_output:
            inflater = self._current()
            piece = inflater.decompress(self._pending, DECODED_PIECE_BYTES)
            self._pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            # A full piece can leave output inside zlib even when no input is left.
            self._more_output = len(piece) == DECODED_PIECE_BYTES and not inflater.eof
            if piece:
                return piece
        return None

    def finish(self) -> None:
        if self._zlib is not None and not self._zlib.eof:
            raise zlib.error("the compressed data ends early")

    def _current(self) -> zlib._Decompress:
        if self._zlib is not None and not self._zlib.eof:
            return self._zlib
        if self._zlib is not None and self.coding != "gzip":
            raise zlib.error("data after the end of the compressed data")
        # A gzip body may hold several members, each one decoded in turn.
        if self.coding == "gzip":
            wbits = 16 + zlib.MAX_WBITS
        else:
            # HTTP's deflate is zlib-wrapped, whose first byte names method 8 in its low
            # nibble; some servers send raw deflate instead (aiohttp accepts both too).
            wbits = zlib.MAX_WBITS if self._pending[0] & 0x0F == 8 else -zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(wbits)
        return self._zlib
