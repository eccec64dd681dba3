"""Derivation, pure: a cell process's (or a DDP launch's) raw outcome merged into its cell's record, and the
metrics that follow (throughput, window throughput, MFU, speedups over eager, DDP scaling). The runner only starts
and watches processes; everything computed from what they measured is here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from envdoctor.bench.spec import LaunchOutcome, RoundOutcome
from envdoctor.results.model import CellResult, StepStats, quantile

if TYPE_CHECKING:
    from envdoctor.bench.plan import CellPlan


def merge_launch(cell: CellResult, raw: LaunchOutcome, plan: CellPlan, nnodes: int) -> None:
    """A DDP launch's outcome into its cell: each rank's median step time kept apart, the launch's (a round) the
    median across ranks, throughput per rank and in all, and the busiest rank's view of the machine."""
    cell.status, cell.reason = raw.status, raw.reason
    ranks = raw.ranks
    if not ranks or not raw.world_size or not raw.samples_per_step:
        return
    cell.world_size = raw.world_size
    cell.settings = {"backend": raw.backend, "processes_per_node": plan.world,
                     "nodes": nnodes, "launcher": "torchrun", "dtype": plan.dtype,
                     "visible_devices": plan.visible_devices, "rank0_device": plan.gpu.name if plan.gpu else None}
    for rank in ranks:
        cell.step_times_s.extend(rank.times)
        cell.per_rank_medians_s.append(StepStats.of(rank.times).median_s)
        cell.per_rank_peak_allocated_bytes.append(rank.peak_allocated_bytes)
    cell.round_step_counts.append(sum(len(rank.times) for rank in ranks))  # a round is one launch
    shares = [r.cpu_share for r in ranks if r.cpu_share]
    if shares:  # every rank watched the same machine: the busiest view stands for the launch
        cell.cpu_shares.append(max(shares, key=lambda s: s["other_cores"]))
    cell.stats = StepStats.of(cell.step_times_s)
    median = quantile(sorted(cell.per_rank_medians_s), 0.5)
    cell.round_medians_s.append(median)
    cell.samples_per_s = raw.samples_per_step / median  # per rank
    cell.global_samples_per_s = cell.samples_per_s * cell.world_size
    windows = [r.window_s for r in ranks if r.window_s]
    if windows:  # every rank ran the same steps; the slowest rank's window is the job's
        cell.window_samples_per_s = (raw.samples_per_step * len(ranks[0].times) * cell.world_size
                                     / max(windows))
    cell.tokens_per_s = raw.tokens_per_step * cell.world_size / median if raw.tokens_per_step else None
    allocated = [b for b in cell.per_rank_peak_allocated_bytes if b is not None]
    cell.peak_allocated_bytes = max(allocated) if allocated else None

def merge_round(cell: CellResult, raw: RoundOutcome, plan: CellPlan, first_round: bool) -> None:
    """A single-device round's outcome into its cell: raw steps, statistics, throughput, memory, MFU."""
    cell.status, cell.reason = raw.status, raw.reason
    if raw.peak_rss_bytes is not None:
        cell.peak_rss_bytes = max(cell.peak_rss_bytes or 0, raw.peak_rss_bytes)
    if raw.loss_check is not None and (first_round or not raw.loss_check["ok"]):
        cell.loss_check = raw.loss_check
    times = raw.step_times_s or []
    if not times:
        return
    cell.step_times_s.extend(times)
    cell.round_step_counts.append(len(times))
    cell.round_medians_s.append(StepStats.of(times).median_s)
    cell.window_s.append(raw.window_s or 0.0)
    if raw.gpu_window is not None:
        cell.gpu_windows.append(raw.gpu_window)
    if raw.cpu_share is not None:
        cell.cpu_shares.append(raw.cpu_share)
    stats = cell.stats = StepStats.of(cell.step_times_s)
    if first_round:
        cell.flops_per_step = raw.flops_per_step
        cell.settings = raw.settings
        cell.device_name = raw.device_name
        if cell.mode.startswith("compile") and raw.first_step_s is not None:
            cell.compile_s = max(0.0, raw.first_step_s - stats.median_s)
    if raw.peak_allocated_bytes is not None:
        cell.peak_allocated_bytes = max(cell.peak_allocated_bytes or 0, raw.peak_allocated_bytes)
    if raw.peak_reserved_bytes is not None:
        cell.peak_reserved_bytes = max(cell.peak_reserved_bytes or 0, raw.peak_reserved_bytes)
    samples = raw.samples_per_step or 0  # an ok round always reports it
    cell.samples_per_s = samples / stats.median_s
    cell.window_samples_per_s = samples * len(cell.step_times_s) / sum(cell.window_s)
    cell.tokens_per_s = raw.tokens_per_step / stats.median_s if raw.tokens_per_step else None
    if cell.flops_per_step:
        cell.achieved_tflops = cell.flops_per_step / stats.median_s / 1e12
    if plan.peak_tflops is None:
        cell.mfu_unknown_reason = plan.peak_source
    else:
        cell.peak_tflops, cell.peak_source = plan.peak_tflops, plan.peak_source
        cell.mfu = cell.achieved_tflops / plan.peak_tflops if cell.achieved_tflops is not None else None


def compare_with_eager(cells: Sequence[CellResult], plans: Sequence[CellPlan]) -> None:
    """Speedups over eager on samples/s (the batch is the plan's in every mode, unless --auto-batch changed
    one: then both batches are recorded); memory ratios only between cells of the same batch. A DDP cell's
    T1 is the single-device cell on its rank 0's device."""
    single = {c.key: c for c in cells if c.world_size is None and c.samples_per_s}
    rank0 = {p.key: p.gpu.name if p.gpu else p.device for p in plans if p.world}
    for cell in cells:
        base = single.get(f"{cell.workload}/{cell.mode}/{rank0.get(cell.key)}")
        if cell.world_size and cell.global_samples_per_s and base is not None and base.samples_per_s:
            cell.scaling_speedup = cell.global_samples_per_s / base.samples_per_s
            cell.scaling_efficiency = cell.scaling_speedup / cell.world_size
    eager = {(c.workload, c.device): c for c in cells if c.mode == "eager" and c.samples_per_s}
    for cell in cells:
        base = eager.get((cell.workload, cell.device))
        if base is None or cell.samples_per_s is None or base.samples_per_s is None:
            continue
        cell.speedup_vs_eager = cell.samples_per_s / base.samples_per_s
        cell.eager_batch_size = base.batch_size if base.batch_size != cell.batch_size else None
        same_batch = base.batch_size == cell.batch_size
        if same_batch and cell.peak_memory_bytes and base.peak_memory_bytes:
            cell.memory_ratio_vs_eager = cell.peak_memory_bytes / base.peak_memory_bytes
