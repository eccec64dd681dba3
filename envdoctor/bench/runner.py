"""Run bench cells in rounds, each cell in its own child process with a timeout, and derive the metrics."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from envdoctor.bench.cell import MARKER
from envdoctor.bench.config import PRESET_SIZES, BenchConfig, Mode
from envdoctor.bench.ddp import CPU_SWEEP_BYTES, GPU_SWEEP_BYTES, Launch, run_torchrun
from envdoctor.bench.results import CellResult, StepStats, SweepResult, quantile
from envdoctor.children import last_line, marked_json, run_isolated, signal_name
from envdoctor.facts import TorchRuntime
from envdoctor.knowledge import Knowledge

SEED = 0


@dataclass(frozen=True)
class CellPlan:
    workload: str
    mode: Mode
    device: str  # "cpu", "cuda:0"; for DDP the device kind, "cpu" or "cuda"
    preset: str
    world: int = 0  # DDP: processes on this node (0: not a DDP cell)

    @property
    def label(self) -> str:
        return f"{self.device}-ddp{self.world}" if self.world else self.device

    @property
    def key(self) -> str:
        return f"{self.workload}/{self.mode.name}/{self.label}"


def available_devices(runtime: TorchRuntime) -> list[str]:
    """Every device torch can train on here: each CUDA GPU, MPS, and the CPU."""
    devices = [f"cuda:{i}" for i in range(runtime.device_count or 0)] if runtime.cuda_available else []
    if runtime.mps_available:
        devices.append("mps")
    return [*devices, "cpu"]


def select_devices(asked: Optional[Sequence[str]], available: Sequence[str]) -> list[str]:
    """The devices to bench: all available, or those asked for ("cuda" means every GPU)."""
    if not asked:
        return list(available)
    chosen: list[str] = []
    for name in asked:
        matches = [d for d in available if d == name or (name == "cuda" and d.startswith("cuda:"))]
        if not matches:
            raise ValueError(f"device {name!r} is not available here (available: {', '.join(available)})")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def ddp_kinds(config: BenchConfig, devices: Sequence[str]) -> list[tuple[str, int]]:
    """(device kind, processes per node) for DDP: one per GPU when GPUs were chosen, `nproc` on the CPU."""
    if not config.ddp:
        return []
    kinds = []
    gpus = [d for d in devices if d.startswith("cuda:")]
    if gpus:
        kinds.append(("cuda", len(gpus)))
    if "cpu" in devices:
        kinds.append(("cpu", config.nproc))
    return kinds


def plan_cells(config: BenchConfig, devices: Sequence[str]) -> list[CellPlan]:
    plans = [CellPlan(w, m, d, config.preset_for(d)) for d in devices for w in config.workloads
             for m in config.modes()]
    plans += [CellPlan(w, m, kind, config.preset_for(kind), nproc) for kind, nproc in ddp_kinds(config, devices)
              for w in config.workloads for m in config.modes()]
    return plans


def cell_spec(plan: CellPlan, config: BenchConfig, batch: int) -> dict[str, Any]:
    """What a cell's process (or each DDP rank) is told to run."""
    return {"workload": plan.workload, "mode_name": plan.mode.name, "compile": plan.mode.compile,
            "amp": plan.mode.amp, "device": plan.device,
            "sizes": {**PRESET_SIZES[plan.workload][plan.preset], "batch": batch},
            "compile_mode": config.compile_mode, "amp_dtype": config.amp_dtype, "warmup_steps": config.warmup_steps,
            "min_steps": config.min_steps, "min_time_s": config.min_time_s, "seed": SEED}


