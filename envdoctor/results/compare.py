"""Compare a run against a baseline: per cell, a ratio with a bootstrap confidence interval, and a verdict that is
a regression only when the whole interval lies beyond the gate's threshold."""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from envdoctor.results.load import BenchResults
from envdoctor.results.model import CellResult, quantile

# Fingerprint fields that make two runs incomparable; volatile ones (hostname, clocks) never block.
BLOCKING_FIELDS = ("gpus", "gpu_count", "driver_branch", "cuda", "cudnn", "torch")
BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95
# The run-to-run noise assumed where a run has one round and so cannot show its own: identical single-process
# runs on shared machines differ by tens of percent (on the 2-core development VM, 14.8k to 22.7k samples/s, 53%).
SINGLE_ROUND_NOISE = 0.5
# Worse status order: a status later in this list than the baseline's is a regression.
STATUS_RANK = {"ok": 0, "skipped": 1, "timeout": 2, "oom": 2, "compile_error": 2, "error": 2, "crashed": 2}


@dataclass(frozen=True)
class Gate:
    metric: str  # "samples_per_s", "peak_memory", "compile_s"
    threshold: float  # 0.05 for 5%
    higher_is_better: bool

    @property
    def label(self) -> str:
        return f"{self.metric}:{self.threshold * 100:g}%"


METRICS = {"samples_per_s": True, "peak_memory": False, "compile_s": False}
DEFAULT_GATE = "samples_per_s:5%"


def parse_gate(text: str) -> Gate:
    """"samples_per_s:5%" → a gate; ValueError with a one-line reason otherwise."""
    match = re.fullmatch(r"\s*(\w+)\s*:\s*(\d+(?:\.\d+)?)\s*%\s*", text)
    if match is None or match.group(1) not in METRICS:
        raise ValueError(f"--gate {text!r}: expected METRIC:PERCENT with METRIC one of {', '.join(METRICS)}, "
                         "e.g. samples_per_s:5%")
    threshold = float(match.group(2)) / 100
    if not 0 < threshold <= 1:
        raise ValueError(f"--gate {text!r}: the threshold must be above 0% and at most 100%")
    return Gate(match.group(1), threshold, METRICS[match.group(1)])


@dataclass(frozen=True)
class CellComparison:
    key: str
    gate: Gate
    baseline: Optional[float]  # the metric's value (for samples_per_s: batch / median step)
    current: Optional[float]
    ratio: Optional[float]  # current / baseline
    low: Optional[float]  # confidence interval of the ratio
    high: Optional[float]
    verdict: str  # regressed, improved, unchanged, inconclusive, status-regressed, status-improved
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    cells: tuple[CellComparison, ...]
    only_baseline: tuple[str, ...]
    only_current: tuple[str, ...]
    env_differences: tuple[str, ...]  # "torch: 2.4.1+cu121 → 2.5.1+cu124"
    allowed_env_change: bool
    gates: tuple[Gate, ...] = field(default_factory=tuple)

    @property
    def regressions(self) -> tuple[CellComparison, ...]:
        return tuple(c for c in self.cells if c.verdict in ("regressed", "status-regressed"))


class IncomparableError(ValueError):
    """The runs differ in what they ran on; the message names each difference."""


def env_differences(baseline: BenchResults, current: BenchResults) -> list[str]:
    differences = []
    for name in BLOCKING_FIELDS:
        a, b = baseline.fingerprint.get(name), current.fingerprint.get(name)
        if a != b:
            differences.append(f"{name}: {a} -> {b}")
    presets_a, presets_b = baseline.config.get("presets"), current.config.get("presets")
    if presets_a != presets_b:
        differences.append(f"preset: {presets_a} -> {presets_b}")
    current_cells = current.by_key()
    for key, base in baseline.by_key().items():  # a batch is the work measured, as much as a preset is
        cur = current_cells.get(key)
        if cur is not None and cur.batch_size != base.batch_size:
            differences.append(f"batch of {key}: {base.batch_size} -> {cur.batch_size}")
    return differences


def _median_of(rounds: Sequence[Sequence[float]], rng: random.Random) -> float:
    """One hierarchical bootstrap draw: rounds with replacement, then steps within each chosen round."""
    chosen = [rounds[rng.randrange(len(rounds))] for _ in rounds]
    pooled = [value for r in chosen for value in rng.choices(r, k=len(r))]
    return statistics.median(pooled)


def throughput_interval(base: CellResult, cur: CellResult, seed: int = 0) -> tuple[float, float, float]:
    """The ratio current/baseline of throughput (baseline median step / current), and its 95% interval.

    Resampling rounds as well as steps carries run-to-run noise into the interval: steps of one process are
    correlated, and processes differ (on a busy or virtual machine by far more than a few percent)."""
    rng = random.Random(seed)
    base_rounds, cur_rounds = base.rounds(), cur.rounds()
    ratios = sorted(_median_of(base_rounds, rng) / _median_of(cur_rounds, rng) for _ in range(BOOTSTRAP_RESAMPLES))
    point = statistics.median(base.step_times_s) / statistics.median(cur.step_times_s)
    tail = (1 - CONFIDENCE) / 2
    return point, quantile(ratios, tail), quantile(ratios, 1 - tail)


