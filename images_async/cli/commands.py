"""What each command does with its parsed arguments; each returns its exit status.

``generate``, ``edit``, ``variations`` and ``batch`` call the API (or any ``--base-url``, or
Azure OpenAI: :mod:`.connection` builds the client) and write into ``--out``, which is made
and proven writable before the first request. ``serve`` and ``demo`` run the emulator,
imported only inside them, so the other commands never load it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import (
    AsyncImages,
    CompletedImageEvent,
    ImagesError,
    ImagesResponse,
    PartialImageEvent,
    VariationRequest,
)
from .._converter import response_to_json
from .batch import run_batch
from .connection import client_for
from .offload import cancel_job, run_offload, show_status
from .output import extension_for, output_directory, save_response, slug, write_new_file
from .parameters import EDIT_PARAMETERS, GENERATE_PARAMETERS, VARIATION_PARAMETERS
from .progress import Progress

if TYPE_CHECKING:
    from .. import ImageEventStream

EXIT_OK = 0
#: Some request or write failed (its error was printed as one line).
EXIT_ERROR = 1
#: The calls ``serve`` keeps on record (its live page shows the newest): bounded, as it
#: may run for days.
SERVE_RECORDED_CALLS = 10_000

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


# -- the client and what it returns --------------------------------------------------------


def _given_parameters(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The named API parameters the user gave (omitted ones stay the server's default)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


@contextlib.asynccontextmanager
async def _session(args: argparse.Namespace, out: Path) -> AsyncIterator[AsyncImages]:
    """The client, once ``out`` is proven writable: no call is paid for and then lost."""
    async with client_for(args) as images:
        with output_directory(out):
            yield images


async def _print_result(
    images: AsyncImages, args: argparse.Namespace, response: ImagesResponse, stem: str
) -> None:
    if args.json:
        print(json.dumps(response_to_json(response), indent=2))
    # With --json, stdout holds nothing but the document, so it can be piped to a parser.
    paths_to = sys.stderr if args.json else sys.stdout
    for path in await save_response(images, response, args.out, stem):
        print(path, file=paths_to)


async def _stream_to_files(out: Path, stream: ImageEventStream, stem: str) -> None:
    async with stream:
        async for event in stream:
            if isinstance(event, PartialImageEvent):
                kind = f"partial-{event.partial_image_index + 1}"
            elif isinstance(event, CompletedImageEvent):
                kind = "final"
            else:
                continue
            if event.b64_payload is None:
                continue
            content = event.decode()
            extension = extension_for(event.output_format, content)
            path = write_new_file(out, f"{stem}-{kind}", extension, content)
            print(f"{event.type}: {path}")


# -- the commands --------------------------------------------------------------------------


async def generate(args: argparse.Namespace) -> int:
    """``images-async generate PROMPT``: one generation, saved to ``--out`` (or streamed)."""
    params = _given_parameters(args, GENERATE_PARAMETERS)
    async with _session(args, args.out) as images:
        stem = slug(args.prompt)
        if args.stream:
            stream = await images.generate(prompt=args.prompt, stream=True, **params)
            await _stream_to_files(args.out, stream, stem)
        else:
            response = await images.generate(prompt=args.prompt, **params)
            await _print_result(images, args, response, stem)
    return EXIT_OK


async def edit(args: argparse.Namespace) -> int:
    """``images-async edit IMAGE... --prompt``: one edit, saved to ``--out`` (or streamed)."""
    params = _given_parameters(args, EDIT_PARAMETERS)
    image: Any = args.images[0] if len(args.images) == 1 else list(args.images)
    async with _session(args, args.out) as images:
        stem = f"edit-{slug(args.prompt)}"
        if args.stream:
            stream = await images.edit(
                image=image, prompt=args.prompt, mask=args.mask, stream=True, **params
            )
            await _stream_to_files(args.out, stream, stem)
        else:
            response = await images.edit(image=image, prompt=args.prompt, mask=args.mask, **params)
            await _print_result(images, args, response, stem)
    return EXIT_OK


async def variations(args: argparse.Namespace) -> int:
    """``images-async variations IMAGE...``: variations of each image, fanned out."""
    params = _given_parameters(args, VARIATION_PARAMETERS)
    requests = [VariationRequest(image=path, **params) for path in args.images]
    failures = 0
    progress = Progress(len(requests), "variations")
    async with _session(args, args.out) as images:
        # run_many paces the calls and shares a 429's cooldown among them.
        run = images.run_many(
            requests,
            concurrency=args.concurrency,
            ordered=True,  # print in the order the images were given
            on_progress=lambda _: progress.advance(),
        )
        try:
            async with contextlib.aclosing(run) as outcomes:
                async for outcome in outcomes:
                    path = args.images[outcome.index]
                    if outcome.error is not None:
                        if not isinstance(outcome.error, ImagesError):
                            raise outcome.error
                        failures += 1
                        print(f"{path}: {outcome.error}", file=sys.stderr)
                        continue
                    response = outcome.unwrap()
                    await _print_result(images, args, response, f"{path.stem}-variation")
        finally:
            progress.close()
    return EXIT_ERROR if failures else EXIT_OK


async def batch(args: argparse.Namespace) -> int:
    """``images-async batch FILE.jsonl``: the resumable fan-out of :mod:`.batch`, or with
    ``--offload`` the Batch API job of :mod:`.offload` (``--status``/``--cancel`` OUT)."""
    for action, directory in ((show_status, args.status), (cancel_job, args.cancel)):
        if directory is not None:
            async with client_for(args) as images:
                return await action(images, directory)
    out = args.out if args.out is not None else args.file.with_suffix("")
    async with _session(args, out) as images:
        if args.offload:
            return await run_offload(
                images, args.file, out, poll_interval=args.poll_interval, json_lines=args.json
            )
        return await run_batch(
            images,
            args.file,
            out,
            concurrency=args.concurrency,
            requests_per_minute=args.requests_per_minute,
            images_per_minute=args.images_per_minute,
            json_lines=args.json,
        )


async def serve(args: argparse.Namespace) -> int:
    """``images-async serve``: run the offline emulator, and its live page, until Ctrl-C."""
    from ..testing.emulator import Emulator, EmulatorConfig

    config = EmulatorConfig(
        api_keys=frozenset(args.api_keys) if args.api_keys else None,
        latency=args.latency_ms / 1000.0,
        faults=args.faults,
        dashboard=args.dashboard,
        max_recorded_calls=SERVE_RECORDED_CALLS,
    )
    emulator = Emulator(config)
    try:
        base_url = await emulator.start(host=args.host, port=args.port)
    except OSError as exc:  # the port is taken, the host unknown...
        reason = exc.strerror or str(exc)
        raise OSError(f"cannot listen on {args.host}:{args.port}: {reason}") from None
    try:
        print(f"Images API emulator listening on {base_url} (Ctrl-C to stop)", flush=True)
        if config.dashboard:
            print(f"Live page of its calls: {emulator.dashboard_url}", flush=True)
        await asyncio.Event().wait()
    finally:
        await emulator.close()
    return EXIT_OK


async def demo(args: argparse.Namespace) -> int:
    """``images-async demo``: the offline tour of :mod:`.demo`."""
    from .demo import run_demo

    return await run_demo(args.out, variations=args.variations, concurrency=args.concurrency)


#: Each command's name, as the parser sets ``args.command``, and what runs it.
COMMANDS: dict[str, Command] = {
    "generate": generate,
    "edit": edit,
    "variations": variations,
    "batch": batch,
    "serve": serve,
    "demo": demo,
}
