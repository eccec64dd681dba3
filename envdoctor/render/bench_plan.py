"""`bench --dry-run`: the devices as the bench sees them, and what each cell will run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from rich.console import Console
from rich.table import Table
from rich.text import Text

from envdoctor.bench.devices import BenchDevice
from envdoctor.bench.plan import MEMORY_BUDGET, CellPlan


def _gib(n: Optional[int]) -> str:
    return f"{n / 1024**3:.1f} GiB" if n is not None else "unknown"


def _peaks(device: BenchDevice) -> str:
    if device.peak is None:
        return f"N/A: {device.peak_unknown_reason}"
    figures = ", ".join(f"{dtype} {tflops:g}" for dtype, tflops in device.peak.tflops.items())
    return f"{figures} TFLOP/s ({device.peak.name}: {device.peak.source})"


def _row(table: Table, *cells: str) -> None:
    """Machine text (GPU names, reasons) as plain text, never as rich markup."""
    table.add_row(*map(Text, cells))


def devices_table(devices: Sequence[BenchDevice]) -> Table:
    table = Table(title="Devices", title_justify="left", title_style="bold", pad_edge=False)
    for header in ("device", "model", "capability", "memory", "GPU record", "native bf16", "peak (dense)"):
        table.add_column(header, overflow="fold")
    for d in devices:
        record = f"NVML #{d.gpu.index} by {d.gpu_match}" if d.gpu is not None else d.gpu_match
        model = d.model or "unknown"
        bf16 = {True: "yes", False: "no", None: "unknown"}[d.native_bf16]
        _row(table, d.name, model, f"{d.capability[0]}.{d.capability[1]}" if d.capability else "unknown",
             _gib(d.memory_total_bytes), record, bf16, _peaks(d))
    return table


def cells_table(plans: Sequence[CellPlan]) -> Table:
    table = Table(title=f"Cells (memory fitted to {MEMORY_BUDGET:.0%} of each GPU's)", title_justify="left",
                  title_style="bold", pad_edge=False)
    for header in ("workload · mode · device", "preset · batch", "dtype", "est. peak", "MFU peak", "notes"):
        table.add_column(header, overflow="fold", no_wrap=header.startswith("workload"))
    for p in plans:
        notes = [p.batch_why]
        if p.amp is not None:
            notes.append(f"{p.amp.dtype}: {p.amp.why}" if p.amp.dtype else "")
        if p.world:
            notes.append(f"DDP: {p.world} processes" + (f", CUDA_VISIBLE_DEVICES={p.visible_devices}"
                                                       if p.visible_devices else ""))
        if p.skip:
            notes.append(f"skipped: {p.skip}")
        peak = f"{p.peak_tflops:g} TFLOP/s" if p.peak_tflops is not None else f"N/A: {p.peak_source}"
        _row(table, f"{p.workload} · {p.mode.name} · {p.label}", f"{p.preset} · {p.batch}", p.dtype,
             _gib(p.memory.peak_bytes), peak, "; ".join(n for n in notes if n))
    return table


def render_plan(console: Console, devices: Sequence[BenchDevice], plans: Sequence[CellPlan], machine: str) -> None:
    console.print(Text.assemble(("envdoctor bench --dry-run", "bold"), f": the plan for {machine}; nothing was run"))
    console.print(devices_table(devices))
    console.print(cells_table(plans))
