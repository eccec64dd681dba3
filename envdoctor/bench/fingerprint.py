"""The machine and software a bench ran on, from `check`'s facts: what a baseline must match to compare."""

from __future__ import annotations

import subprocess
from typing import Any, Optional

from envdoctor.facts import Facts


def git_commit(directory: str = ".") -> Optional[str]:
    """The commit checked out in `directory`, if it is a git working tree."""
    try:
        result = subprocess.run(["git", "-C", directory, "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def fingerprint(facts: Facts, commit: Optional[str]) -> dict[str, Any]:
    gpus = facts.nvidia.gpus
    driver = facts.nvidia.driver_version
    return {
        "gpus": [g.name for g in gpus],
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
        # Volatile: recorded to explain a difference, never to refuse a comparison.
        "volatile": {
            "hostname": facts.origin.hostname,
            "sm_clocks_mhz": [g.sm_clock_mhz for g in gpus],
            "throttle_reasons": [list(g.throttle_reasons or ()) for g in gpus],
        },
    }
