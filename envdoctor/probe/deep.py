"""`check --deep`: prove each device computes correctly, one child process per device, each with a timeout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from envdoctor.facts import TorchRuntime
from envdoctor.facts.deep import DeepResult
from envdoctor.probe.deep_child import MARKER
from envdoctor.probe.torch_runtime import signal_name

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
    source = CHILD_SOURCE.read_text(encoding="utf-8")
    try:
        proc = subprocess.run([python, "-c", source, device], capture_output=True, text=True, errors="replace",
                              timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return [DeepResult(device, "all checks", False, None, f"did not finish within {timeout_s:g} s")]
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            return [DeepResult(**row) for row in json.loads(line[len(MARKER):])]
    signal = signal_name(proc.returncode)
    detail = (proc.stderr.strip() or proc.stdout.strip() or "no output")[-2000:]
    why = f"killed by {signal}: {detail}" if signal else detail
    return [DeepResult(device, "all checks", False, None, why)]


def probe_deep(runtime: TorchRuntime, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[DeepResult, ...]:
    """Every device's checks; nothing when torch does not import (that is already the finding)."""
    if runtime.status != "ok":
        return ()
    return tuple(result for device in deep_devices(runtime) for result in check_device(device, timeout_s))
