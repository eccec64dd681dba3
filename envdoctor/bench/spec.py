"""What crosses the process boundary, typed both ways: what a cell's process (or each DDP rank) is told to run,
and what it reports back (a round's outcome, or a DDP launch's), so that neither side has to remember the other's
keys and a malformed report is an error of that cell, never a crash of the run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from envdoctor.plain import from_plain

Outcome = TypeVar("Outcome", "RoundOutcome", "LaunchOutcome")
GUARD_STEPS = 10  # the loss trajectory compile and AMP cells must match eager fp32 on


@dataclass(frozen=True)
class CellSpec:
    workload: str
    mode_name: str
    compile: bool
    amp_dtype: Optional[str]  # the autocast dtype the plan chose; None: no autocast
    grad_scaler: bool
    device: str  # "cpu", "cuda:0"; for DDP the kind, "cpu" or "cuda"
    sizes: dict[str, int]
    compile_mode: str = "default"
    warmup_steps: int = 3
    min_steps: int = 5
    min_time_s: float = 1.0
    seed: int = 0
    guard_steps: int = 0  # 0: no correctness guard (eager fp32 is the reference itself)
    gpu_uuid: Optional[str] = None  # the GPU to sample during the window
    gpu_bus_id: Optional[str] = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CellSpec:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class RoundOutcome:
    """What one cell process measured in its round, or why it measured nothing (`status` and `reason`)."""

    status: str  # one of results.model.STATUSES
    reason: Optional[str] = None
    step_times_s: list[float] = dataclasses.field(default_factory=list)
    window_s: Optional[float] = None  # the timed window, wall clock
    first_step_s: Optional[float] = None  # the first (compiling) step, for compile time
    flops_per_step: Optional[int] = None
    samples_per_step: Optional[int] = None
    tokens_per_step: Optional[int] = None
    loss_check: Optional[dict[str, Any]] = None
    device_name: Optional[str] = None
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    gpu_window: Optional[dict[str, Any]] = None  # NVML during the window (bench/sampler.py)
    cpu_share: Optional[dict[str, Any]] = None  # other processes' CPU during the window (bench/contention.py)
    peak_allocated_bytes: Optional[int] = None
    peak_reserved_bytes: Optional[int] = None
    peak_rss_bytes: Optional[int] = None


@dataclass(frozen=True)
class RankOutcome:
    """One DDP rank's timed window."""

    times: list[float]
    window_s: float
    peak_allocated_bytes: Optional[int] = None
    cpu_share: Optional[dict[str, Any]] = None


@dataclass(frozen=True)
class LaunchOutcome:
    """One torchrun launch of a DDP cell, reported by rank 0 for every rank; `ranks` is empty when it failed (or
    when this node is not node 0, whose report it is)."""

    status: str
    reason: Optional[str] = None
    ranks: list[RankOutcome] = dataclasses.field(default_factory=list)
    samples_per_step: Optional[int] = None  # per rank
    tokens_per_step: Optional[int] = None
    world_size: Optional[int] = None
    backend: Optional[str] = None


def outcome(cls: type[Outcome], data: Any) -> Outcome:
    """A child's reported outcome, type-checked (plain.from_plain); an `error` outcome saying why when the child
    reported something of another shape."""
    try:
        return from_plain(cls, data, "the cell's result")  # type: ignore[no-any-return]
    except ValueError as exc:
        return cls(status="error", reason=f"the cell's process reported an unreadable result: {exc}")
