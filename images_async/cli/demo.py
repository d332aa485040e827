"""``images-async demo``: a tour of the client that needs neither network nor API key.

It starts the emulator in-process on 127.0.0.1, then generates an image, edits it through a
mask, streams a generation with partial images, fans out variations concurrently, offloads a
small job to the (emulated) Batch API, and writes every picture plus a contact sheet into one
directory. The sheet (drawn by :mod:`.contact_sheet`) reads as the tour does: a title line
(what ran, how many requests, how long), then one section per step, each picture captioned
with the call that made it.

Where: ``--out DIR`` names a new or empty directory; without it, each run gets the next
``images-async-demo/run-N``. The demo never writes into a directory that holds files, so it
neither overwrites nor piles up copies, and it deletes nothing.
The variations are of many different inputs (crops panning across the tour's pictures),
because the emulator answers the same variation for the same input.

Pillow (the ``emulator`` extra) draws the pictures and the sheet; without it the demo says
how to install it and exits with 2, before it writes anything.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from .. import (
    AsyncImages,
    CompletedImageEvent,
    GenerateRequest,
    PartialImageEvent,
    VariationRequest,
)
from .output import OutputError, extension_for, output_directory, write_new_file
from .progress import Progress

try:  # the emulator extra: the sheet is drawn, and the emulator's pictures made, with Pillow
    from PIL import Image

    from ..testing.emulator import Emulator
    from .contact_sheet import Section, Tile, contact_sheet
except ModuleNotFoundError as _import_error:
    if (_import_error.name or "").partition(".")[0] != "PIL":
        raise  # a broken install of our own is not fixed by installing Pillow
    PILLOW_MISSING = True
else:
    PILLOW_MISSING = False

DEMO_KEY = "sk-demo-offline"
DEMO_ROOT = Path("images-async-demo")
#: The exit status of a demo that cannot run here (argparse's status for usage errors).
EXIT_CANNOT_RUN = 2
INSTALL_HINT = 'pip install "images-async[cli,emulator]"'

#: Pictures are scaled to this edge before crops of ``CROP_EDGE`` pan across them.
IMAGE_EDGE = 512
CROP_EDGE = 256


def next_run_directory(root: Path) -> Path:
    """``root/run-N``, N one above every run already there (the directory is not made)."""
    numbers = [0]
    if root.is_dir():
        for path in root.iterdir():
            if match := re.fullmatch(r"run-(\d+)", path.name):
                numbers.append(int(match[1]))
    return root / f"run-{max(numbers) + 1}"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)  # the demo's own inputs: speed over size
    return buffer.getvalue()


def centre_mask(edge: int) -> bytes:
    """A mask PNG, opaque except for a transparent square in the middle (the area to edit)."""
    mask = Image.new("RGBA", (edge, edge), (0, 0, 0, 255))
    quarter = edge // 4
    mask.paste((0, 0, 0, 0), (quarter, quarter, edge - quarter, edge - quarter))
    return _png(mask)


def variation_sources(pictures: Sequence[bytes], count: int) -> list[bytes]:
    """``count`` different square PNGs: crops panning diagonally across each picture in
    turn (a diagonal step moves across both horizontal and vertical bands)."""
    if count == 0:
        return []
    canvases = [
        Image.open(io.BytesIO(picture)).convert("RGB").resize((IMAGE_EDGE, IMAGE_EDGE))
        for picture in pictures
    ]
    per_canvas = -(-count // len(canvases))
    step = (IMAGE_EDGE - CROP_EDGE) / max(per_canvas - 1, 1)
    sources = []
    for index in range(count):
        offset = round(index // len(canvases) * step)
        box = (offset, offset, offset + CROP_EDGE, offset + CROP_EDGE)
        sources.append(_png(canvases[index % len(canvases)].crop(box)))
    return sources


def crop_label(index: int, names: Sequence[str]) -> str:
    """What the ``index``-th crop of :func:`variation_sources` shows, ``names`` naming the
    pictures it was given."""
    return f"of the {names[index % len(names)]} · crop {index // len(names) + 1}"


# -- the tour ------------------------------------------------------------------------------


class _Album:
    """The pictures of the tour, each written to ``out`` as it comes, and kept for the
    sheet in sections."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.saved: list[Path] = []
        self.sections: list[Section] = []

    def begin(self, heading: str) -> None:
        self.sections.append(Section(heading=heading, tiles=()))

    def keep(self, stem: str, picture: bytes, call: str, detail: str = "") -> None:
        extension = extension_for(None, picture[:64])  # the format the emulator answered
        self.saved.append(write_new_file(self.out, stem, extension, picture))
        last = self.sections[-1]
        tiles = (*last.tiles, Tile(picture=picture, call=call, detail=detail))
        self.sections[-1] = attrs.evolve(last, tiles=tiles)


