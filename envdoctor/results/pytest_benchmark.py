"""A bench run in pytest-benchmark's JSON layout: step times in `stats` (seconds per step, so "bigger is worse"
holds), everything else in `extra_info`, so tools that read that format (pytest-benchmark compare,
github-action-benchmark's `stats.ops`) can show envdoctor's runs."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from envdoctor.results.model import CellResult, quantile

PYTEST_BENCHMARK_VERSION = "5.1.0"  # the layout written; pytest-benchmark 4 and 5 read it


def _stats(times: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(times)
    q1, q3 = quantile(ordered, 0.25), quantile(ordered, 0.75)
    iqr = q3 - q1
    mean = statistics.fmean(ordered)
    stddev = statistics.stdev(ordered) if len(ordered) > 1 else 0.0
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    ld15 = min((t for t in ordered if t >= low), default=ordered[0])
    hd15 = max((t for t in ordered if t <= high), default=ordered[-1])
    iqr_outliers = sum(1 for t in ordered if t < low or t > high)
    stddev_outliers = sum(1 for t in ordered if abs(t - mean) > stddev)
    return {"min": ordered[0], "max": ordered[-1], "mean": mean, "stddev": stddev, "rounds": len(ordered),
            "median": quantile(ordered, 0.5), "iqr": iqr, "q1": q1, "q3": q3, "iqr_outliers": iqr_outliers,
            "stddev_outliers": stddev_outliers, "outliers": f"{stddev_outliers};{iqr_outliers}", "ld15iqr": ld15,
            "hd15iqr": hd15, "ops": 1 / mean, "total": sum(ordered), "iterations": 1, "data": list(times)}


def export(cells: Sequence[CellResult], fingerprint: dict[str, Any], created: str) -> dict[str, Any]:
    benchmarks = []
    for cell in cells:
        if cell.status != "ok" or not cell.step_times_s:
            continue
        benchmarks.append({
            "group": cell.workload, "name": cell.key, "fullname": f"envdoctor::{cell.key}", "params": None,
            "param": None,
            "extra_info": {"samples_per_s": cell.total_samples_per_s,
                           "tokens_per_s": cell.tokens_per_s, "peak_memory_bytes": cell.peak_memory_bytes,
                           "mfu": cell.mfu, "compile_s": cell.compile_s, "batch_size": cell.batch_size,
                           "preset": cell.preset, "settings": cell.settings},
            "options": {"disable_gc": False, "timer": "envdoctor (perf_counter; CUDA events on GPUs)",
                        "min_rounds": len(cell.step_times_s), "max_time": None, "min_time": None, "warmup": True},
            "stats": _stats(cell.step_times_s),
        })
    machine = {"node": (fingerprint.get("volatile") or {}).get("hostname"), "processor": fingerprint.get("cpu"),
               "python_version": fingerprint.get("python"), "envdoctor": fingerprint}
    return {"machine_info": machine, "commit_info": {"id": fingerprint.get("git_commit")}, "benchmarks": benchmarks,
            "datetime": created, "version": PYTEST_BENCHMARK_VERSION}
