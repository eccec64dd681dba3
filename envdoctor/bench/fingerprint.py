"""The machine and software a bench ran on, from `check`'s facts: what a baseline must match to compare."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any, Optional

from envdoctor.bench.devices import BenchDevice
from envdoctor.facts import Facts


def git_commit(directory: str = ".") -> Optional[str]:
    """The commit checked out in `directory`, if it is a git working tree."""
    try:
        result = subprocess.run(["git", "-C", directory, "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def fingerprint(facts: Facts, devices: Sequence[BenchDevice], commit: Optional[str]) -> dict[str, Any]:
    """What a run ran on. The GPUs are the ones benched, in torch's order, from the device model; their clocks and
    throttle reasons are those of the NVML records matched to them."""
    gpus = [d for d in devices if d.kind == "cuda"]
    driver = facts.nvidia.driver_version
    return {
        "gpus": [d.model for d in gpus],
        "gpu_count": len(gpus),
        "driver": driver,
        "driver_branch": driver.split(".")[0] if driver else None,
        "cuda": facts.torch.cuda,
        "cudnn": facts.torch.cudnn,
        "torch": facts.torch.version,
        "cpu": facts.system.cpu.model,
        "cpu_threads": facts.system.cpu.usable_threads,
        "python": facts.system.python.version,
        "os": facts.system.os.name or facts.system.os.system,
        "git_commit": commit,
        # The variables torch heeds (CUDA_LAUNCH_BLOCKING, NCCL_*, OMP_NUM_THREADS...), as `check` records them.
        "environment": dict(facts.system.environment),
        # Volatile: recorded to explain a difference, never to refuse a comparison.
        "volatile": {
            "hostname": facts.origin.hostname,
            "gpu_uuids": [d.uuid for d in gpus],
            "sm_clocks_mhz": [d.gpu.sm_clock_mhz if d.gpu else None for d in gpus],
            "throttle_reasons": [list(d.gpu.throttle_reasons or ()) if d.gpu else None for d in gpus],
        },
    }


def topology(devices: Sequence[BenchDevice]) -> list[dict[str, Any]]:
    """Per benched GPU, its links as its matched NVML record reports them (None where no record matched)."""
    rows = []
    for d in devices:
        if d.kind != "cuda":
            continue
        gpu = d.gpu
        rows.append({"device": d.name, "name": d.model, "nvml_index": gpu.index if gpu else None,
                     "nvlink_active_links": gpu.nvlink_active_links if gpu else None,
                     "pcie": f"gen{gpu.pcie_gen} x{gpu.pcie_width}" if gpu and gpu.pcie_gen else None})
    return rows
