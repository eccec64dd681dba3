"""`bench --dry-run`: the devices as the bench sees them, what each cell will run, and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from rich.console import Console
from rich.table import Table
from rich.text import Text

from envdoctor.bench.devices import BenchDevice
from envdoctor.bench.plan import MEMORY_BUDGET, CellPlan, amp_choice, format_bytes


def _size(n: Optional[int]) -> str:
    return format_bytes(n) if n is not None else "unknown"


def _row(table: Table, *cells: str) -> None:
    """Machine text (GPU names, reasons) as plain text, never as rich markup."""
    table.add_row(*map(Text, cells))


def _peaks(device: BenchDevice) -> str:
    if device.peak is None:
        return f"N/A: {device.peak_unknown_reason}"
    figures = ", ".join(f"{dtype} {tflops:g}" for dtype, tflops in device.peak.tflops.items())
    return f"{figures} ({device.peak.name} row)"


def devices_table(devices: Sequence[BenchDevice], amp_dtype: Optional[str]) -> Table:
    table = Table(title="Devices", title_justify="left", title_style="bold", pad_edge=False)
    for header in ("device", "model", "capability", "memory", "GPU record", "AMP dtype", "dense peak TFLOP/s"):
        table.add_column(header, overflow="fold")
    for d in devices:
        record = f"NVML #{d.gpu.index}, by {d.gpu_match}" if d.gpu is not None else d.gpu_match
        amp = amp_choice(d, amp_dtype)
        _row(table, d.name, d.model or "unknown", f"{d.capability[0]}.{d.capability[1]}" if d.capability else "unknown",
             _size(d.memory_total_bytes), record, f"{amp.dtype}: {amp.why}" if amp.dtype else f"none: {amp.skip}",
             _peaks(d))
    return table


def cells_table(plans: Sequence[CellPlan]) -> Table:
    table = Table(title="Cells", title_justify="left", title_style="bold", pad_edge=False)
    for header in ("workload · mode · device", "preset", "batch", "dtype", "est. peak memory", "MFU peak"):
        table.add_column(header, overflow="fold", no_wrap=header.startswith("workload"))
    for p in plans:
        budget = f" of {_size(p.memory_budget_bytes)}" if p.memory_budget_bytes else ""
        peak = f"{p.peak_tflops:g} TFLOP/s" if p.peak_tflops is not None else "N/A"
        _row(table, f"{p.workload} · {p.mode.name} · {p.label}", p.preset, str(p.batch),
             f"skipped: {p.skip}" if p.skip else p.dtype, f"{_size(p.memory.peak_bytes)}{budget}", peak)
    return table


def _notes(plans: Sequence[CellPlan]) -> list[str]:
    """Each batch's reason once per workload and device, each DDP launch, and each reason MFU is N/A."""
    notes: dict[str, None] = {}
    for p in plans:
        notes[f"{p.workload} on {p.label}: batch {p.batch}, {p.batch_why}"] = None
        if p.world:
            visible = f", CUDA_VISIBLE_DEVICES={p.visible_devices}" if p.visible_devices else ""
            notes[f"{p.label}: DDP over {p.world} processes{visible}; T1 is the single-device cell on "
                  f"{p.gpu.name if p.gpu else p.device}"] = None
        if p.peak_tflops is None:
            notes[f"MFU on {p.label}: N/A, {p.peak_source}"] = None
    return list(notes)


def render_plan(console: Console, devices: Sequence[BenchDevice], plans: Sequence[CellPlan], machine: str,
                amp_dtype: Optional[str]) -> None:
    console.print(Text.assemble(("envdoctor bench --dry-run", "bold"), f": the plan for {machine}; nothing was run"))
    console.print(devices_table(devices, amp_dtype))
    console.print(cells_table(plans))
    console.print(Text(f"Why (GPU batches are fitted to {MEMORY_BUDGET:.0%} of the device's memory):", style="bold"))
    for note in _notes(plans):
        console.print(Text(f"  {note}"))
