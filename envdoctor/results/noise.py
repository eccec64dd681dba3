"""A machine's own run-to-run noise, from rounds of the same cells in fresh processes (`bench --noise N`): how far
identical runs differ, and so the smallest gate this machine can hold without crying wolf."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from envdoctor.results.model import CellResult, quantile

CONFIDENCE = 0.95


@dataclass(frozen=True)
class CellNoise:
    key: str
    rounds: int
    spread: Optional[float]  # the slowest round's median step over the fastest's, minus 1
    gate: Optional[float]  # the smallest samples_per_s gate that 95% of pairs of these rounds stay within
    contended_rounds: int  # rounds during which other processes were busy (their figures are in the results)


def noise_gate(medians: Sequence[float]) -> Optional[float]:
    """The throughput change that pairs of identical rounds stay within, at CONFIDENCE: the quantile of
    |1 - m_i / m_j| over every ordered pair, rounded up to a whole percent. None with fewer than two rounds."""
    if len(medians) < 2:
        return None
    changes = sorted(abs(1 - a / b) for i, a in enumerate(medians) for j, b in enumerate(medians) if i != j)
    return math.ceil(quantile(changes, CONFIDENCE) * 100) / 100


def cell_noise(cell: CellResult) -> CellNoise:
    medians = cell.round_medians_s
    spread = max(medians) / min(medians) - 1 if len(medians) > 1 else None
    return CellNoise(cell.key, len(medians), spread, noise_gate(medians),
                     sum(bool(share.get("contended")) for share in cell.cpu_shares))


def machine_gate(cells: Sequence[CellNoise]) -> Optional[float]:
    """The gate every measured cell can hold: the widest cell's."""
    gates = [c.gate for c in cells if c.gate is not None]
    return max(gates) if gates else None


def machine_noise(cells: Sequence[CellResult]) -> tuple[list[CellNoise], Optional[float]]:
    """Each measured cell's noise, and the gate all of them can hold (`bench --noise`'s table and document)."""
    noises = [cell_noise(c) for c in cells if c.status == "ok"]
    return noises, machine_gate(noises)
