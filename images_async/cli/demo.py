"""``images-async demo``: a tour of the client that needs neither network nor API key.

It starts the emulator in-process on 127.0.0.1, then generates an image, edits it through a
mask, streams a generation with partial images, fans out variations concurrently, offloads a
small job to the (emulated) Batch API, and writes every PNG plus a contact sheet (a grid of
the results) into one directory.

Where: ``--out DIR`` names a new or empty directory; without it, each run gets the next
``images-async-demo/run-N``. The demo never writes into a directory that holds files, so it
neither overwrites nor piles up copies, and it deletes nothing.
The variations are of many different inputs (windows panning across the tour's pictures),
because the emulator draws the same variation for the same input.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Sequence
from pathlib import Path

from .. import (
    AsyncImages,
    CompletedImageEvent,
    GenerateRequest,
    PartialImageEvent,
    VariationRequest,
)
from ..testing._pillow import Image
from ..testing.emulator import Emulator
from .output import OutputError, output_directory, write_new_file
from .progress import Progress

DEMO_KEY = "sk-demo-offline"
DEMO_ROOT = Path("images-async-demo")
SHEET_COLUMNS = 8
THUMBNAIL_EDGE = 128
#: Pictures are scaled to this edge before windows of ``WINDOW_EDGE`` pan across them.
IMAGE_EDGE = 512
WINDOW_EDGE = 256
SHEET_BACKGROUND = (0x20, 0x20, 0x24)


def next_run_directory(root: Path) -> Path:
    """``root/run-N``, N one above every run already there (the directory is not made)."""
    numbers = [0]
    if root.is_dir():
        for path in root.iterdir():
            if match := re.fullmatch(r"run-(\d+)", path.name):
                numbers.append(int(match[1]))
    return root / f"run-{max(numbers) + 1}"


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _decoded(picture: bytes, edge: int) -> Image.Image:
    with Image.open(io.BytesIO(picture)) as image:
        rgb: Image.Image = image.convert("RGB")
    return rgb.resize((edge, edge), Image.Resampling.BOX)


def centre_mask(edge: int) -> bytes:
    """A mask PNG, opaque except for a transparent square in the middle (the area to edit)."""
    quarter = edge // 4
    mask = Image.new("RGBA", (edge, edge), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (quarter, quarter, edge - quarter, edge - quarter))
    return _png(mask)


def variation_sources(pictures: Sequence[bytes], count: int) -> list[bytes]:
    """``count`` different square PNGs: windows panning diagonally across each picture in
    turn (a diagonal step moves across both horizontal and vertical bands)."""
    if count == 0:
        return []
    canvases = [_decoded(picture, IMAGE_EDGE) for picture in pictures]
    per_canvas = -(-count // len(canvases))
    step = (IMAGE_EDGE - WINDOW_EDGE) / max(per_canvas - 1, 1)
    sources = []
    for index in range(count):
        canvas = canvases[index % len(canvases)]
        offset = round(index // len(canvases) * step)
        window = canvas.crop((offset, offset, offset + WINDOW_EDGE, offset + WINDOW_EDGE))
        sources.append(_png(window))
    return sources


def contact_sheet(pictures: list[bytes], columns: int = SHEET_COLUMNS) -> bytes:
    """One PNG showing every picture as a thumbnail, in a grid."""
    thumbnails = [_decoded(picture, THUMBNAIL_EDGE) for picture in pictures]
    gap = 4
    cell = THUMBNAIL_EDGE + gap
    columns = max(1, min(columns, len(thumbnails)))
    grid_rows = -(-len(thumbnails) // columns)
    sheet = Image.new("RGB", (columns * cell + gap, grid_rows * cell + gap), SHEET_BACKGROUND)
    for number, thumbnail in enumerate(thumbnails):
        row, column = divmod(number, columns)
        sheet.paste(thumbnail, (gap + column * cell, gap + row * cell))
    return _png(sheet)


class _Album:
    """The pictures of the tour, each written to ``out`` as it comes."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.saved: list[Path] = []
        self.pictures: list[bytes] = []

    def keep(self, stem: str, picture: bytes) -> bytes:
        self.saved.append(write_new_file(self.out, stem, "png", picture))
        self.pictures.append(picture)
        return picture


