"""``images-async demo``: a tour of the client that needs neither network nor API key.

It starts the emulator in-process on 127.0.0.1, then generates an image, edits it through a
mask, streams a generation with partial images, fans out variations concurrently, and writes
every PNG plus a contact sheet (a grid of the results) into one directory.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from ._async_images import AsyncImages
from ._models import CompletedImageEvent, PartialImageEvent
from ._output import Progress, write_new_file
from ._requests import VariationRequest
from .testing.emulator import Emulator
from .testing.pictures import Pixels, decode_png, resized
from .testing.png import encode_png

DEMO_KEY = "sk-demo-offline"
SHEET_COLUMNS = 8
THUMBNAIL_EDGE = 128
IMAGE_EDGE = 512
SHEET_BACKGROUND = b"\x20\x20\x24"


def centre_mask(edge: int) -> bytes:
    """A mask PNG, opaque except for a transparent square in the middle (the area to edit)."""
    quarter = edge // 4
    opaque, clear = b"\x00\x00\x00\xff", b"\x00\x00\x00\x00"
    plain_row = opaque * edge
    hole_row = opaque * quarter + clear * (edge - 2 * quarter) + opaque * quarter
    rows = [hole_row if quarter <= y < edge - quarter else plain_row for y in range(edge)]
    return encode_png(edge, edge, rows, alpha=True)


def contact_sheet(pictures: list[bytes], columns: int = SHEET_COLUMNS) -> bytes:
    """One PNG showing every picture as a thumbnail, in a grid."""
    thumbnails = [
        resized(decode_png(picture).to_rgb(), THUMBNAIL_EDGE, THUMBNAIL_EDGE)
        for picture in pictures
    ]
    gap = 4
    cell = THUMBNAIL_EDGE + gap
    columns = max(1, min(columns, len(thumbnails)))
    grid_rows = -(-len(thumbnails) // columns)
    width, height = columns * cell + gap, grid_rows * cell + gap
    gap_row = SHEET_BACKGROUND * width
    rows = [gap_row] * gap
    for grid_row in range(grid_rows):
        band = thumbnails[grid_row * columns : (grid_row + 1) * columns]
        for y in range(THUMBNAIL_EDGE):
            pieces = [SHEET_BACKGROUND * gap]
            for thumbnail in band:
                pieces += [thumbnail.rows[y], SHEET_BACKGROUND * gap]
            pieces.append(SHEET_BACKGROUND * (width - sum(len(p) for p in pieces) // 3))
            rows.append(b"".join(pieces))
        rows += [gap_row] * gap
    return Pixels(width=width, height=height, channels=3, rows=tuple(rows)).encode()


async def run_demo(out: Path, *, variations: int, concurrency: int) -> int:
    """Run the tour, write the files into ``out`` and print a summary; returns 0."""
    started = time.monotonic()
    saved: list[Path] = []
    pictures: list[bytes] = []

    def keep(stem: str, picture: bytes) -> None:
        saved.append(write_new_file(out, stem, "png", picture))
        pictures.append(picture)

    async with (
        Emulator() as emulator,
        AsyncImages(api_key=DEMO_KEY, base_url=emulator.base_url) as images,
    ):
        print(f"emulator on {emulator.base_url}; writing into {out}/")
        prompt = "a lighthouse on a cliff at dusk"
        generated = await images.generate(prompt=prompt, model="gpt-image-1", size="1024x1024")
        original = generated.data[0].decode()
        keep("1-generated", original)
        print(f"generated    1 image  ({len(original):,} bytes)")

        edited = await images.edit(
            image=("lighthouse.png", original),
            mask=centre_mask(1024),
            prompt="a hot-air balloon in the sky",
            model="gpt-image-1",
        )
        keep("2-edited", edited.data[0].decode())
        print("edited       1 image  through a mask")

        stream = await images.generate(
            prompt="a fox in the snow", model="gpt-image-1", stream=True, partial_images=2
        )
        async with stream:
            async for event in stream:
                if isinstance(event, PartialImageEvent):
                    keep(f"3-stream-partial-{event.partial_image_index + 1}", event.decode())
                elif isinstance(event, CompletedImageEvent):
                    keep("3-stream-final", event.decode())
        print("streamed     1 image  with 2 partial images")

        small = resized(decode_png(original).to_rgb(), IMAGE_EDGE, IMAGE_EDGE).encode()
        requests = [
            VariationRequest(image=(f"seed-{i}.png", small), size="256x256", model="dall-e-2")
            for i in range(variations)
        ]
        progress = Progress(len(requests), "variations")
        fan_out_started = time.monotonic()
        failures = 0
        run = images.run_many(requests, concurrency=concurrency, ordered=True)
        async with contextlib.aclosing(run) as outcomes:
            async for outcome in outcomes:
                progress.advance()
                if outcome.response is None:
                    failures += 1
                    print(f"variation {outcome.index + 1} failed: {outcome.error}")
                    continue
                picture = await images.read_image(outcome.response.data[0])
                keep(f"4-variation-{outcome.index + 1:02d}", picture)
        progress.close()
        # A coarse clock can read no time at all for a tiny fan-out: never divide by zero.
        fan_out_seconds = max(time.monotonic() - fan_out_started, 1e-6)
        print(
            f"fanned out   {variations} variations, {concurrency} at a time, in "
            f"{fan_out_seconds:.2f} s ({variations / fan_out_seconds:.0f} requests/s)"
        )
        requests_made = len(emulator.requests)

    sheet = write_new_file(out, "contact-sheet", "png", contact_sheet(pictures))
    elapsed = time.monotonic() - started
    print(
        f"done: {requests_made} requests, {len(saved)} images and a contact sheet "
        f"({sheet}) in {elapsed:.2f} s"
    )
    return 1 if failures else 0