def run_child(spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Run one cell in a process of its own, so that a timeout also ends compile workers it started."""
    run = run_isolated([sys.executable, "-m", "envdoctor.bench.cell", json.dumps(spec)], timeout_s)
    if run.timed_out:
        return {"status": "timeout", "reason": f"did not finish within {timeout_s:g} s"}
    result: Optional[dict[str, Any]] = marked_json(run.stdout, MARKER)
    if result is not None:
        return result
    killed_by = signal_name(run.returncode)
    tail = last_line(run.stderr)
    if killed_by:
        return {"status": "crashed", "reason": f"the cell's process was killed by {killed_by}: {tail}"}
    return {"status": "error", "reason": f"the cell's process exited with status {run.returncode}: {tail}"}


class BenchRun:
    """The cells of one run and their results so far; `cells` stays readable after Ctrl-C."""

    def __init__(self, config: BenchConfig, devices: Sequence[str], kb: Knowledge,
                 topology: Sequence[dict[str, Any]] = ()) -> None:
        self.config = config
        self.kb = kb
        self.plans = plan_cells(config, devices)
        self.sweep_kinds = ddp_kinds(config, devices)
        self.topology = list(topology)
        self.cells: list[CellResult] = []
        self.sweeps: list[SweepResult] = []

    @property
    def total(self) -> int:
        """Launches in the whole run: every cell in every round, then one sweep per DDP device kind."""
        return len(self.plans) * self.config.repeat + len(self.sweep_kinds)

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
                batch = previous.batch_size if previous else PRESET_SIZES[plan.workload][plan.preset]["batch"]
                if plan.world and plan.device == "cuda" and plan.world * self.config.nnodes < 2:
                    raw = {"status": "skipped", "reason": "DDP on GPUs needs two or more; this machine has one"}
                else:
                    raw = self._run_cell(plan, batch)
                while raw["status"] == "oom" and self.config.auto_batch and batch > 1 and previous is None:
                    batch //= 2
                    raw = self._run_cell(plan, batch)
                cell = previous or CellResult(plan.workload, plan.mode.name, plan.label, plan.preset, batch)
                if previous is None:
                    self.cells.append(cell)
                    by_key[plan.key] = cell
                if plan.world:
                    self._merge_ddp(cell, raw, plan)
                else:
                    self._merge(cell, raw, first_round=round_number == 0)
                self._compare_with_eager()
                on_cell(self.cells)
        for kind, nproc in self.sweep_kinds:
            index += 1
            on_start(index, total, f"all-reduce sweep {kind}-ddp{nproc * self.config.nnodes}")
            self.sweeps.append(self._sweep(kind, nproc))
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
                self._merge(cell, raw, first_round=False)
            else:
                cell.status, cell.reason = raw["status"], raw.get("reason")
        self._compare_with_eager()

    def _launch(self, nproc: int) -> Launch:
        return Launch(nproc, self.config.nnodes, self.config.node_rank, self.config.rdzv_endpoint)

    def _sweep(self, kind: str, nproc: int) -> SweepResult:
        world = nproc * self.config.nnodes
        label = f"{kind}-ddp{world}"
        if kind == "cuda" and world < 2:
            return SweepResult(label, "skipped", "an all-reduce needs two or more GPUs; this machine has one")
        sizes = GPU_SWEEP_BYTES if kind == "cuda" else CPU_SWEEP_BYTES
        raw = run_torchrun({"device": kind, "sweep_sizes": sizes}, self._launch(nproc), self.config.timeout_s)
        return SweepResult(label, raw["status"], raw.get("reason"), raw.get("backend"), raw.get("world_size"),
                           raw.get("sweep", []), self.topology if kind == "cuda" else [])

    def _run_cell(self, plan: CellPlan, batch: int) -> dict[str, Any]:
        spec = cell_spec(plan, self.config, batch)
        if plan.world:
            return run_torchrun(spec, self._launch(plan.world), self.config.timeout_s)
        return run_child(spec, self.config.timeout_s)

    def _merge_ddp(self, cell: CellResult, raw: dict[str, Any], plan: CellPlan) -> None:
        """Each rank's median step time; the cell's is the p50 across ranks."""
        cell.status, cell.reason = raw["status"], raw.get("reason")
        ranks = raw.get("ranks") or []
        if not ranks:
            return
        cell.world_size = raw["world_size"]
        cell.settings = {"backend": raw.get("backend"), "processes_per_node": plan.world,
                         "nodes": self.config.nnodes, "launcher": "torchrun"}
        for rank in ranks:
            cell.step_times_s.extend(rank["times"])
            cell.round_step_counts.append(len(rank["times"]))
            cell.per_rank_medians_s.append(StepStats.of(rank["times"]).median_s)
            cell.per_rank_peak_allocated_bytes.append(rank.get("peak_allocated_bytes"))
        cell.stats = StepStats.of(cell.step_times_s)
        median = quantile(sorted(cell.per_rank_medians_s), 0.5)
        cell.round_medians_s.append(median)
        cell.samples_per_s = raw["samples_per_step"] / median  # per rank
        cell.global_samples_per_s = cell.samples_per_s * cell.world_size
        cell.tokens_per_s = raw["tokens_per_step"] * cell.world_size / median if raw.get("tokens_per_step") else None
        allocated = [b for b in cell.per_rank_peak_allocated_bytes if b is not None]
        cell.peak_allocated_bytes = max(allocated) if allocated else None

    def _merge(self, cell: CellResult, raw: dict[str, Any], first_round: bool) -> None:
        cell.status, cell.reason = raw["status"], raw.get("reason")
        if raw.get("peak_rss_bytes") is not None:
            cell.peak_rss_bytes = max(cell.peak_rss_bytes or 0, raw["peak_rss_bytes"])
        times = raw.get("step_times_s") or []
        if not times:
            return
        cell.step_times_s.extend(times)
        cell.round_step_counts.append(len(times))
        cell.round_medians_s.append(StepStats.of(times).median_s)
        stats = cell.stats = StepStats.of(cell.step_times_s)
        if first_round:
            cell.flops_per_step = raw.get("flops_per_step")
            cell.loss_check = raw.get("loss_check")
            cell.settings = raw.get("settings", {})
            cell.device_name = raw.get("device_name")
            if cell.mode.startswith("compile"):
                cell.compile_s = max(0.0, raw["first_step_s"] - stats.median_s)
        for name in ("peak_allocated_bytes", "peak_reserved_bytes"):
            if raw.get(name) is not None:
                setattr(cell, name, max(getattr(cell, name) or 0, raw[name]))
        cell.samples_per_s = raw["samples_per_step"] / stats.median_s
        cell.tokens_per_s = raw["tokens_per_step"] / stats.median_s if raw.get("tokens_per_step") else None
        if cell.flops_per_step:
            cell.achieved_tflops = cell.flops_per_step / stats.median_s / 1e12
        self._mfu(cell)

    def _mfu(self, cell: CellResult) -> None:
        dtype = cell.settings.get("dtype", "float32")
        if cell.device_name is None:
            cell.mfu_unknown_reason = f"no peak FLOP/s table for {cell.device.split(':')[0]} devices"
            return
        peak = self.kb.peak_flops(cell.device_name, dtype)
        if peak is None:
            cell.mfu_unknown_reason = f"no sourced dense {dtype} peak for {cell.device_name}"
            return
        cell.peak_tflops, cell.peak_source = peak.tflops, f"{peak.device}: {peak.source}"
        cell.mfu = cell.achieved_tflops / peak.tflops if cell.achieved_tflops is not None else None

    def _compare_with_eager(self) -> None:
        single = {(c.workload, c.mode, c.device.split(":")[0]): c for c in self.cells
                  if c.world_size is None and c.samples_per_s}
        for cell in self.cells:
            base = single.get((cell.workload, cell.mode, cell.device.split("-ddp")[0]))
            if cell.world_size and cell.global_samples_per_s and base is not None and base.samples_per_s:
                cell.scaling_speedup = cell.global_samples_per_s / base.samples_per_s
                cell.scaling_efficiency = cell.scaling_speedup / cell.world_size
        eager = {(c.workload, c.device): c for c in self.cells if c.mode == "eager" and c.stats}
        for cell in self.cells:
            base = eager.get((cell.workload, cell.device))
            if base is None or cell.stats is None or base.stats is None:
                continue
            cell.speedup_vs_eager = base.stats.median_s / cell.stats.median_s
            if cell.peak_memory_bytes and base.peak_memory_bytes:
                cell.memory_ratio_vs_eager = cell.peak_memory_bytes / base.peak_memory_bytes
