"""Read a bench results document back, refusing anything else with a one-line reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor.plain import from_plain, parse_json
from envdoctor.results.model import BENCH_SCHEMA, READABLE_SCHEMA_VERSIONS, STATUSES, CellResult


class ResultsError(ValueError):
    """Not a usable results document; the message is one line."""


@dataclass(frozen=True)
class BenchResults:
    path: str
    fingerprint: dict[str, Any]
    config: dict[str, Any]
    cells: tuple[CellResult, ...]

    def by_key(self) -> dict[str, CellResult]:
        return {c.key: c for c in self.cells}


def _check_cell(cell: CellResult) -> None:
    """What the types alone do not say: the statistics need positive step times, split into rounds that add up."""
    if cell.status not in STATUSES:
        raise ValueError(f"status {cell.status!r} is not one of {', '.join(STATUSES)}")
    if cell.batch_size < 1:
        raise ValueError(f"batch_size {cell.batch_size} is below 1")
    if any(t <= 0 for t in cell.step_times_s) or any(t <= 0 for t in cell.round_medians_s):
        raise ValueError("a step time is 0 or negative")
    if any(n < 1 for n in cell.round_step_counts) or (
            cell.round_step_counts and sum(cell.round_step_counts) != len(cell.step_times_s)):
        raise ValueError(f"round_step_counts {cell.round_step_counts} do not split the "
                         f"{len(cell.step_times_s)} step times into rounds")
    for name in ("samples_per_s", "window_samples_per_s", "tokens_per_s", "peak_allocated_bytes",
                 "peak_reserved_bytes", "peak_rss_bytes", "compile_s", "flops_per_step", "achieved_tflops",
                 "peak_tflops", "mfu", "speedup_vs_eager", "memory_ratio_vs_eager", "global_samples_per_s"):
        value = getattr(cell, name)
        if value is not None and value < 0:
            raise ValueError(f"{name} {value} is negative")


def _cell(data: Any, index: int) -> CellResult:
    try:
        cell: CellResult = from_plain(CellResult, data, f"cells[{index}]")
        _check_cell(cell)
    except ValueError as exc:
        raise ResultsError(f"cells[{index}] is not a bench cell: {exc}") from None
    return cell


def load_results(path: str) -> BenchResults:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ResultsError(f"{path} is not a text file") from None
    if not text.strip():
        raise ResultsError(f"{path} is empty")
    try:
        document = parse_json(text)
    except ValueError as exc:
        raise ResultsError(f"{path}: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != BENCH_SCHEMA:
        raise ResultsError(f"{path} is not an envdoctor bench results document (no \"schema\": \"{BENCH_SCHEMA}\")")
    version = document.get("schema_version")
    if version not in READABLE_SCHEMA_VERSIONS:
        raise ResultsError(f"{path} has schema version {version}; this envdoctor reads versions "
                           f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}")
    cells = document.get("cells")
    if not isinstance(cells, list):
        raise ResultsError(f"{path} has no list of cells")
    for name in ("fingerprint", "config"):
        if not isinstance(document.get(name, {}), dict):
            raise ResultsError(f"{path}: {name} should be an object, not {type(document[name]).__name__}")
    if not isinstance(document.get("config", {}).get("presets", {}), (dict, type(None))):
        raise ResultsError(f"{path}: config.presets should be an object")
    results = tuple(_cell(c, i) for i, c in enumerate(cells))
    if version == 1:
        results = tuple(_launches(c) for c in results)
    return BenchResults(path, dict(document.get("fingerprint") or {}), dict(document.get("config") or {}), results)


def _launches(cell: CellResult) -> CellResult:
    """A version-1 DDP cell counted a round per rank; version 2 counts one per launch, its ranks' steps pooled."""
    world, launches = cell.world_size, len(cell.round_medians_s)
    if not world or not launches or len(cell.round_step_counts) != world * launches:
        return cell
    counts = cell.round_step_counts
    cell.round_step_counts = [sum(counts[i * world:(i + 1) * world]) for i in range(launches)]
    return cell
