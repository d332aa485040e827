"""The command line's arguments: every command's options, and the checks on their values.

Bad values end in an ``argparse`` usage error (exit status 2) before anything runs. The
image parameters come from :mod:`.parameters`; this module only lays them out.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from .. import __version__
from .batch import INPUT_EXAMPLES
from .connection import add_network_options
from .parameters import (
    EDIT_PARAMETERS,
    GENERATE_PARAMETERS,
    IMAGE_OPTIONS,
    VARIATION_PARAMETERS,
)

if TYPE_CHECKING:
    from ..testing.faults import FaultPlan

#: What ``add_subparsers`` returns (argparse has no public name for its type).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


# -- value types ---------------------------------------------------------------------------


def at_least(minimum: int) -> Callable[[str], int]:
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


def port_number(text: str) -> int:
    """An argparse type: a TCP port number, 0 to 65535."""
    port = at_least(0)(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"must be at most 65535, not {port}")
    return port


def positive_float(text: str) -> float:
    """An argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def fault_plan(text: str) -> FaultPlan:
    """An argparse type: a fault plan spec (``"429,500"``, ``"rate=0.2:500;seed=1"``)."""
    # Imported here: only ``serve --faults`` needs the emulator's code.
    from ..testing.faults import FaultPlan

    try:
        return FaultPlan.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- option groups -------------------------------------------------------------------------


def _add_image_options(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    for name in names:
        option = IMAGE_OPTIONS[name]
        parser.add_argument(
            *option.flags, dest=name, type=option.type, choices=option.choices, help=option.help
        )


def _add_stream_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stream", action="store_true", help="stream partial images")


def _add_connection_options(
    parser: argparse.ArgumentParser, json_help: str = "print the response JSON"
) -> None:
    parser.add_argument("--base-url", help="API root (default: $OPENAI_BASE_URL or OpenAI's)")
    parser.add_argument("--timeout", type=positive_float, help="seconds per attempt (default 600)")
    parser.add_argument("--max-retries", type=at_least(0), help="retries per request (default 2)")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the images")
    parser.add_argument("--json", action="store_true", help=json_help)
    add_network_options(parser)


# -- commands ------------------------------------------------------------------------------


def _add_generate(commands: Commands) -> None:
    generate = commands.add_parser("generate", help="create images from a prompt")
    generate.add_argument("prompt")
    _add_image_options(generate, GENERATE_PARAMETERS)
    _add_stream_option(generate)
    _add_connection_options(generate)


def _add_edit(commands: Commands) -> None:
    edit = commands.add_parser("edit", help="edit images with a prompt")
    edit.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    edit.add_argument("--prompt", required=True)
    edit.add_argument("--mask", type=Path, help="PNG whose transparent area is edited")
    _add_image_options(edit, EDIT_PARAMETERS)
    _add_stream_option(edit)
    _add_connection_options(edit)


def _add_variations(commands: Commands) -> None:
    variations = commands.add_parser("variations", help="create variations of images")
    variations.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    variations.add_argument("--concurrency", type=at_least(1), default=8, help="requests at once")
    _add_image_options(variations, VARIATION_PARAMETERS)
    _add_connection_options(variations)


BATCH_DESCRIPTION = """\
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

With --offload, the pending lines go to the provider's Batch API as one job instead (half
the price, no live rate limit, results within 24 hours; no variation lines). The job's id
is kept in OUT/offload-job.json before the wait starts: after Ctrl-C the job keeps running
and the same command picks it up (it never submits twice). Its results are saved as
above (a re-run after that changes nothing: to retry failed lines, run without --offload).
--status OUT prints the job's progress; --cancel OUT cancels it (then run the same
command to save what it finished).
"""


def _add_batch(commands: Commands) -> None:
    batch = commands.add_parser(
        "batch",
        help="run a JSON Lines file of requests, resumably (see --help)",
        description=BATCH_DESCRIPTION.format(examples="\n".join(INPUT_EXAMPLES)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument("file", type=Path, nargs="?", metavar="FILE.jsonl")
    batch.add_argument(
        "--offload", action="store_true", help="run the lines as a Batch API job (see above)"
    )
    batch.add_argument(
        "--poll-interval",
        type=positive_float,
        default=5.0,
        help="seconds between the first checks of an offloaded job (growing later; default 5)",
    )
    batch.add_argument("--status", type=Path, metavar="OUT", help="show an offloaded job's status")
    batch.add_argument("--cancel", type=Path, metavar="OUT", help="cancel an offloaded job")
    batch.add_argument("--concurrency", type=at_least(1), default=16, help="requests at once")
    batch.add_argument(
        "--requests-per-minute", type=positive_float, help="client-side request budget"
    )
    batch.add_argument("--images-per-minute", type=positive_float, help="client-side image budget")
    _add_connection_options(batch, json_help="also print each result record as a JSON line")
    batch.set_defaults(out=None)  # None: next to FILE.jsonl, named after it


def _add_serve(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the offline emulator of the Images API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port_number, default=8080, help="0 picks a free port")
    serve.add_argument("--latency-ms", type=float, default=0.0, help="delay before answers")
    serve.add_argument(
        "--faults", type=fault_plan, help='inject faults, e.g. "429,500,reset" or "rate=0.2:500"'
    )
    serve.add_argument(
        "--api-key", action="append", dest="api_keys", help="accept only this key (repeatable)"
    )
    serve.add_argument(
        "--no-dashboard",
        action="store_false",
        dest="dashboard",
        help="serve no live page of the calls at / (an unknown path then, like the API)",
    )


def _add_demo(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="offline tour: generate, edit, stream, fan out")
    demo.add_argument(
        "--out",
        type=Path,
        help="a new or empty directory (default: the next images-async-demo/run-N)",
    )
    demo.add_argument("--variations", type=at_least(0), default=32, help="variations to fan out")
    demo.add_argument("--concurrency", type=at_least(1), default=16)


def batch_usage_problem(args: argparse.Namespace) -> str | None:
    """Why a ``batch`` command line asks for no single thing, or None when it does."""
    if args.command != "batch":
        return None
    asked = [args.file is not None, args.status is not None, args.cancel is not None]
    if sum(asked) != 1:
        return "batch: give FILE.jsonl, or --status OUT, or --cancel OUT (one of them)"
    return None


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``images-async``; ``args.command`` names the command chosen."""
    parser = argparse.ArgumentParser(
        prog="images-async", description="OpenAI Images API from the command line."
    )
    parser.add_argument("--version", action="version", version=f"images-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    adders = (_add_generate, _add_edit, _add_variations, _add_batch, _add_serve, _add_demo)
    for add_command in adders:
        add_command(commands)
    return parser
