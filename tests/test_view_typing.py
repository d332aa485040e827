"""The views' methods are declared, so type checkers check every argument.

The block under ``TYPE_CHECKING`` is never run: mypy checks it with the rest of the tests
(``strict`` includes ``warn_unused_ignores``), so each ``# type: ignore[...]`` below is an
assertion that the line is an error, and each ``assert_type`` one about the result type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from images_async import AsyncImages, Images

if TYPE_CHECKING:
    from typing_extensions import assert_type

    from images_async import (
        RawResponse,
        RawResponseContext,
        StreamingResponseContext,
        SyncStreamedResponse,
    )

    def _checked(images: Images, async_images: AsyncImages) -> None:
        raw, streaming = images.with_raw_response, images.with_streaming_response
        assert_type(raw.generate(prompt="p"), RawResponse)
        assert_type(raw.edit(image=b"", prompt="p", stream=True), RawResponse)
        assert_type(streaming.create_variation(image=b""), SyncStreamedResponse)
        raw.generate(prompt="p", bogus=1)  # type: ignore[call-arg]
        raw.generate()  # type: ignore[call-arg]
        streaming.edit(image=b"", prompt=1)  # type: ignore[arg-type]
        araw, astreaming = async_images.with_raw_response, async_images.with_streaming_response
        assert_type(araw.generate(prompt="p"), RawResponseContext)
        assert_type(astreaming.edit(image=b"", prompt="p"), StreamingResponseContext)
        araw.create_variation(image=b"", quality="hd")  # type: ignore[call-arg]
        astreaming.generate(prompt="p", n="2")  # type: ignore[arg-type]


ARGUMENTS: dict[str, dict[str, object]] = {
    "generate": {"prompt": "p"},
    "edit": {"image": b"", "prompt": "p"},
    "create_variation": {"image": b""},
}


@pytest.fixture
def clients() -> Iterator[tuple[AsyncImages, Images]]:
    """An AsyncImages and an Images that never send anything."""
    async_images = AsyncImages(api_key="sk-dummy")
    with Images(api_key="sk-dummy") as images:
        yield async_images, images
    asyncio.run(async_images.aclose())


@pytest.mark.parametrize("view", ["with_raw_response", "with_streaming_response"])
@pytest.mark.parametrize("method", ["generate", "edit", "create_variation"])
def test_an_unknown_argument_fails_at_the_call(
    clients: tuple[AsyncImages, Images], view: str, method: str
) -> None:
    """As with the client's own methods, nothing is sent (nor a context made)."""
    for client in clients:
        call: Any = getattr(getattr(client, view), method)
        with pytest.raises(TypeError, match="bogus"):
            call(**ARGUMENTS[method], bogus=1)
