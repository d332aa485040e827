"""Benchmark images_async against bare aiohttp and the official openai SDK, as ratios.

``python benchmarks/run.py [--quick] [--only NAME ...] [--before TREE] [--json PATH]``

A server with precomputed answers runs in a child process on 127.0.0.1 (bench_server.py);
every measurement runs in a fresh child process of its own (bench_worker.py), so the CPU
time and memory it reports belong to one client alone. It prints one table of ratios
between peers measured in the same run (with their spread over reps), the targets with
PASS or ABOVE, and the cold-start times, and writes every raw number to a JSON file.
Nothing here asserts a time limit. See README.md for what each number means.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bench_cold
from bench_payloads import BATCH_LINES, SAVE_IMAGES, b64_length
from bench_plan import TARGETS, Entry, Scenario, peer_names, scenarios, selected, with_before
from bench_report import PeerResult, ScenarioResult, cold_table, ratio_table, record, target_table
from bench_server import ServerProcess
from bench_worker import Measurement, Spec

HERE = Path(__file__).resolve().parent
WORKER = HERE / "bench_worker.py"
DEFAULT_JSON = HERE / "results" / "latest.json"
#: A worker that has not finished by then is killed and its peer reported as failed.
WORKER_TIMEOUT = 300.0
COLD_TRIES = 7


def _measure(spec: Spec) -> Measurement:
    command = [sys.executable, "-W", "default", str(WORKER), json.dumps(dataclasses.asdict(spec))]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=WORKER_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"no result within {WORKER_TIMEOUT:.0f} s") from None
    if done.returncode != 0 or done.stderr.strip():
        # Warnings count as failures too: every peer must shut down cleanly.
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(lines[-1])
    return Measurement(**json.loads(done.stdout))


def _per_call(server: ServerProcess, body: str, op: str) -> int:
    """What one call must return: decoded bytes, or base64 characters for ``b64``."""
    size = server.image_sizes[body]
    count = {"save": SAVE_IMAGES, "batch": BATCH_LINES}.get(body, 1)
    return count * (b64_length(size) if op == "b64" else size)


def spec_for(server: ServerProcess, scenario: Scenario, entry: Entry) -> Spec:
    warmup_body = "small"  # every warm-up prompt gets the small answer
    return Spec(
        peer=entry.name,
        client=entry.client,
        runner=entry.runner,
        op=entry.op,
        base_url=server.base_url,
        prompt=scenario.prompt,
        requests=scenario.requests,
        concurrency=entry.concurrency,
        rounds=scenario.rounds,
        expected_per_call=_per_call(server, scenario.body, entry.op),
        warmup_prompt=scenario.warmup_prompt,
        warmup=scenario.warmup or 2 * entry.concurrency,
        warmup_expected_per_call=_per_call(server, warmup_body, entry.op),
        trace_concurrency=scenario.trace_concurrency,
        trace_requests=scenario.trace_requests,
        tree=entry.tree,
    )


def run_scenario(server: ServerProcess, scenario: Scenario, have_sdk: bool) -> ScenarioResult:
    """Measure every peer; workers of different peers take turns, so drift hits all alike."""
    peers = [PeerResult(entry) for entry in scenario.entries]
    for peer in peers:
        if peer.entry.client == "openai" and not have_sdk:
            peer.problem = "skipped: openai is not installed"
    for turn in range(scenario.processes):
        for peer in peers:
            if peer.problem:
                continue
            print(
                f"  {scenario.name} {turn + 1}/{scenario.processes}: {peer.entry.name}",
                file=sys.stderr,
                flush=True,
            )
            try:
                measured = _measure(spec_for(server, scenario, peer.entry))
            except RuntimeError as error:
                peer.problem = f"failed: {error}"
                continue
            if measured.skipped:
                peer.problem = f"skipped: {measured.skipped}"
            else:
                peer.runs.append(measured)
    return ScenarioResult(scenario, server.body_sizes[scenario.body], peers)


def cold_statements(have_sdk: bool, before: str) -> list[bench_cold.Statement]:
    statements = [s for s in bench_cold.STATEMENTS if have_sdk or s.name != "openai"]
    if before:
        images = next(s for s in statements if s.name == "images_async")
        statements.append(dataclasses.replace(images, name="images_async@before", tree=before))
    return statements


# -- environment -----------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git(directory: Path, *args: str) -> str | None:
    """What a read-only git command prints in ``directory``; None if it is not a checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _revision(directory: Path) -> dict[str, Any]:
    """The commit of a tree and whether its files differ from it (``None``: not a checkout)."""
    commit = _git(directory, "rev-parse", "HEAD")
    changed = _git(directory, "status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "modified": None if changed is None else bool(changed)}


def environment(args: argparse.Namespace) -> dict[str, Any]:
    import images_async

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "images_async": images_async.__version__,
        "aiohttp": _version("aiohttp"),
        "openai": _version("openai"),
        "git": _revision(HERE.parent),
        "before_tree": args.before or None,
        "before_git": _revision(Path(args.before)) if args.before else None,
        "argv": sys.argv[1:],
    }


