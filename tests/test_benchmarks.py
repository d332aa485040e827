"""The benchmark harness's own logic: its statistics, tables, JSON record and command line.

Only the fast, pure parts: nothing here starts a server or measures a client. The harness
lives in ``benchmarks/`` as scripts that import each other by file name, so the directory is
put on ``sys.path`` and the modules are loaded by name.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import math
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
plan = importlib.import_module("bench_plan")
report = importlib.import_module("bench_report")
runners = importlib.import_module("bench_runners")
worker = importlib.import_module("bench_worker")


def _load_runner() -> ModuleType:
    # run.py is loaded under a name of its own: "run" is too common to put in sys.modules.
    spec = importlib.util.spec_from_file_location("benchmarks_run", BENCHMARKS / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load_runner()


def _scenario(name: str = "small", **changes: Any) -> Any:
    found = next(s for s in plan.scenarios(quick=True) if s.name == name)
    return found if not changes else type(found)(**{**found.__dict__, **changes})


def _result(scenario: Any, cpus: dict[str, list[float]], peaks: dict[str, int]) -> Any:
    peers = []
    for entry in scenario.entries:
        peer = report.PeerResult(entry)
        if entry.name in cpus:
            measured = worker.Measurement(
                walls=cpus[entry.name], cpus=cpus[entry.name], trace_peak=peaks.get(entry.name, 0)
            )
            peer.runs.append(measured)
        else:
            peer.problem = "skipped: not measured here"
        peers.append(peer)
    return report.ScenarioResult(scenario, 1000, peers)


def test_spread_is_the_median_and_interquartile_range() -> None:
    spread = report.Spread.of([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (spread.median, spread.low, spread.high) == (3.0, 2.0, 4.0)
    assert spread.format() == "3.00x (2.00-4.00)"
    assert report.Spread.of([1.5]).format() == "1.50x"
    assert math.isnan(report.Spread.of([]).median)
    assert report.Spread.of([]).format() == "-"
    assert report.Spread.of([12.34]).format(" ms", 1) == "12.3 ms"


def test_ratios_pair_each_rep_with_the_reference_rep_of_the_same_turn() -> None:
    result = _result(
        _scenario(),
        {"aiohttp": [1.0, 2.0, 4.0], "async-images": [2.0, 3.0, 4.0]},
        {},
    )
    ratio = result.cpu_ratio("async-images", "aiohttp")
    assert ratio.median == 1.5  # 2.0, 1.5 and 1.0
    assert (ratio.low, ratio.high) == (1.25, 1.75)
    assert math.isnan(result.cpu_ratio("images-threads", "aiohttp").median)


def test_ratio_table_has_one_row_per_peer_and_shows_problems() -> None:
    scenario = _scenario()
    result = _result(scenario, {"aiohttp": [0.1, 0.1], "async-images": [0.2, 0.2]}, {})
    table = report.ratio_table([result])
    lines = table.splitlines()
    assert len(lines) == 2 + len(scenario.entries)
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    images = next(line for line in lines if "| async-images:" in line)
    assert "| 2.00x | aiohttp |" in images
    assert "skipped: not measured here" in table


def test_memory_per_body_divides_by_the_responses_in_flight() -> None:
    scenario = _scenario("large")
    result = _result(scenario, {"aiohttp": [1.0], "async-images": [0.5]}, {"async-images": 1500})
    assert scenario.trace_concurrency == 1
    assert result.peak_per_body("async-images").median == 1.5
    assert "1.50x" in report.ratio_table([result])


def test_targets_say_pass_or_above_and_show_the_before_value() -> None:
    scenario = plan.with_before(_scenario(), "/somewhere")
    result = _result(
        scenario,
        {"aiohttp": [1.0, 1.0], "images-threads": [1.5, 1.5], "images-1thread@before": [2.0, 2.0]},
        {},
    )
    cold = {"aiohttp": [0.150, 0.140], "images_async": [0.200, 0.180]}
    table = report.target_table(plan.TARGETS, {"small": result}, cold)
    assert "| small: Images (100 threads) CPU vs bare aiohttp | 1.50x | <= 2x | PASS | - |" in table
    assert "| cold start: images_async ms more than aiohttp | 40.0 ms | <= 25 ms | ABOVE |" in table
    assert "uploads" not in table  # not measured in this run: left out
    cold = {"aiohttp": [0.100], "images_async": [0.12504]}  # 25.04 ms is shown as 25.0 ms
    table = report.target_table(plan.TARGETS, {}, cold)
    assert "| 25.0 ms | <= 25 ms | PASS |" in table
    assert "Images (1 thread)" not in table  # only its "before" twin was measured


def test_the_record_holds_every_rep_and_is_strict_json() -> None:
    result = _result(_scenario(), {"aiohttp": [0.1, 0.2, 0.3]}, {})
    env = {"date": "2026-01-01T00:00:00+00:00", "git": {"commit": "abc", "modified": False}}
    recorded = report.record(env, [result], {"aiohttp": [0.15]}, plan.TARGETS)
    text = json.dumps(recorded, allow_nan=False)
    back = json.loads(text)
    assert back["environment"] == env
    aiohttp = back["scenarios"][0]["peers"][0]
    assert aiohttp["name"] == "aiohttp"
    assert aiohttp["runs"][0]["cpus"] == [0.1, 0.2, 0.3]
    assert back["cold_start_seconds"] == {"aiohttp": [0.15]}
    assert all(target["median"] is None for target in back["targets"])


def test_before_adds_a_twin_of_every_images_async_peer_only() -> None:
    scenario = plan.with_before(_scenario(), "/tree")
    twins = [entry for entry in scenario.entries if entry.tree]
    assert {entry.name for entry in twins} == {
        "async-images@before",
        "images-threads@before",
        "images-1thread@before",
    }
    assert all(entry.client == "images" and entry.tree == "/tree" for entry in twins)


def test_only_keeps_the_references_of_the_peers_it_names_and_bare_aiohttp() -> None:
    chosen = plan.selected(plan.scenarios(quick=True), ["large", "async-images-b64"])
    assert [scenario.name for scenario in chosen] == ["large"]
    names = [entry.name for entry in chosen[0].entries]
    assert names == ["aiohttp", "aiohttp-json", "async-images-b64"]
    assert plan.selected(plan.scenarios(quick=True), ["cold"]) == []  # no peer of any scenario
    only_upload = plan.selected(plan.scenarios(quick=True), ["upload"])
    assert [scenario.name for scenario in only_upload] == ["upload"]
    assert (
        only_upload[0].entries
        == next(s for s in plan.scenarios(True) if s.name == "upload").entries
    )


def test_command_line(tmp_path: Path) -> None:
    args = run.parse(["--quick", "--only", "small", "--json", str(tmp_path / "out.json")])
    assert args.quick
    assert args.only == ["small"]
    assert args.json == tmp_path / "out.json"
    assert run.parse([]).json == BENCHMARKS / "results" / "latest.json"
    (tmp_path / "images_async").mkdir()
    (tmp_path / "images_async" / "__init__.py").write_text("")
    assert run.parse(["--before", str(tmp_path)]).before == str(tmp_path.resolve())


@pytest.mark.parametrize(
    "argv",
    [["--only", "nonsense"], ["--requests", "0"], ["--before", "/nonexistent-tree"]],
)
def test_command_line_refuses(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run.parse(argv)
    assert "error:" in capsys.readouterr().err


def test_the_hand_off_runs_coroutines_for_many_threads() -> None:
    handoff = runners.HandOff()

    async def double(value: int) -> int:
        await asyncio.sleep(0)
        return 2 * value

    results: list[int] = []
    lock = threading.Lock()

    def caller(start: int) -> None:
        for value in range(start, start + 20):
            doubled = handoff.run(double(value))
            with lock:
                results.append(doubled)

    try:
        threads = [threading.Thread(target=caller, args=(20 * i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        handoff.close()
    assert sorted(results) == [2 * value for value in range(80)]


def test_the_hand_off_passes_exceptions_back() -> None:
    handoff = runners.HandOff()

    async def fail() -> None:
        raise LookupError("from the loop thread")

    try:
        with pytest.raises(LookupError, match="from the loop thread"):
            handoff.run(fail())
    finally:
        handoff.close()