def _verdict(low: float, high: float, threshold: float) -> str:
    """Ratios are oriented so that above 1 is better; `threshold` is the larger of the gate and the noise."""
    if high < 1 - threshold:
        return "regressed"
    if low > 1 + threshold:
        return "improved"
    if low >= 1 - threshold and high <= 1 + threshold:
        return "unchanged"
    return "inconclusive"


def _round_spread(cell: CellResult) -> Optional[float]:
    """How far the slowest round's median step lies above the fastest's (0.3 for 30%); None with one round. A
    round is one launch (for a DDP cell, the median across its ranks)."""
    medians = cell.round_medians_s
    return max(medians) / min(medians) - 1 if len(medians) > 1 else None


def noise(base: CellResult, cur: CellResult) -> tuple[float, str]:
    """The run-to-run noise the two runs show (the larger round spread, as the throughput ratio it can fake), and
    where it comes from; SINGLE_ROUND_NOISE, stated, where a run has one round and so cannot show its own."""
    spreads = [_round_spread(base), _round_spread(cur)]
    known = [s for s in spreads if s is not None]
    if len(known) < 2:
        return SINGLE_ROUND_NOISE, (f"a single-round run cannot show run-to-run noise, so {SINGLE_ROUND_NOISE:.0%} "
                                    "is assumed")
    spread = max(known)
    return 1 - 1 / (1 + spread), f"this machine's rounds of one run differ by up to {spread:.0%}"


def _settle(threshold: float, why: str, rounds: int) -> str:
    """What would settle an inconclusive comparison: a wider gate, or more rounds to measure the noise."""
    gate = min(100, 5 * (int(threshold * 100) // 5 + 1))
    return f"{why}; gate at {gate}% or run with --repeat {max(3, rounds + 2)}"


def metric_value(cell: CellResult, metric: str) -> Optional[float]:
    """A cell's value of a gate's metric (samples_per_s: the whole cell's, every rank together)."""
    if metric == "samples_per_s":
        return cell.total_samples_per_s
    if metric == "peak_memory":
        return float(cell.peak_memory_bytes) if cell.peak_memory_bytes else None
    return cell.compile_s


def compare_cell(base: CellResult, cur: CellResult, gate: Gate) -> CellComparison:
    if base.status != cur.status and (base.status != "ok" or cur.status != "ok"):
        worse = STATUS_RANK.get(cur.status, 2) > STATUS_RANK.get(base.status, 2)
        return CellComparison(base.key, gate, None, None, None, None, None,
                              "status-regressed" if worse else "status-improved",
                              f"{base.status} -> {cur.status}: {cur.reason or ''}".strip())
    a, b = metric_value(base, gate.metric), metric_value(cur, gate.metric)
    if base.status != "ok" or a is None or b is None:
        return CellComparison(base.key, gate, a, b, None, None, None, "unchanged", f"not measured ({cur.status})")
    busy = cur.contended or base.contended
    busy_note = f"the machine was busy ({busy}): a busy machine cannot show a regression"
    if gate.metric == "samples_per_s" and base.step_times_s and cur.step_times_s:
        point, low, high = throughput_interval(base, cur)
        level, why = noise(base, cur)
        threshold = max(gate.threshold, level)
        verdict = _verdict(low, high, threshold)
        if verdict in ("regressed", "inconclusive") and busy:  # a busy round also swells the noise: say why
            return CellComparison(base.key, gate, a, b, point, low, high, "inconclusive", busy_note)
        if verdict != "regressed" and threshold > gate.threshold and high < 1 - gate.threshold:
            verdict = "inconclusive"  # beyond the gate, but within what noise alone does here
        note = _settle(threshold, why, len(cur.round_medians_s)) if verdict == "inconclusive" else ""
        return CellComparison(base.key, gate, a, b, point, low, high, verdict, note)
    # A single value per run (memory, compile time): the interval is the point itself.
    oriented = b / a if gate.higher_is_better else a / b
    verdict = _verdict(oriented, oriented, gate.threshold)
    if verdict == "regressed" and busy and gate.metric == "compile_s":
        return CellComparison(base.key, gate, a, b, b / a, b / a, b / a, "inconclusive", busy_note)
    return CellComparison(base.key, gate, a, b, b / a, b / a, b / a, verdict, "one value per run: no interval")


def compare(baseline: BenchResults, current: BenchResults, gates: Sequence[Gate],
            allow_env_change: bool = False) -> Comparison:
    differences = env_differences(baseline, current)
    if differences and not allow_env_change:
        raise IncomparableError("the runs are on different machines or software: " + "; ".join(differences)
                                + " (pass --allow-env-change to compare a deliberate upgrade)")
    base_cells, cur_cells = baseline.by_key(), current.by_key()
    common = [k for k in base_cells if k in cur_cells]
    if not common:
        raise IncomparableError("the two runs have no cell in common")
    results = tuple(compare_cell(base_cells[k], cur_cells[k], gate) for gate in gates for k in common)
    return Comparison(results, tuple(k for k in base_cells if k not in cur_cells),
                      tuple(k for k in cur_cells if k not in base_cells), tuple(differences), allow_env_change,
                      tuple(gates))
