"""Server-sent events: lines of a body joined into one block per event (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class SSEBlock(NamedTuple):
    """One server-sent event: its ``event:`` name ("" if none) and its joined data."""

    name: str
    data: bytes


def sse_blocks(lines: Iterable[bytes]) -> list[SSEBlock]:
    parser = SSEParser()
    blocks = [block for line in lines if (block := parser.feed(line)) is not None]
    if (last := parser.feed(b"")) is not None:
        blocks.append(last)
    return blocks


class SSEParser:
    """Joins ``data:`` lines into one payload per event, with its ``event:`` name.

    The rest of SSE (ids, retry, comments) is not used.
    """

    def __init__(self) -> None:
        self._name = ""
        self._data: list[bytes] = []

    def feed(self, line: bytes) -> SSEBlock | None:
        """Feed one line without its ending; returns an event when one completes."""
        if not line:
            name, data, self._name, self._data = self._name, self._data, "", []
            return SSEBlock(name, b"\n".join(data)) if data else None
        if line.startswith(b"data:"):
            self._data.append(_field_value(line[5:]))
        elif line.startswith(b"event:"):
            self._name = _field_value(line[6:]).decode("utf-8", "replace")
        return None


def _field_value(value: bytes) -> bytes:
    return value[1:] if value.startswith(b" ") else value