def _describe(revision: dict[str, Any]) -> str:
    if not revision["commit"]:
        return "not a git checkout"
    return str(revision["commit"])[:12] + (" + local changes" if revision["modified"] else "")


def header(env: dict[str, Any]) -> str:
    return (
        f"{env['date']}  {env['mode']} run, Python {env['python']} on {env['system']}, "
        f"{env['cpus']} CPUs; images_async {env['images_async']} "
        f"({_describe(env['git'])}), aiohttp {env['aiohttp']}, "
        f"openai {env['openai']}"
    )


# -- command line ----------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    names = [scenario.name for scenario in scenarios(quick=True)] + ["cold"]
    peers = peer_names(scenarios(quick=True))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="one worker per peer and fewer rounds (~1.5 min)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"only these scenarios and/or peers (repeatable): {', '.join(names + peers)}",
    )
    parser.add_argument(
        "--requests", type=int, metavar="N", help="small and fan-out calls per batch (500)"
    )
    parser.add_argument(
        "--before",
        metavar="TREE",
        default="",
        help="also run every images_async peer with images_async imported from this source tree",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help="write every raw number here (default: benchmarks/results/latest.json)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(names) - set(peers)
    if unknown:
        parser.error(f"unknown --only name(s): {', '.join(sorted(unknown))}")
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.before:
        tree = Path(args.before)
        if not (tree / "images_async" / "__init__.py").is_file():
            parser.error(f"--before {args.before}: no images_async package in that directory")
        args.before = str(tree.resolve())
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    have_sdk = importlib.util.find_spec("openai") is not None
    chosen = selected(scenarios(args.quick, args.requests), args.only)
    if args.before:
        chosen = [with_before(scenario, args.before) for scenario in chosen]
    run_cold = not args.only or "cold" in args.only
    env = environment(args)
    print(header(env))
    if not have_sdk:
        print("Note: the openai package is not installed; its peers are skipped.")
    results: list[ScenarioResult] = []
    if chosen:
        with ServerProcess() as server:
            print(f"Server: {server.base_url} (separate process)", flush=True)
            results = [run_scenario(server, scenario, have_sdk) for scenario in chosen]
    cold: dict[str, list[float]] = {}
    cold_failed = False
    if run_cold:
        print(f"  cold start: best of {COLD_TRIES} fresh interpreters", file=sys.stderr)
        try:
            cold = bench_cold.measure(cold_statements(have_sdk, args.before), COLD_TRIES)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"cold start failed: {error}")
            cold_failed = True
    by_name = {result.scenario.name: result for result in results}
    print("\n### Targets\n\n" + target_table(TARGETS, by_name, cold))
    if results:
        print("\n### Ratios (median over reps, interquartile range in brackets)\n")
        print(ratio_table(results))
    if cold:
        print(f"\n### Cold start (best of {COLD_TRIES} fresh interpreters)\n")
        print(cold_table(cold))
    env["seconds"] = round(time.monotonic() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record(env, results, cold, TARGETS), indent=1) + "\n")
    print(f"\n{env['seconds']:.0f} s; raw numbers in {args.json}")
    failed = [p for r in results for p in r.peers if p.problem.startswith("failed")]
    return 1 if failed or cold_failed else 0


if __name__ == "__main__":
    sys.exit(main())
