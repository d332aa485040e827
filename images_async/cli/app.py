"""The process around a command: parse, run it on an event loop, and turn every way it can
end into an exit status and at most one line on stderr.

Usage errors exit with 2 (argparse's own, and an ``--offload`` directory holding another
input's job); a failed request, write or setting prints one
``images-async: error: ...`` line and exits with 1; Ctrl-C prints ``interrupted`` and exits
with 130; a reader that went away (``| head``) ends the run quietly.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

from .. import ImagesError
from .commands import COMMANDS, EXIT_ERROR
from .connection import conflicting_options
from .offload import OffloadStateError
from .parser import batch_usage_problem, build_parser

#: A usage error found only once the command ran (argparse's own status for them).
EXIT_USAGE = 2
#: The shell's status for a process stopped by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit
    status. A usage error raises ``SystemExit(2)``, as argparse does."""
    parser = build_parser()
    args = parser.parse_args(argv)
    conflict = conflicting_options(args) or batch_usage_problem(args)
    if conflict is not None:
        parser.error(conflict)
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
    except OffloadStateError as exc:  # the command line names the wrong directory or file
        print(f"images-async: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ImagesError, OSError, ValueError) as exc:  # ValueError: --base-url and the like
        print(f"images-async: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def run() -> None:
    """The console script ``images-async``: :func:`main`, then exit with its status."""
    sys.exit(main())
