"""Bench progress and the results table."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Callable, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from envdoctor.results.model import CellResult, SweepResult
from envdoctor.results.noise import CellNoise

_STATUS_STYLE = {"ok": "green", "skipped": "dim"}


@contextmanager
def bench_progress(total: int) -> Iterator[Callable[[int, str], None]]:
    """A progress bar on stderr (cell i of N, elapsed, ETA); one line per cell when stderr is not a terminal."""
    console = Console(file=sys.stderr)
    if not console.is_terminal:
        yield lambda index, label: console.print(f"cell {index}/{total}: {label}", highlight=False)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("bench", total=total)

        def advance(index: int, label: str) -> None:
            progress.update(task, completed=index - 1, description=f"{label}")
        yield advance


def _bytes(n: Optional[int]) -> str:
    if n is None:
        return "-"
    return f"{n / 1024**3:.2f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def _throughput(cell: CellResult) -> str:
    """Tokens/s for the transformer, else samples/s; global (all ranks) for DDP cells."""
    if cell.tokens_per_s is not None:
        return f"{cell.tokens_per_s:,.0f} tok/s"
    samples = cell.total_samples_per_s
    return f"{samples:,.1f} /s" if samples is not None else "-"


def bench_table(cells: Sequence[CellResult], title: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", pad_edge=False)
    table.add_column("workload · mode · device", no_wrap=True)
    for header in ("batch", "throughput", "speedup", "ms/step ± IQR", "peak mem", "MFU", "compile s", "status"):
        table.add_column(header, justify="left" if header == "status" else "right", no_wrap=True)
    for c in cells:
        stats = c.stats
        step = f"{stats.median_s * 1000:.2f} ± {stats.iqr_s * 1000:.2f}" if stats else "-"
        speedup = f"{c.speedup_vs_eager:.2f}x" if c.speedup_vs_eager is not None else "-"
        if c.eager_batch_size is not None:  # samples/s against eager's at another batch
            speedup += f" (eager: batch {c.eager_batch_size})"
        table.add_row(f"{c.workload} · {c.mode} · {c.device}", str(c.batch_size), _throughput(c), speedup, step,
                      _bytes(c.peak_memory_bytes), f"{c.mfu:.1%}" if c.mfu is not None else "N/A",
                      f"{c.compile_s:.1f}" if c.compile_s is not None else "-",
                      Text(c.status, style=_STATUS_STYLE.get(c.status, "bold red")))
    return table


def render_bench(console: Console, cells: Sequence[CellResult], title: str) -> None:
    console.print(bench_table(cells, title))
    for cell in cells:
        if cell.world_size and cell.samples_per_s is not None:
            scaling = (f", weak-scaling speedup {cell.scaling_speedup:.2f}x, efficiency {cell.scaling_efficiency:.0%}"
                       if cell.scaling_speedup is not None and cell.scaling_efficiency is not None else "")
            console.print(f"{cell.key}: {cell.world_size} ranks, {cell.samples_per_s:,.1f} samples/s per rank"
                          f"{scaling}", highlight=False, soft_wrap=True)
    for cell in cells:
        if cell.status != "ok":
            style = _STATUS_STYLE.get(cell.status, "red")
            console.print(Text(f"{cell.key}: {cell.status}: {cell.reason}", style=style), soft_wrap=True)


def render_sweeps(console: Console, sweeps: Sequence[SweepResult]) -> None:
    """DDP scaling is in the cells; the all-reduce sweep shows whether the interconnect explains it."""
    for sweep in sweeps:
        if sweep.status != "ok":
            console.print(Text(f"all-reduce {sweep.device}: {sweep.status}: {sweep.reason}", style="red"),
                          soft_wrap=True)
            continue
        table = Table(title=f"all-reduce {sweep.device} ({sweep.backend})", caption="busbw = algbw x 2(n-1)/n",
                      title_justify="left", title_style="bold", pad_edge=False)
        for header in ("bytes", "time us", "algbw GB/s", "busbw GB/s"):
            table.add_column(header, justify="right", no_wrap=True)
        for row in sweep.rows:
            table.add_row(f"{int(row['bytes']):,}", f"{row['time_s'] * 1e6:,.1f}", f"{row['algbw_gbps']:.3f}",
                          f"{row['busbw_gbps']:.3f}")
        console.print(table)
        for gpu in sweep.topology:
            console.print(Text(f"{gpu['device']} {gpu['name']} (NVML #{gpu['nvml_index']}): NVLink links "
                               f"{gpu['nvlink_active_links']}, PCIe {gpu['pcie']}"))


def render_noise(console: Console, cells: Sequence[CellNoise], gate: Optional[float]) -> None:
    """`bench --noise`: each cell's spread across rounds and the smallest gate it can hold."""
    table = Table(title="Run-to-run noise on this machine (each round a fresh process)", title_justify="left",
                  title_style="bold", pad_edge=False)
    for header in ("cell", "rounds", "spread", "smallest gate", "busy rounds"):
        table.add_column(header, justify="left" if header == "cell" else "right", no_wrap=True)
    for cell in cells:
        table.add_row(cell.key, str(cell.rounds), f"{cell.spread:.0%}" if cell.spread is not None else "-",
                      f"{cell.gate:.0%}" if cell.gate is not None else "-", str(cell.contended_rounds))
    console.print(table)
    if gate is not None:
        console.print(Text(f"this machine can gate samples_per_s at {gate:.0%} (95% of pairs of identical rounds "
                           f"stay within it){'' if gate <= 0.05 else ', not 5%'}: --gate samples_per_s:"
                           f"{gate * 100:.0f}%", style="bold"), soft_wrap=True)
