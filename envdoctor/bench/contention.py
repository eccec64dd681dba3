"""Was the machine busy while a cell measured? The CPU time other processes (and, on a VM, the hypervisor) took
during the timed window, so that a slow round on a shared runner is called what it is.

"Other" is everything outside this process group: a bench cell's session holds the cell, its compile workers, and
for DDP torchrun and every rank, so their own work is never counted as contention."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

import psutil

# Other processes using more than a quarter of a core during the window mark it contended. Measured on the quiet
# 2-core development VM: 0.00 to 0.04 cores in 10 rounds of `bench --noise 5 --workload mlp,transformer`.
CONTENDED_CORES = 0.25


def _busy_s() -> float:
    """CPU time the whole machine spent busy, hypervisor steal included (guest time is already in user)."""
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))


def _group_s(group: int) -> float:
    """CPU time of the processes in process group `group` (those alive now)."""
    total = 0.0
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == group:
                cpu = process.cpu_times()
                total += cpu.user + cpu.system
    return total


@dataclass(frozen=True)
class CpuShare:
    other_cores: float  # CPU time used outside this process group, per second of the window
    cpus: int  # logical CPUs of the machine
    window_s: float

    @property
    def contended(self) -> bool:
        return self.other_cores > CONTENDED_CORES

    def plain(self) -> dict[str, Any]:
        return {"other_cores": round(self.other_cores, 3), "cpus": self.cpus, "window_s": round(self.window_s, 4),
                "contended": self.contended}


class CpuWatch:
    """Start before the timed window, `stop()` after it. psutil reads every process twice, a few milliseconds,
    both outside the window."""

    def __init__(self) -> None:
        self.group = os.getpgid(0)
        self.start_group = _group_s(self.group)
        self.start_busy = _busy_s()
        self.start = time.perf_counter()

    def stop(self) -> Optional[CpuShare]:
        window = time.perf_counter() - self.start
        busy, group = _busy_s() - self.start_busy, _group_s(self.group) - self.start_group
        if window <= 0:
            return None
        return CpuShare(max(0.0, busy - group) / window, psutil.cpu_count() or 1, window)
