"""What a cell's process (or each DDP rank) is told to run: a frozen dataclass that crosses the process boundary
as JSON, both ways, so that neither side has to remember the other's keys."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Optional

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
