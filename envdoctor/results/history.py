"""Many runs of one machine, oldest first: one metric per cell across runs, with the changes the gate would call
and the environment changes (torch, driver) that may explain them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from envdoctor.results.compare import Gate, compare_cell, env_differences, metric_value
from envdoctor.results.load import BenchResults


@dataclass(frozen=True)
class Point:
    value: Optional[float]  # the metric in this run; None when the cell did not run or measured nothing
    change: str = ""  # the gate's verdict against the cell's previous run: "regressed", "improved", "" otherwise
    note: str = ""


@dataclass(frozen=True)
class History:
    runs: tuple[str, ...]  # each run's label (its file)
    gate: Gate
    cells: tuple[tuple[str, tuple[Point, ...]], ...]  # (cell key, one point per run)
    env_changes: tuple[tuple[int, tuple[str, ...]], ...]  # (run index, what changed since the run before it)


def history(runs: Sequence[BenchResults], gate: Gate) -> History:
    """Each cell's metric per run. A change point is where the gate, comparing a run with the cell's previous
    measured run, says regressed or improved (the noise rules included); environment changes are listed where
    they happen, never refused."""
    by_run = [run.by_key() for run in runs]
    keys = list(dict.fromkeys(key for cells in by_run for key in cells))
    rows = []
    for key in keys:
        points: list[Point] = []
        previous = None
        for cells in by_run:
            cell = cells.get(key)
            if cell is None:
                points.append(Point(None))
                continue
            change, note = "", ""
            if previous is not None:
                judged = compare_cell(previous, cell, gate)
                if judged.verdict in ("regressed", "improved", "status-regressed", "status-improved"):
                    change, note = judged.verdict.removeprefix("status-"), judged.note
            points.append(Point(metric_value(cell, gate.metric), change, note))
            previous = cell
        rows.append((key, tuple(points)))
    differences = [tuple(env_differences(before, after)) for before, after in zip(runs, runs[1:])]
    changes = tuple((i, found) for i, found in enumerate(differences, start=1) if found)
    return History(tuple(run.path for run in runs), gate, tuple(rows), changes)
