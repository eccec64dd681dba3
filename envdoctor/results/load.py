"""Read a bench results document back, refusing anything else with a one-line reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from envdoctor.bench.results import BENCH_SCHEMA, BENCH_SCHEMA_VERSION, CellResult, StepStats


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


_CELL_FIELDS = {f.name for f in fields(CellResult)}


def _cell(data: Any, index: int) -> CellResult:
    if not isinstance(data, dict):
        raise ResultsError(f"cells[{index}] is not an object")
    known = {k: v for k, v in data.items() if k in _CELL_FIELDS}
    try:
        cell = CellResult(**known)
        if not isinstance(cell.step_times_s, list) or not all(isinstance(t, (int, float)) for t in cell.step_times_s):
            raise TypeError("step_times_s is not a list of numbers")
        if cell.stats is not None:
            cell.stats = StepStats(**cell.stats)  # type: ignore[arg-type]
    except TypeError as exc:
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
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(document, dict) or document.get("schema") != BENCH_SCHEMA:
        raise ResultsError(f"{path} is not an envdoctor bench results document (no \"schema\": \"{BENCH_SCHEMA}\")")
    if document.get("schema_version") != BENCH_SCHEMA_VERSION:
        raise ResultsError(f"{path} has schema version {document.get('schema_version')}; this envdoctor reads "
                           f"version {BENCH_SCHEMA_VERSION}")
    cells = document.get("cells")
    if not isinstance(cells, list):
        raise ResultsError(f"{path} has no list of cells")
    return BenchResults(path, dict(document.get("fingerprint") or {}), dict(document.get("config") or {}),
                        tuple(_cell(c, i) for i, c in enumerate(cells)))