# Short enough for a caption line, and each about something else, so that every tile's
# request can be told apart.
GENERATE_PROMPT = "a lighthouse at dusk"
EDIT_PROMPT = "a hot-air balloon"
STREAM_PROMPT = "a fox asleep in the snow"
OFFLOAD_PROMPTS = ("a harbour at dawn", "cacti by a desert road", "fireworks over a city")
#: What the variations' inputs are crops of: the three finals of the single calls.
FINAL_NAMES = ("lighthouse", "balloon", "fox")


async def _single_calls(images: AsyncImages, album: _Album) -> list[bytes]:
    """Generate, edit and stream one image each; returns the three final pictures."""
    album.begin("1 · one call each: generate, edit through a mask, stream partial images")
    model = "gpt-image-1"
    generated = await images.generate(prompt=GENERATE_PROMPT, model=model, size="1024x1024")
    original = generated.data[0].decode()
    album.keep("1-generated", original, f"generate · {model}", f'"{GENERATE_PROMPT}"')
    print(f"generated    1 image  ({len(original):,} bytes)")

    edited = await images.edit(
        image=("lighthouse.png", original), mask=centre_mask(1024), prompt=EDIT_PROMPT, model=model
    )
    edit = edited.data[0].decode()
    album.keep("2-edited", edit, f"edit · mask · {model}", f'"{EDIT_PROMPT}"')
    finals = [original, edit]
    print("edited       1 image  through a mask")

    partials = 2
    stream = await images.generate(
        prompt=STREAM_PROMPT, model=model, stream=True, partial_images=partials
    )
    async with stream:
        async for event in stream:
            if isinstance(event, PartialImageEvent):
                number = event.partial_image_index + 1
                call = f"stream · partial {number}/{partials}"
                album.keep(f"3-stream-partial-{number}", event.decode(), call, f'"{STREAM_PROMPT}"')
            elif isinstance(event, CompletedImageEvent):
                final = event.decode()
                album.keep("3-stream-final", final, "stream · final", f'"{STREAM_PROMPT}"')
                finals.append(final)
    print(f"streamed     1 image  with {partials} partial images")
    return finals


async def _fan_out(
    images: AsyncImages, album: _Album, sources: list[bytes], concurrency: int
) -> int:
    """One variation of each source, ``concurrency`` at a time; returns the failures."""
    count = len(sources)
    album.begin(
        f"2 · fan-out: {count} variations with run_many, {concurrency} at a time, "
        "each of a different crop of the pictures above"
    )
    requests = [
        VariationRequest(image=(f"crop-{i}.png", source), size="256x256", model="dall-e-2")
        for i, source in enumerate(sources)
    ]
    progress = Progress(count, "variations")
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
                number = outcome.index + 1
                call = f"variation {number}/{count} · dall-e-2"
                detail = crop_label(outcome.index, FINAL_NAMES)
                album.keep(f"4-variation-{number:02d}", picture, call, detail)
    finally:
        progress.close()  # also on an error or Ctrl-C, so no bar is left on the terminal
    # A coarse clock can read no time at all for a tiny fan-out: never divide by zero.
    seconds = max(time.monotonic() - started, 1e-6)
    print(
        f"fanned out   {count} variations, {concurrency} at a time, in "
        f"{seconds:.2f} s ({count / seconds:.0f} requests/s)"
    )
    return failures


async def _offload(images: AsyncImages, album: _Album) -> int:
    """A small job through the Batch API: submitted, waited for, its images kept; returns
    the failures."""
    album.begin(
        f"3 · Batch API: {len(OFFLOAD_PROMPTS)} generations submitted as one job, "
        "waited for, collected"
    )
    model = "gpt-image-1"
    requests = [GenerateRequest(prompt=prompt, model=model) for prompt in OFFLOAD_PROMPTS]
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
            picture = outcome.response.data[0].decode()
            prompt = f'"{OFFLOAD_PROMPTS[outcome.index]}"'
            album.keep(f"5-offloaded-{outcome.index + 1}", picture, "batch · generate", prompt)
    print(
        f"offloaded    {len(requests)} generations as {len(job.batch_ids)} batch "
        f"({job.status}) in {time.monotonic() - started:.2f} s"
    )
    return failures


async def run_demo(out: Path | None, *, variations: int, concurrency: int) -> int:
    """Run the tour into ``out`` (a new or empty directory; None: the next run directory)
    and print a summary; returns 0, 1 when a request failed, or 2 without Pillow."""
    if PILLOW_MISSING:
        print(f"images-async demo: error: the demo needs Pillow: {INSTALL_HINT}", file=sys.stderr)
        return EXIT_CANNOT_RUN
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
        title = (
            f"images-async demo · {requests_made} requests to the offline emulator in "
            f"{time.monotonic() - started:.2f} s · {len(album.saved)} images"
        )
        sheet = write_new_file(out, "contact-sheet", "png", contact_sheet(title, album.sections))
    print(
        f"done: {requests_made} requests, {len(album.saved)} images and a contact sheet "
        f"({sheet}) in {time.monotonic() - started:.2f} s"
    )
    return 1 if failures else 0
