"""Probe the CPU: model, cores and the instruction-set features PyTorch's kernels dispatch on."""

from __future__ import annotations

import os
import platform
from typing import Optional

import psutil

from envdoctor.facts.system import CpuInfo
from envdoctor.parse.lscpu import parse_lscpu
from envdoctor.probe.host import Host


def _usable_threads() -> Optional[int]:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return os.cpu_count()


def probe_cpu(host: Host) -> CpuInfo:
    unknown: dict[str, str] = {}
    model: Optional[str] = None
    isa: Optional[tuple[str, ...]] = None
    source: Optional[str] = None
    cores = psutil.cpu_count(logical=False)
    threads = psutil.cpu_count(logical=True)
    if host.system == "Linux":
        result = host.command(["lscpu"])
        if result.ok:
            info = parse_lscpu(result.stdout)
            source, model = "lscpu", info.model_name
            cores = cores or info.cores
            threads = threads or info.cpus
            isa = info.isa
            if isa is None:
                unknown["isa"] = "this lscpu prints no Flags line"
        else:
            unknown["isa"] = unknown["model"] = result.why_not()
    elif host.system == "Darwin":
        result = host.command(["sysctl", "-n", "machdep.cpu.brand_string"])
        if result.ok:
            source, model = "sysctl", result.stdout.strip() or None
        unknown["isa"] = "not probed on macOS"
    else:
        source, model = "platform", platform.processor() or None
        unknown["isa"] = f"not probed on {host.system}"
    if model is None:
        unknown.setdefault("model", "no model name reported")
    return CpuInfo(model, cores, threads, _usable_threads(), isa, source, unknown)
