"""Turning measurements into ratios, the printed tables and the JSON record.

Every ratio is *paired*: rep ``k`` of a peer (one timed batch; reps are numbered over the
worker processes in turn order, then rounds) is divided by rep ``k`` of its reference, which
ran in the same turn. A ratio is shown as the median of those paired ratios and, in
brackets, their interquartile range (25th-75th percentile). Memory ratios pair the traced
peaks of the worker processes the same way.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from bench_plan import BEFORE, Entry, Scenario, Target
from bench_worker import Measurement

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Spread:
    """The median of some values and their interquartile range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(math.nan, math.nan, math.nan)
        if len(values) == 1:
            return cls(values[0], values[0], values[0])
        low, _, high = statistics.quantiles(values, n=4, method="inclusive")
        return cls(statistics.median(values), low, high)

    def format(self, unit: str = "x", digits: int = 2) -> str:
        if math.isnan(self.median):
            return "-"
        text = f"{self.median:.{digits}f}{unit}"
        if self.high - self.low >= 0.5 * 10**-digits:
            text += f" ({self.low:.{digits}f}-{self.high:.{digits}f})"
        return text


@dataclasses.dataclass
class PeerResult:
    """Every worker's measurement of one peer in one scenario."""

    entry: Entry
    runs: list[Measurement] = dataclasses.field(default_factory=list)
    problem: str = ""
    """Why there are no numbers: ``skipped: ...`` or ``failed: ...``."""

    @property
    def cpus(self) -> list[float]:
        return [cpu for run in self.runs for cpu in run.cpus]

    @property
    def peaks(self) -> list[float]:
        return [float(run.trace_peak) for run in self.runs if run.trace_peak]


def _paired(values: Sequence[float], references: Sequence[float]) -> Spread:
    return Spread.of([v / r for v, r in zip(values, references, strict=False) if r > 0])


@dataclasses.dataclass
class ScenarioResult:
    scenario: Scenario
    body_size: int
    """Bytes of the response body each call gets."""
    peers: list[PeerResult]

    def find(self, name: str) -> PeerResult | None:
        for peer in self.peers:
            if peer.entry.name == name and not peer.problem:
                return peer
        return None

    def cpu_ratio(self, name: str, reference: str) -> Spread:
        peer, base = self.find(name), self.find(reference)
        return _paired(peer.cpus, base.cpus) if peer and base else Spread.of([])

    def peak_ratio(self, name: str, reference: str) -> Spread:
        peer, base = self.find(name), self.find(reference)
        return _paired(peer.peaks, base.peaks) if peer and base else Spread.of([])

    def rss_growth(self, name: str) -> Spread:
        """MiB the peak RSS of each of the peer's workers grew by over its timed rounds."""
        peer = self.find(name)
        return Spread.of([run.rss_growth / MIB for run in peer.runs]) if peer else Spread.of([])

    def peak_per_body(self, name: str) -> Spread:
        peer = self.find(name)
        in_flight = self.scenario.trace_concurrency * self.body_size
        if peer is None or not in_flight:
            return Spread.of([])
        return Spread.of([peak / in_flight for peak in peer.peaks])


def _mib(size: float) -> str:
    """MiB, with two decimals below 10 MiB so small peaks still compare."""
    mib = size / MIB
    return f"{mib:.2f}" if mib < 10 else f"{mib:.1f}"