async def _single_calls(images: AsyncImages, album: _Album) -> list[bytes]:
    """Generate, edit and stream one image each; returns the three final pictures."""
    prompt = "a lighthouse on a cliff at dusk"
    generated = await images.generate(prompt=prompt, model="gpt-image-1", size="1024x1024")
    original = album.keep("1-generated", generated.data[0].decode())
    print(f"generated    1 image  ({len(original):,} bytes)")

    edited = await images.edit(
        image=("lighthouse.png", original),
        mask=centre_mask(1024),
        prompt="a hot-air balloon in the sky",
        model="gpt-image-1",
    )
    finals = [original, album.keep("2-edited", edited.data[0].decode())]
    print("edited       1 image  through a mask")

    stream = await images.generate(
        prompt="a fox in the snow", model="gpt-image-1", stream=True, partial_images=2
    )
    async with stream:
        async for event in stream:
            if isinstance(event, PartialImageEvent):
                album.keep(f"3-stream-partial-{event.partial_image_index + 1}", event.decode())
            elif isinstance(event, CompletedImageEvent):
                finals.append(album.keep("3-stream-final", event.decode()))
    print("streamed     1 image  with 2 partial images")
    return finals


async def _fan_out(
    images: AsyncImages, album: _Album, sources: list[bytes], concurrency: int
) -> int:
    """One variation of each source, ``concurrency`` at a time; returns the failures."""
    requests = [
        VariationRequest(image=(f"window-{i}.png", source), size="256x256", model="dall-e-2")
        for i, source in enumerate(sources)
    ]
    progress = Progress(len(requests), "variations")
    started = time.monotonic()
    failures = 0
    run = images.run_many(requests, concurrency=concurrency, ordered=True)
    try:
        async with contextlib.aclosing(run) as outcomes:
            async for outcome in outcomes:
                progress.advance()
                if outcome.response is None:
                    failures += 1
                    print(f"variation {outcome.index + 1} failed: {outcome.error}")
                    continue
                picture = await images.read_image(outcome.response.data[0])
                album.keep(f"4-variation-{outcome.index + 1:02d}", picture)
    finally:
        progress.close()  # also on an error or Ctrl-C, so no bar is left on the terminal
    # A coarse clock can read no time at all for a tiny fan-out: never divide by zero.
    seconds = max(time.monotonic() - started, 1e-6)
    print(
        f"fanned out   {len(requests)} variations, {concurrency} at a time, in "
        f"{seconds:.2f} s ({len(requests) / seconds:.0f} requests/s)"
    )
    return failures


async def _offload(images: AsyncImages, album: _Album) -> int:
    """A small job through the Batch API: submitted, waited for, its images kept; returns
    the failures."""
    prompts = ["a harbour at dawn", "a harbour at noon", "a harbour at night"]
    requests = [GenerateRequest(prompt=prompt, model="gpt-image-1") for prompt in prompts]
    started = time.monotonic()
    job = await images.batches.submit(requests)
    job = await images.batches.wait(job, poll_interval=0.02)
    failures = 0
    async with contextlib.aclosing(images.batches.outcomes(job, cleanup=True)) as outcomes:
        async for outcome in outcomes:
            if outcome.response is None:
                failures += 1
                print(f"offloaded request {outcome.index + 1} failed: {outcome.error}")
                continue
            album.keep(f"5-offloaded-{outcome.index + 1}", outcome.response.data[0].decode())
    print(
        f"offloaded    {len(requests)} generations as {len(job.batch_ids)} batch "
        f"({job.status}) in {time.monotonic() - started:.2f} s"
    )
    return failures


async def run_demo(out: Path | None, *, variations: int, concurrency: int) -> int:
    """Run the tour into ``out`` (a new or empty directory; None: the next run directory)
    and print a summary; returns 0, or 1 when a variation failed."""
    started = time.monotonic()
    out = next_run_directory(DEMO_ROOT) if out is None else out
    with output_directory(out):
        if any(out.iterdir()):
            raise OutputError(
                f"{out} already holds files: give the demo a new or empty directory "
                "(without --out, each run gets a fresh one)"
            )
        album = _Album(out)
        async with (
            Emulator() as emulator,
            AsyncImages(api_key=DEMO_KEY, base_url=emulator.base_url) as images,
        ):
            print(f"emulator on {emulator.base_url}; writing into {out}/")
            finals = await _single_calls(images, album)
            sources = variation_sources(finals, variations)
            failures = await _fan_out(images, album, sources, concurrency)
            failures += await _offload(images, album)
            requests_made = len(emulator.requests)
        sheet = write_new_file(out, "contact-sheet", "png", contact_sheet(album.pictures))
    print(
        f"done: {requests_made} requests, {len(album.saved)} images and a contact sheet "
        f"({sheet}) in {time.monotonic() - started:.2f} s"
    )
    return 1 if failures else 0
