"""Run a plan's cells in rounds, each cell in its own child process with a timeout; results/derive.py turns what
they measured into the cells' metrics."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

from envdoctor.bench.cell import MARKER
from envdoctor.bench.config import BenchConfig
from envdoctor.bench.ddp import CPU_SWEEP_BYTES, GPU_SWEEP_BYTES, Launch, run_torchrun
from envdoctor.bench.plan import CellPlan
from envdoctor.bench.spec import GUARD_STEPS, CellSpec, LaunchOutcome, RoundOutcome, outcome
from envdoctor.children import last_line, marked_json, run_isolated, signal_name
from envdoctor.results.derive import compare_with_eager, merge_launch, merge_round
from envdoctor.results.model import CellResult, SweepResult

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


def run_child(spec: CellSpec, timeout_s: float) -> RoundOutcome:
    """Run one cell in a process of its own, so that a timeout also ends compile workers it started."""
    run = run_isolated([sys.executable, "-m", "envdoctor.bench.cell", spec.to_json()], timeout_s)
    if run.timed_out:
        return RoundOutcome("timeout", f"did not finish within {timeout_s:g} s")
    try:
        result = marked_json(run.stdout, MARKER)
    except ValueError as exc:
        return RoundOutcome("error", str(exc))
    if result is not None:
        return outcome(RoundOutcome, result)
    killed_by = signal_name(run.returncode)
    tail = last_line(run.stderr)
    if killed_by:
        return RoundOutcome("crashed", f"the cell's process was killed by {killed_by}: {tail}")
    return RoundOutcome("error", f"the cell's process exited with status {run.returncode}: {tail}")


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
                raw = self._skipped(plan) if plan.skip else self._run_cell(plan, batch)
                while raw.status == "oom" and self.config.auto_batch and batch > 1 and previous is None:
                    batch //= 2
                    raw = self._run_cell(plan, batch)
                cell = previous or CellResult(plan.workload, plan.mode.name, plan.label, plan.preset, batch,
                                              batch_why=plan.batch_why if batch == plan.batch else
                                              f"halved by --auto-batch after out-of-memory (plan: {plan.batch})",
                                              estimated_peak_bytes=plan.memory.peak_bytes)
                if previous is None:
                    self.cells.append(cell)
                    by_key[plan.key] = cell
                if isinstance(raw, LaunchOutcome):
                    merge_launch(cell, raw, plan, self.config.nnodes)
                else:
                    merge_round(cell, raw, plan, first_round=round_number == 0)
                compare_with_eager(self.cells, self.plans)
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
            if isinstance(raw, LaunchOutcome):
                merge_launch(cell, raw, plan, self.config.nnodes)
            elif raw.status == "ok":
                merge_round(cell, raw, plan, first_round=False)
            else:
                cell.status, cell.reason = raw.status, raw.reason
        compare_with_eager(self.cells, self.plans)

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

    def _run_cell(self, plan: CellPlan, batch: int) -> Union[RoundOutcome, LaunchOutcome]:
        spec = cell_spec(plan, self.config, batch)
        if plan.world:
            return outcome(LaunchOutcome, run_torchrun(dataclasses.asdict(spec), self._launch(plan),
                                                       self.config.timeout_s))
        return run_child(spec, self.config.timeout_s)

    @staticmethod
    def _skipped(plan: CellPlan) -> Union[RoundOutcome, LaunchOutcome]:
        return LaunchOutcome("skipped", plan.skip) if plan.world else RoundOutcome("skipped", plan.skip)