def ratio_table(results: Sequence[ScenarioResult]) -> str:
    """One Markdown table: every peer of every scenario, as ratios to its reference."""
    head = [
        "scenario",
        "peer",
        "in flight",
        "CPU ms/call",
        "CPU vs ref",
        "ref",
        "peak MiB",
        "peak vs ref",
        "peak / body",
        "CPU vs before",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for result in results:
        scenario = result.scenario
        for peer in result.peers:
            entry = peer.entry
            cells = [scenario.name, f"{entry.name}: {entry.label}", entry.spread_label]
            if peer.problem:
                cells += [peer.problem] + ["-"] * (len(head) - len(cells) - 1)
            else:
                per_call = 1000 * statistics.median(peer.cpus) / scenario.requests
                peaks = Spread.of(peer.peaks)
                before = entry.name + BEFORE
                cells += [
                    f"{per_call:.3f}" if per_call < 1 else f"{per_call:.2f}",
                    result.cpu_ratio(entry.name, entry.reference).format(),
                    entry.reference if entry.reference != entry.name else "-",
                    _mib(peaks.median) if peer.peaks else "-",
                    result.peak_ratio(entry.name, entry.reference).format(),
                    result.peak_per_body(entry.name).format() if scenario.response_memory else "-",
                    result.cpu_ratio(entry.name, before).format() if result.find(before) else "-",
                ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cold_table(times: Mapping[str, Sequence[float]]) -> str:
    """Best and median milliseconds of each cold-start statement, and best minus aiohttp's."""
    head = ["import + construct", "best ms", "median ms", "best - aiohttp ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    base = min(times["aiohttp"]) if times.get("aiohttp") else math.nan
    for name, values in times.items():
        if not values:
            continue
        best = 1000 * min(values)
        lines.append(
            f"| {name} | {best:.1f} | {1000 * statistics.median(values):.1f} | "
            f"{best - 1000 * base:+.1f} |"
        )
    return "\n".join(lines)


def target_value(
    target: Target,
    results: Mapping[str, ScenarioResult],
    cold: Mapping[str, Sequence[float]],
    suffix: str = "",
) -> Spread:
    """The measured value of a target (``suffix``: of the peer's "before" twin)."""
    peer = target.peer + suffix
    if target.metric == "ms":
        values, base = cold.get(peer), cold.get(target.reference)
        if not values or not base:
            return Spread.of([])
        return Spread.of([1000 * (min(values) - min(base))])
    result = results.get(target.scenario)
    if result is None:
        return Spread.of([])
    if target.metric == "cpu":
        return result.cpu_ratio(peer, target.reference)
    if target.metric == "peak":
        return result.peak_ratio(peer, target.reference)
    if target.metric == "rss":
        return result.rss_growth(peer)
    return result.peak_per_body(peer)


def target_table(
    targets: Sequence[Target],
    results: Mapping[str, ScenarioResult],
    cold: Mapping[str, Sequence[float]],
) -> str:
    """PASS or ABOVE for every target that was measured, with the "before" value if any."""
    head = ["target", "measured", "limit", "verdict", "before"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for target in targets:
        value = target_value(target, results, cold)
        if math.isnan(value.median):
            continue
        unit = {"ms": " ms", "rss": " MiB"}.get(target.metric, "x")
        digits = 1 if target.metric in ("ms", "rss") else 2
        # Judged on the value as shown, so the verdict never contradicts the printed number.
        verdict = "PASS" if round(value.median, digits) <= target.limit else "ABOVE"
        before = target_value(target, results, cold, BEFORE).format(unit, digits)
        lines.append(
            f"| {target.text} | {value.format(unit, digits)} | <= {target.limit:g}{unit} | "
            f"{verdict} | {before} |"
        )
    return "\n".join(lines)


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value  # JSON has no NaN


def record(
    environment: Mapping[str, Any],
    results: Sequence[ScenarioResult],
    cold: Mapping[str, Sequence[float]],
    targets: Sequence[Target],
) -> dict[str, Any]:
    """Everything measured, raw, for the JSON file: every rep of every peer."""
    by_name = {result.scenario.name: result for result in results}
    return {
        "environment": dict(environment),
        "scenarios": [
            {
                "name": result.scenario.name,
                "title": result.scenario.title,
                "requests_per_batch": result.scenario.requests,
                "body_bytes": result.body_size,
                "trace_concurrency": result.scenario.trace_concurrency,
                "peers": [
                    {
                        **dataclasses.asdict(peer.entry),
                        "problem": peer.problem,
                        "runs": [dataclasses.asdict(run) for run in peer.runs],
                    }
                    for peer in result.peers
                ],
            }
            for result in results
        ],
        "cold_start_seconds": {name: list(values) for name, values in cold.items()},
        "targets": [
            {
                **dataclasses.asdict(target),
                "median": _number(target_value(target, by_name, cold).median),
                "before": _number(target_value(target, by_name, cold, BEFORE).median),
            }
            for target in targets
        ],
    }
