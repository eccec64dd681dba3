"""Each bench cell across the nodes that ran it alike (same cell key, device model, batch, dtype and preset), and
the nodes whose throughput is an outlier among them by the modified z-score (results/robust.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from envdoctor.diagnose.fleet.model import CellSpread, Node, NodeScore, Note, Oddity
from envdoctor.results.model import CellResult
from envdoctor.results.robust import OUTLIER_Z, spread

Peers = tuple[str, str, Optional[str], int, str]  # (cell key, device model, dtype, batch, preset)


def device_model(cell: CellResult, fingerprint: dict[str, Any]) -> Optional[str]:
    """The model of the device a cell ran on: torch's name for a GPU (the cell's, else the run's only GPU model), the
    CPU's model and usable threads for a CPU cell; None when the results do not say."""
    if cell.device_name:
        return cell.device_name
    if cell.device.startswith("cpu"):
        cpu, threads = fingerprint.get("cpu"), fingerprint.get("cpu_threads")
        return f"{cpu} ({threads} threads)" if cpu and threads else None
    gpus = set(map(str, fingerprint.get("gpus") or ()))
    return gpus.pop() if len(gpus) == 1 else None


def _describe(value: float, median: float, z: float, n: int, device: str) -> str:
    change = value / median - 1
    return (f"{value:,.1f} samples/s, {abs(change):.0%} {'below' if change < 0 else 'above'} the median "
            f"{median:,.1f} of {n} nodes on {device} (modified z {z:+.2f}; |z| > {OUTLIER_Z})")


def cell_spreads(nodes: Sequence[Node]) -> tuple[list[CellSpread], list[Oddity], list[Note]]:
    measured: dict[Peers, list[tuple[str, float]]] = {}
    failed: dict[Peers, list[tuple[str, CellResult]]] = {}
    notes = []
    for node in nodes:
        results = node.results
        if results is None:
            continue
        for cell in results.cells:
            device = device_model(cell, results.fingerprint)
            if device is None:
                notes.append(Note(node.host, cell.key, "the device's model is not recorded: not compared"))
                continue
            peers = (cell.key, device, cell.settings.get("dtype"), cell.batch_size, cell.preset)
            value, busy = cell.total_samples_per_s, cell.contended
            if cell.status != "ok" or value is None:
                failed.setdefault(peers, []).append((node.host, cell))
            elif busy:
                notes.append(Note(node.host, cell.key, f"not compared: the machine was busy ({busy})"))
            else:
                measured.setdefault(peers, []).append((node.host, value))
    spreads: list[CellSpread] = []
    oddities: list[Oddity] = []
    for peers, values in sorted(measured.items(), key=lambda item: item[0][:2]):
        key, device, dtype, batch, preset = peers
        judged = spread([v for _, v in values])
        scores = tuple(NodeScore(host, v, z) for (host, v), z in zip(values, judged.scores))
        spreads.append(CellSpread(key, device, dtype, batch, preset, judged.median, judged.mad, scores,
                                  judged.not_judged))
        oddities.extend(Oddity(scores[i].host, "throughput", key,
                               _describe(scores[i].samples_per_s, judged.median, scores[i].z or 0.0, len(values),
                                         device))
                        for i in judged.outliers())
    for peers, cells in failed.items():
        ran = len(measured.get(peers, ()))
        for host, cell in cells:
            text = f"{cell.status}{f': {cell.reason}' if cell.reason else ''}"
            if ran:
                oddities.append(Oddity(host, "bench-status", cell.key, f"{text}, where {ran} nodes on {peers[1]} "
                                                                       "measured it"))
            else:
                notes.append(Note(host, cell.key, f"not measured ({text})"))
    return spreads, oddities, notes
