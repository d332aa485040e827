"""The ``images-async`` command line (also ``python -m images_async``).

Commands: ``generate``, ``edit``, ``variations`` and ``batch`` (a resumable JSON Lines
fan-out) against the API or any ``--base-url``; ``serve`` to run the offline emulator; and
``demo``, which needs neither network nor key.
Every command creates its ``--out`` and proves it writable before its first request.
Errors are printed as one line with a non-zero exit status; Ctrl-C stops cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._async_images import AsyncImages
from ._batch import INPUT_EXAMPLES, run_batch
from ._converter import response_to_json
from ._errors import ImagesError
from ._models import CompletedImageEvent, ImagesResponse, PartialImageEvent
from ._output import (
    Progress,
    extension_for,
    output_directory,
    save_response,
    slug,
    write_new_file,
)
from ._requests import VariationRequest
from ._version import __version__

if TYPE_CHECKING:
    from ._response import ImageEventStream
    from .testing.faults import FaultPlan

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


# -- arguments -----------------------------------------------------------------------------


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def _port(text: str) -> int:
    """An argparse type: a TCP port number, 0 to 65535."""
    port = _at_least(0)(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"must be at most 65535, not {port}")
    return port


def _positive_float(text: str) -> float:
    """An argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _fault_plan(text: str) -> FaultPlan:
    """An argparse type: a fault plan spec (``"429,500"``, ``"rate=0.2:500;seed=1"``)."""
    from .testing.faults import FaultPlan

    try:
        return FaultPlan.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_connection_options(
    parser: argparse.ArgumentParser, json_help: str = "print the response JSON"
) -> None:
    parser.add_argument("--base-url", help="API root (default: $OPENAI_BASE_URL or OpenAI's)")
    parser.add_argument("--timeout", type=_positive_float, help="seconds per attempt (default 600)")
    parser.add_argument("--max-retries", type=_at_least(0), help="retries per request (default 2)")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the images")
    parser.add_argument("--json", action="store_true", help=json_help)


def _add_common_image_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="e.g. gpt-image-1, gpt-image-1.5, dall-e-2")
    parser.add_argument("-n", "--n", type=int, help="images per request (1-10)")
    parser.add_argument("--size", help="auto or WIDTHxHEIGHT")
    parser.add_argument("--response-format", choices=["url", "b64_json"])
    parser.add_argument("--user", help="an end-user id for abuse monitoring")


