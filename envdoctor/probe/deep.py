"""`check --deep`: prove each device computes correctly, one child process per device, each with a timeout."""

from __future__ import annotations

import sys
from pathlib import Path

from envdoctor.children import marked_json, run_isolated, signal_name
from envdoctor.facts import TorchRuntime
from envdoctor.facts.deep import DeepResult
from envdoctor.probe.deep_child import MARKER

CHILD_SOURCE = Path(__file__).with_name("deep_child.py")
DEFAULT_TIMEOUT_S = 120.0


def deep_devices(runtime: TorchRuntime) -> list[str]:
    """The devices to check: the CPU, each visible CUDA device, MPS, and NCCL across two or more GPUs."""
    devices = ["cpu"]
    count = runtime.device_count or 0 if runtime.cuda_available else 0
    devices += [f"cuda:{i}" for i in range(count)]
    if runtime.mps_available:
        devices.append("mps")
    if count >= 2 and runtime.cuda:
        devices.append("nccl")
    return devices


def check_device(device: str, timeout_s: float = DEFAULT_TIMEOUT_S, python: str = sys.executable) -> list[DeepResult]:
    run = run_isolated([python, "-c", CHILD_SOURCE.read_text(encoding="utf-8"), device], timeout_s)
    if run.timed_out:
        return [DeepResult(device, "all checks", False, None, f"did not finish within {timeout_s:g} s")]
    try:
        rows = marked_json(run.stdout, MARKER)
        if rows is not None:
            return [DeepResult(**row) for row in rows]
    except (ValueError, TypeError) as exc:  # TypeError: rows that are not DeepResult's fields
        return [DeepResult(device, "all checks", False, None, f"unreadable result: {exc}")]
    signal = signal_name(run.returncode)
    why = f"killed by {signal}: {run.tail(2000)}" if signal else run.tail(2000)
    return [DeepResult(device, "all checks", False, None, why)]


def probe_deep(runtime: TorchRuntime, timeout_s: float = DEFAULT_TIMEOUT_S,
               python: str = sys.executable) -> tuple[DeepResult, ...]:
    """Every device's checks, in `python`; nothing when torch does not import (that is already the finding)."""
    if runtime.status != "ok":
        return ()
    return tuple(result for device in deep_devices(runtime) for result in check_device(device, timeout_s, python))
