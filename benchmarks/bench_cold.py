"""Cold start: how long a fresh interpreter takes to import a client and construct it.

Each statement runs in a new interpreter, timed from inside (``time.perf_counter`` around
the statement alone, so the interpreter's own start-up is left out). The statements take
turns, ``tries`` times each, and the best (lowest) time of each counts: the best of several
fresh processes is the least disturbed by the rest of the machine.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

#: A fresh interpreter that does not answer by then fails the run.
TIMEOUT = 60.0
API_KEY = "sk-benchmark"


@dataclasses.dataclass(frozen=True)
class Statement:
    name: str
    code: str
    tree: str = ""
    """Import images_async from this source tree (inserted first in ``sys.path``)."""


STATEMENTS = (
    Statement("aiohttp", "import aiohttp"),
    Statement(
        "images_async", f"import images_async; images_async.AsyncImages(api_key={API_KEY!r})"
    ),
    Statement("openai", f"import openai; openai.AsyncOpenAI(api_key={API_KEY!r})"),
)


def _program(statement: Statement) -> str:
    lines = ["import sys, time"]
    if statement.tree:
        lines.append(f"sys.path.insert(0, {statement.tree!r})")
    lines += ["start = time.perf_counter()", statement.code, "print(time.perf_counter() - start)"]
    return "\n".join(lines)


def time_once(statement: Statement) -> float:
    """Seconds the statement took in a fresh interpreter."""
    env = dict(os.environ)
    if statement.tree:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [statement.tree, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", _program(statement)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    if done.returncode != 0 or done.stderr.strip():
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(lines[-1])
    return float(done.stdout)


def measure(statements: list[Statement], tries: int) -> dict[str, list[float]]:
    """Every time of every statement, the statements taking turns."""
    times: dict[str, list[float]] = {statement.name: [] for statement in statements}
    for _ in range(tries):
        for statement in statements:
            times[statement.name].append(time_once(statement))
    return times