def _add_gpt_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quality", help="auto, low, medium, high (GPT); standard, hd (dall-e)")
    parser.add_argument("--background", help="transparent, opaque or auto")
    parser.add_argument("--output-format", help="png, jpeg or webp")
    parser.add_argument("--output-compression", type=int, help="0-100 for jpeg/webp")
    parser.add_argument("--stream", action="store_true", help="stream partial images")
    parser.add_argument("--partial-images", type=int, help="0-3 partial images when streaming")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="images-async", description="OpenAI Images API from the command line."
    )
    parser.add_argument("--version", action="version", version=f"images-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="create images from a prompt")
    generate.add_argument("prompt")
    _add_common_image_options(generate)
    _add_gpt_options(generate)
    generate.add_argument("--style", help="vivid or natural (dall-e-3)")
    generate.add_argument("--moderation", help="low or auto (GPT image models)")
    _add_connection_options(generate)

    edit = commands.add_parser("edit", help="edit images with a prompt")
    edit.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    edit.add_argument("--prompt", required=True)
    edit.add_argument("--mask", type=Path, help="PNG whose transparent area is edited")
    edit.add_argument("--input-fidelity", help="high or low (GPT image models)")
    _add_common_image_options(edit)
    _add_gpt_options(edit)
    _add_connection_options(edit)

    variations = commands.add_parser("variations", help="create variations of images")
    variations.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    variations.add_argument("--concurrency", type=_at_least(1), default=8, help="requests at once")
    _add_common_image_options(variations)
    _add_connection_options(variations)

    _add_batch_parser(commands)

    serve = commands.add_parser("serve", help="run the offline emulator of the Images API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8080, help="0 picks a free port")
    serve.add_argument("--latency-ms", type=float, default=0.0, help="delay before answers")
    serve.add_argument(
        "--faults", type=_fault_plan, help='inject faults, e.g. "429,500,reset" or "rate=0.2:500"'
    )
    serve.add_argument(
        "--api-key", action="append", dest="api_keys", help="accept only this key (repeatable)"
    )

    demo = commands.add_parser("demo", help="offline tour: generate, edit, stream, fan out")
    demo.add_argument(
        "--out",
        type=Path,
        help="a new or empty directory (default: the next images-async-demo/run-N)",
    )
    demo.add_argument("--variations", type=_at_least(0), default=32, help="variations to fan out")
    demo.add_argument("--concurrency", type=_at_least(1), default=16)
    return parser


_BATCH_DESCRIPTION = """\
Run one request per line of FILE.jsonl, resumably. Each line is a JSON object: an
"endpoint" (generate, edit or variation; generate when absent) and that call's
parameters; image paths are relative to FILE.jsonl. For example:

{examples}

Every finished line gets a record in OUT/results.jsonl (OUT defaults to FILE without
.jsonl): its line number, line_sha256 (a hash of the line's text), and the files it wrote
(line-NNNNN-HASH-image-K.png) or its error. Run the same command again to retry the rest:
a line counts as done only while its text is unchanged (re-formatting the JSON is no
change) and it stays on the same line number; lines edited or moved run again. With
--json, each record is also printed on stdout as a JSON line (and the summary goes to
stderr).
"""


def _add_batch_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batch = commands.add_parser(
        "batch",
        help="run a JSON Lines file of requests, resumably (see --help)",
        description=_BATCH_DESCRIPTION.format(examples="\n".join(INPUT_EXAMPLES)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument("file", type=Path, metavar="FILE.jsonl")
    batch.add_argument("--concurrency", type=_at_least(1), default=16, help="requests at once")
    batch.add_argument(
        "--requests-per-minute", type=_positive_float, help="client-side request budget"
    )
    batch.add_argument("--images-per-minute", type=_positive_float, help="client-side image budget")
    _add_connection_options(batch, json_help="also print each result record as a JSON line")
    batch.set_defaults(out=None)


def _image_params(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _client(args: argparse.Namespace) -> AsyncImages:
    options: dict[str, Any] = {}
    if args.base_url:
        options["base_url"] = args.base_url
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    return AsyncImages(**options)


@contextlib.asynccontextmanager
async def _session(args: argparse.Namespace, out: Path) -> AsyncIterator[AsyncImages]:
    """The client, once ``out`` is proven writable: no call is paid for and then lost."""
    async with _client(args) as images:
        with output_directory(out):
            yield images


_COMMON = ("model", "n", "size", "response_format", "user")
_GPT = ("quality", "background", "output_format", "output_compression", "partial_images")


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


async def command_generate(args: argparse.Namespace) -> int:
    params = _image_params(args, (*_COMMON, *_GPT, "style", "moderation"))
    async with _session(args, args.out) as images:
        stem = slug(args.prompt)
        if args.stream:
            stream = await images.generate(prompt=args.prompt, stream=True, **params)
            await _stream_to_files(args.out, stream, stem)
        else:
            response = await images.generate(prompt=args.prompt, **params)
            await _print_result(images, args, response, stem)
    return 0


async def command_edit(args: argparse.Namespace) -> int:
    params = _image_params(args, (*_COMMON, *_GPT, "input_fidelity"))
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
    return 0


async def command_variations(args: argparse.Namespace) -> int:
    params = _image_params(args, _COMMON)
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
    return EXIT_ERROR if failures else 0


async def command_batch(args: argparse.Namespace) -> int:
    out = args.out if args.out is not None else args.file.with_suffix("")
    async with _session(args, out) as images:
        return await run_batch(
            images,
            args.file,
            out,
            concurrency=args.concurrency,
            requests_per_minute=args.requests_per_minute,
            images_per_minute=args.images_per_minute,
            json_lines=args.json,
        )


async def command_serve(args: argparse.Namespace) -> int:
    from .testing.emulator import Emulator, EmulatorConfig

    config = EmulatorConfig(
        api_keys=frozenset(args.api_keys) if args.api_keys else None,
        latency=args.latency_ms / 1000.0,
        faults=args.faults,
    )
    emulator = Emulator(config)
    try:
        base_url = await emulator.start(host=args.host, port=args.port)
    except OSError as exc:  # the port is taken, the host unknown...
        reason = exc.strerror or str(exc)
        raise OSError(f"cannot listen on {args.host}:{args.port}: {reason}") from None
    try:
        print(f"Images API emulator listening on {base_url} (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
    finally:
        await emulator.close()
    return 0


async def command_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return await run_demo(args.out, variations=args.variations, concurrency=args.concurrency)


COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "generate": command_generate,
    "edit": command_edit,
    "variations": command_variations,
    "batch": command_batch,
    "serve": command_serve,
    "demo": command_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(COMMANDS[args.command](args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): say nothing more, and keep the interpreter's
        # final flush of stdout from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except (ImagesError, OSError, ValueError) as exc:  # ValueError: --base-url and the like
        print(f"images-async: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
