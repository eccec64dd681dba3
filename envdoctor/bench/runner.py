"""Run a plan's cells in rounds, each cell in its own child process with a timeout, and derive the metrics."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any, Optional

from envdoctor.bench.cell import MARKER
from envdoctor.bench.config import BenchConfig
from envdoctor.bench.ddp import CPU_SWEEP_BYTES, GPU_SWEEP_BYTES, Launch, run_torchrun
from envdoctor.bench.plan import CellPlan
from envdoctor.bench.results import CellResult, StepStats, SweepResult, quantile
from envdoctor.bench.spec import GUARD_STEPS, CellSpec
from envdoctor.children import last_line, marked_json, run_isolated, signal_name

SEED = 0


def cell_spec(plan: CellPlan, config: BenchConfig, batch: Optional[int] = None) -> CellSpec:
    """What a cell's process (or each DDP rank) is told to run; `batch` overrides the plan's (--auto-batch)."""
    device = plan.gpu
    return CellSpec(
        workload=plan.workload, mode_name=plan.mode.name, compile=plan.mode.compile,
        amp_dtype=plan.amp.dtype if plan.amp else None, grad_scaler=bool(plan.amp and plan.amp.grad_scaler),
        device=plan.device, sizes={**plan.sizes, "batch": batch or plan.batch}, compile_mode=config.compile_mode,
        warmup_steps=config.warmup_steps, min_steps=config.min_steps, min_time_s=config.min_time_s, seed=SEED,
        guard_steps=GUARD_STEPS if plan.mode.compile or plan.mode.amp else 0,
        gpu_uuid=device.uuid if device and not device.mig_profile else None,
        gpu_bus_id=(device.gpu.pci_bus_id if device.gpu else None) or device.pci_bus_id if device else None)


def run_child(spec: CellSpec, timeout_s: float) -> dict[str, Any]:
    """Run one cell in a process of its own, so that a timeout also ends compile workers it started."""
    run = run_isolated([sys.executable, "-m", "envdoctor.bench.cell", spec.to_json()], timeout_s)
    if run.timed_out:
        return {"status": "timeout", "reason": f"did not finish within {timeout_s:g} s"}
    try:
        result: Optional[dict[str, Any]] = marked_json(run.stdout, MARKER)
    except ValueError as exc:
        return {"status": "error", "reason": str(exc)}
    if isinstance(result, dict):
        return result
    killed_by = signal_name(run.returncode)
    tail = last_line(run.stderr)
    if killed_by:
        return {"status": "crashed", "reason": f"the cell's process was killed by {killed_by}: {tail}"}
    return {"status": "error", "reason": f"the cell's process exited with status {run.returncode}: {tail}"}


class BenchRun:
    """The cells of one run and their results so far; `cells` stays readable after Ctrl-C."""

    def __init__(self, config: BenchConfig, plans: Sequence[CellPlan],
                 topology: Sequence[dict[str, Any]] = ()) -> None:
        self.config = config
        self.plans = list(plans)
        kinds: dict[str, CellPlan] = {}
        for plan in self.plans:
            if plan.world:
                kinds.setdefault(plan.device, plan)
        self.sweep_plans = list(kinds.values())  # one all-reduce sweep per DDP device kind
        self.topology = list(topology)
        self.cells: list[CellResult] = []
        self.sweeps: list[SweepResult] = []

    @property
    def total(self) -> int:
        """Launches in the whole run: every cell in every round, then one sweep per DDP device kind."""
        return len(self.plans) * self.config.repeat + len(self.sweep_plans)

    def run(self, on_start: Callable[[int, int, str], None] = lambda i, n, label: None,
            on_cell: Callable[[list[CellResult]], None] = lambda cells: None) -> list[CellResult]:
        total = self.total
        by_key: dict[str, CellResult] = {}
        index = 0
        for round_number in range(self.config.repeat):
            for plan in self.plans:
                index += 1
                previous = by_key.get(plan.key)
                if previous is not None and previous.status != "ok":
                    continue  # a cell that failed is not run again in later rounds
                on_start(index, total, plan.key)
                batch = previous.batch_size if previous else plan.batch
                raw = {"status": "skipped", "reason": plan.skip} if plan.skip else self._run_cell(plan, batch)
                while raw["status"] == "oom" and self.config.auto_batch and batch > 1 and previous is None:
                    batch //= 2
                    raw = self._run_cell(plan, batch)
                cell = previous or CellResult(plan.workload, plan.mode.name, plan.label, plan.preset, batch,
                                              batch_why=plan.batch_why if batch == plan.batch else
                                              f"halved by --auto-batch after out-of-memory (plan: {plan.batch})",
                                              estimated_peak_bytes=plan.memory.peak_bytes)
                if previous is None:
                    self.cells.append(cell)
                    by_key[plan.key] = cell
                if plan.world:
                    self._merge_ddp(cell, raw, plan)
                else:
                    self._merge(cell, raw, plan, first_round=round_number == 0)
                self._compare_with_eager()
                on_cell(self.cells)
        for plan in self.sweep_plans:
            index += 1
            on_start(index, total, f"all-reduce sweep {plan.device}-ddp{plan.world * self.config.nnodes}")
            self.sweeps.append(self._sweep(plan))
            on_cell(self.cells)
        return self.cells

    def run_again(self, keys: Sequence[str]) -> None:
        """One more round of the given cells, each in a fresh process, alternating between them."""
        cells = {c.key: c for c in self.cells}
        for plan in self.plans:
            cell = cells.get(plan.key)
            if plan.key not in keys or cell is None or cell.status != "ok":
                continue
            raw = self._run_cell(plan, cell.batch_size)
            if plan.world:
                self._merge_ddp(cell, raw, plan)
            elif raw["status"] == "ok":
                self._merge(cell, raw, plan, first_round=False)
            else:
                cell.status, cell.reason = raw["status"], raw.get("reason")
        self._compare_with_eager()

    def _launch(self, plan: CellPlan) -> Launch:
        return Launch(plan.world, self.config.nnodes, self.config.node_rank, self.config.rdzv_endpoint,
                      plan.visible_devices)

    def _sweep(self, plan: CellPlan) -> SweepResult:
        label = f"{plan.device}-ddp{plan.world * self.config.nnodes}"
        if plan.skip:
            return SweepResult(label, "skipped", plan.skip)
        sizes = GPU_SWEEP_BYTES if plan.device == "cuda" else CPU_SWEEP_BYTES
        raw = run_torchrun({"device": plan.device, "sweep_sizes": sizes}, self._launch(plan), self.config.timeout_s)
        return SweepResult(label, raw["status"], raw.get("reason"), raw.get("backend"), raw.get("world_size"),
                           raw.get("sweep", []), self.topology if plan.device == "cuda" else [])

    def _run_cell(self, plan: CellPlan, batch: int) -> dict[str, Any]:
        spec = cell_spec(plan, self.config, batch)
        if plan.world:
            return run_torchrun(dataclasses.asdict(spec), self._launch(plan), self.config.timeout_s)
        return run_child(spec, self.config.timeout_s)

    def _merge_ddp(self, cell: CellResult, raw: dict[str, Any], plan: CellPlan) -> None:
        """Each rank's median step time; the cell's is the p50 across ranks."""
        cell.status, cell.reason = raw["status"], raw.get("reason")
        ranks = raw.get("ranks") or []
        if not ranks:
            return
        cell.world_size = raw["world_size"]
        cell.settings = {"backend": raw.get("backend"), "processes_per_node": plan.world,
                         "nodes": self.config.nnodes, "launcher": "torchrun", "dtype": plan.dtype,
                         "visible_devices": plan.visible_devices, "rank0_device": plan.gpu.name if plan.gpu else None}
        for rank in ranks:
            cell.step_times_s.extend(rank["times"])
            cell.per_rank_medians_s.append(StepStats.of(rank["times"]).median_s)
            cell.per_rank_peak_allocated_bytes.append(rank.get("peak_allocated_bytes"))
        cell.round_step_counts.append(sum(len(rank["times"]) for rank in ranks))  # a round is one launch
        shares = [r["cpu_share"] for r in ranks if r.get("cpu_share")]
        if shares:  # every rank watched the same machine: the busiest view stands for the launch
            cell.cpu_shares.append(max(shares, key=lambda s: s["other_cores"]))
        cell.stats = StepStats.of(cell.step_times_s)
        median = quantile(sorted(cell.per_rank_medians_s), 0.5)
        cell.round_medians_s.append(median)
        cell.samples_per_s = raw["samples_per_step"] / median  # per rank
        cell.global_samples_per_s = cell.samples_per_s * cell.world_size
        windows = [r["window_s"] for r in ranks if r.get("window_s")]
        if windows:  # every rank ran the same steps; the slowest rank's window is the job's
            cell.window_samples_per_s = (raw["samples_per_step"] * len(ranks[0]["times"]) * cell.world_size
                                         / max(windows))
        cell.tokens_per_s = raw["tokens_per_step"] * cell.world_size / median if raw.get("tokens_per_step") else None
        allocated = [b for b in cell.per_rank_peak_allocated_bytes if b is not None]
        cell.peak_allocated_bytes = max(allocated) if allocated else None

    def _merge(self, cell: CellResult, raw: dict[str, Any], plan: CellPlan, first_round: bool) -> None:
        cell.status, cell.reason = raw["status"], raw.get("reason")
        if raw.get("peak_rss_bytes") is not None:
            cell.peak_rss_bytes = max(cell.peak_rss_bytes or 0, raw["peak_rss_bytes"])
        if raw.get("loss_check") is not None and (first_round or not raw["loss_check"]["ok"]):
            cell.loss_check = raw["loss_check"]
        times = raw.get("step_times_s") or []
        if not times:
            return
        cell.step_times_s.extend(times)
        cell.round_step_counts.append(len(times))
        cell.round_medians_s.append(StepStats.of(times).median_s)
        cell.window_s.append(raw["window_s"])
        if raw.get("gpu_window") is not None:
            cell.gpu_windows.append(raw["gpu_window"])
        if raw.get("cpu_share") is not None:
            cell.cpu_shares.append(raw["cpu_share"])
        stats = cell.stats = StepStats.of(cell.step_times_s)
        if first_round:
            cell.flops_per_step = raw.get("flops_per_step")
            cell.settings = raw.get("settings", {})
            cell.device_name = raw.get("device_name")
            if cell.mode.startswith("compile"):
                cell.compile_s = max(0.0, raw["first_step_s"] - stats.median_s)
        for name in ("peak_allocated_bytes", "peak_reserved_bytes"):
            if raw.get(name) is not None:
                setattr(cell, name, max(getattr(cell, name) or 0, raw[name]))
        cell.samples_per_s = raw["samples_per_step"] / stats.median_s
        cell.window_samples_per_s = raw["samples_per_step"] * len(cell.step_times_s) / sum(cell.window_s)
        cell.tokens_per_s = raw["tokens_per_step"] / stats.median_s if raw.get("tokens_per_step") else None
        if cell.flops_per_step:
            cell.achieved_tflops = cell.flops_per_step / stats.median_s / 1e12
        if plan.peak_tflops is None:
            cell.mfu_unknown_reason = plan.peak_source
        else:
            cell.peak_tflops, cell.peak_source = plan.peak_tflops, plan.peak_source
            cell.mfu = cell.achieved_tflops / plan.peak_tflops if cell.achieved_tflops is not None else None

    def _compare_with_eager(self) -> None:
        """Speedups over eager on samples/s (the batch is the plan's in every mode, unless --auto-batch changed
        one: then both batches are recorded); memory ratios only between cells of the same batch. A DDP cell's
        T1 is the single-device cell on its rank 0's device."""
        single = {c.key: c for c in self.cells if c.world_size is None and c.samples_per_s}
        rank0 = {p.key: p.gpu.name if p.gpu else p.device for p in self.plans if p.world}
        for cell in self.cells:
            base = single.get(f"{cell.workload}/{cell.mode}/{rank0.get(cell.key)}")
            if cell.world_size and cell.global_samples_per_s and base is not None and base.samples_per_s:
                cell.scaling_speedup = cell.global_samples_per_s / base.samples_per_s
                cell.scaling_efficiency = cell.scaling_speedup / cell.world_size
        eager = {(c.workload, c.device): c for c in self.cells if c.mode == "eager" and c.samples_per_s}
        for cell in self.cells:
            base = eager.get((cell.workload, cell.device))
            if base is None or cell.samples_per_s is None or base.samples_per_s is None:
                continue
            cell.speedup_vs_eager = cell.samples_per_s / base.samples_per_s
            cell.eager_batch_size = base.batch_size if base.batch_size != cell.batch_size else None
            same_batch = base.batch_size == cell.batch_size
            if same_batch and cell.peak_memory_bytes and base.peak_memory_bytes:
                cell.memory_ratio_vs_eager = cell.peak_memory_bytes / base.peak_memory_bytes
