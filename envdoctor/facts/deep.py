"""Facts from `check --deep`: small computations run on each device, in child processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class DeepResult:
    device: str  # "cpu", "cuda:0", "mps", or "nccl" (an all-reduce across every GPU)
    check: str  # "matmul float16", "conv2d", "all_reduce"
    ok: bool
    seconds: Optional[float]
    error: Optional[str]  # why it failed: the exception, a wrong result, a timeout or a crash
    skipped: Optional[str] = None  # why it was not run (then `ok` is False and `error` None): "cuda:1 has ..."
