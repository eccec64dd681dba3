"""GPUs that run below what they could: clock-event reasons that cost speed (at check time, and while a bench cell
ran), a PCIe link narrower than the GPU's, and a max SM clock, power limit or link width below its peers' (every
GPU of the same model in the fleet). An unknown value is a note, never a verdict."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Union

from envdoctor.diagnose.fleet.model import Node, Note, Oddity
from envdoctor.facts import GpuInfo
from envdoctor.knowledge import ClockEventReason, clock_event_reasons
from envdoctor.results.robust import MIN_PEERS

# GpuInfo fields compared with the peers': (field, check name, label, unit)
PEER_FIELDS = (("sm_clock_max_mhz", "max-clocks", "max SM clock", "MHz"),
               ("power_limit_w", "power-limit", "power limit", "W"),
               ("pcie_width", "pcie", "PCIe link width", "lanes"))
FIELD_LABELS = {"throttle_reasons": "clock-event reasons", "pcie_width": "PCIe link width",
                "pcie_width_max": "max PCIe link width", "sm_clock_max_mhz": "max SM clock",
                "power_limit_w": "power limit"}

Located = tuple[str, GpuInfo]  # (host, GPU)


def _costly(reasons: Sequence[str], under_load: bool) -> tuple[list[ClockEventReason], list[str]]:
    """The active reasons that cost speed (under load: those a busy GPU does not normally show), and the names the
    table does not know."""
    table = clock_event_reasons()
    costly = [table[r] for r in reasons if r in table and table[r].costs_speed
              and not (under_load and table[r].expected_under_load)]
    return costly, [r for r in reasons if r not in table]


def _describe(reasons: Sequence[ClockEventReason]) -> str:
    return "; ".join(f"{r.name} ({r.description})" for r in reasons)


def _gpu_checks(host: str, gpu: GpuInfo) -> tuple[list[Oddity], list[Note]]:
    subject = f"GPU {gpu.index}"
    oddities, notes = [], []
    for name in ("throttle_reasons", "pcie_width", "pcie_width_max", "sm_clock_max_mhz", "power_limit_w"):
        if getattr(gpu, name) is None:
            notes.append(Note(host, subject, f"{FIELD_LABELS[name]} unknown: {gpu.unknown.get(name, 'not reported')}"))
    if gpu.throttle_reasons is not None:
        costly, strange = _costly(gpu.throttle_reasons, under_load=False)
        if costly:
            oddities.append(Oddity(host, "throttling", subject, f"clocks held down at check time: {_describe(costly)}"))
        notes.extend(Note(host, subject, f"clock-event reason {r!r} is not in envdoctor's table: not judged")
                     for r in strange)
    if gpu.pcie_width is not None and gpu.pcie_width_max is not None and gpu.pcie_width < gpu.pcie_width_max:
        oddities.append(Oddity(host, "pcie", subject, f"PCIe link x{gpu.pcie_width} of the GPU's "
                                                      f"x{gpu.pcie_width_max}: fewer lanes than it has"))
    return oddities, notes


def _window_checks(node: Node) -> list[Oddity]:
    """Reasons that cost speed seen while a cell was timed (the sampler leaves gpu_idle out)."""
    oddities = []
    for cell in node.results.cells if node.results else ():
        seen = sorted({str(r) for window in cell.gpu_windows for r in window.get("throttle_reasons") or ()})
        costly, _ = _costly(seen, under_load=True)
        if costly:
            oddities.append(Oddity(node.host, "throttling", cell.key, f"clocks held down while benched: "
                                                                      f"{_describe(costly)}"))
    return oddities


def _number(value: Union[int, float]) -> str:
    return f"{value:g}"


def _peer_checks(model: str, gpus: Sequence[Located],
                 narrowed: set[tuple[str, str]]) -> tuple[list[Oddity], list[Note]]:
    """Each GPU whose value is below the median of every GPU of `model` in the fleet (itself included); a link
    already found narrower than its own GPU's (`narrowed`) is not named twice."""
    oddities, notes = [], []
    for name, check, label, unit in PEER_FIELDS:
        known = [(host, gpu, getattr(gpu, name)) for host, gpu in gpus if getattr(gpu, name) is not None]
        if 0 < len(known) < MIN_PEERS:
            notes.append(Note(None, model, f"{label}: too few peers to judge ({len(known)} {model} with it known; "
                                           f"at least {MIN_PEERS} needed)"))
        if len(known) < MIN_PEERS:
            continue
        median = statistics.median(value for _, _, value in known)
        for host, gpu, value in known:
            subject = f"GPU {gpu.index}"
            if value < median and not (check == "pcie" and (host, subject) in narrowed):
                oddities.append(Oddity(host, check, subject, f"{label} {_number(value)} {unit}, below the "
                                                             f"{_number(median)} {unit} of its peers (the median of "
                                                             f"{len(known)} {model})"))
    return oddities, notes


def gpu_oddities(nodes: Sequence[Node]) -> tuple[list[Oddity], list[Note]]:
    oddities, notes = [], []
    by_model: dict[str, list[Located]] = {}
    for node in nodes:
        oddities.extend(_window_checks(node))
        for gpu in node.facts.nvidia.gpus if node.facts else ():
            found, unknown = _gpu_checks(node.host, gpu)
            oddities.extend(found)
            notes.extend(unknown)
            if gpu.name is not None:
                by_model.setdefault(gpu.name, []).append((node.host, gpu))
    narrowed = {(o.host, o.subject) for o in oddities if o.check == "pcie"}
    for model, gpus in by_model.items():
        found, unknown = _peer_checks(model, gpus, narrowed)
        oddities.extend(found)
        notes.extend(unknown)
    return oddities, notes

