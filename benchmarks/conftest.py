"""pytest-benchmark setup: envdoctor's fingerprint (GPU, driver, CUDA, cuDNN, torch) in `machine_info`, which
pytest-benchmark's own machine id does not know, so that saved runs say what they ran on."""

from __future__ import annotations

from typing import Any

from envdoctor.bench.fingerprint import fingerprint, git_commit
from envdoctor.check import CheckOptions, run_check


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    facts = run_check(CheckOptions())
    print_ = fingerprint(facts, git_commit())
    machine_info["envdoctor"] = print_
    for name in ("gpus", "gpu_count", "driver", "cuda", "cudnn", "torch"):
        machine_info[name] = print_[name]
