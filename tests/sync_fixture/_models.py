"""The values the fixture client returns: a widget and an async stream of its parts."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Widget:
    """One widget."""

    id: int
    size: int
    label: str = ""
    verbose: bool = False


class Stream:
    """Async iterator over the parts of a widget (the sync runtime wraps it in SyncStream)."""

    def __init__(self, parts: list[int]) -> None:
        self._parts = iter(parts)

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> int:
        try:
            return next(self._parts)
        except StopIteration:
            raise StopAsyncIteration from None
