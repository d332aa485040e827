"""Arithmetic on whole rows of pixel bytes, for decoding and drawing without per-pixel loops.

This module owns the speed trick the emulator's pictures rely on: a row of bytes is read as
one big integer, so one integer operation adds, averages or selects every byte of the row
(SWAR, "SIMD within a register"), and rows that are the same object are converted once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["RowArithmetic", "map_rows"]


class RowArithmetic:
    """Byte-wise arithmetic on rows of ``length`` bytes, one big-integer operation at a time."""

    def __init__(self, length: int) -> None:
        self.length: int = length
        self.low7: int = int.from_bytes(b"\x7f" * length, "big")
        self.high: int = int.from_bytes(b"\x80" * length, "big")

    def _add(self, a: int, b: int) -> int:
        # The low 7 bits of two bytes never carry into the next byte; the top bit is the
        # XOR of both top bits and the carry that landed in it.
        return ((a & self.low7) + (b & self.low7)) ^ ((a ^ b) & self.high)

    def add(self, a: bytes, b: bytes) -> bytes:
        """``(a[i] + b[i]) % 256`` for every byte."""
        total = self._add(int.from_bytes(a, "big"), int.from_bytes(b, "big"))
        return total.to_bytes(self.length, "big")

    def prefix_sum(self, line: bytes, bpp: int) -> bytes:
        """Undo the Sub filter: a running sum per channel, by doubling steps."""
        value = int.from_bytes(line, "big")
        step = bpp
        while step < self.length:
            value = self._add(value, value >> (8 * step))  # shifts bytes to later positions
            step *= 2
        return value.to_bytes(self.length, "big")

    def average(self, a: bytes, b: bytes) -> bytes:
        """``(a[i] + b[i]) // 2`` for every byte."""
        x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
        mean = (x & y) + (((x ^ y) >> 1) & self.low7)
        return mean.to_bytes(self.length, "big")

    def select(self, chosen: bytes, other: bytes, selector: bytes) -> bytes:
        """``chosen[i]`` where ``selector[i]`` is 0xFF, else ``other[i]``."""
        mask = int.from_bytes(selector, "big")
        picked = int.from_bytes(chosen, "big") & mask
        kept = int.from_bytes(other, "big") & ~mask
        return (picked | kept).to_bytes(self.length, "big")


def map_rows(rows: Sequence[bytes], convert: Callable[[bytes], bytes]) -> tuple[bytes, ...]:
    """Apply ``convert`` once per distinct row object: patterns share rows."""
    done: dict[int, bytes] = {}
    result = []
    for row in rows:
        converted = done.get(id(row))
        if converted is None:
            converted = done[id(row)] = convert(row)
        result.append(converted)
    return tuple(result)
