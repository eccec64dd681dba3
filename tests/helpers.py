"""Shared test helpers: recorded fixtures, a fake host, and a fixed set of facts."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional, Union

from envdoctor.facts import (
    AcceleratorFacts,
    CpuInfo,
    Distribution,
    Facts,
    GpuInfo,
    LibraryDir,
    MemoryInfo,
    NvidiaInfo,
    Origin,
    OsInfo,
    PackageFacts,
    PythonInfo,
    SystemFacts,
    ToolkitInfo,
    TorchDevice,
    TorchRuntime,
)
from envdoctor.probe.host import CommandResult, Host

FIXTURES = Path(__file__).parent / "fixtures"
NO_CUDA_REASON = "needs a CUDA GPU (torch.cuda.is_available() is False here)"


@functools.cache
def cuda_available() -> bool:
    """torch.cuda.is_available() in this process; False where torch is missing. Imports torch on first use."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def fixture_text(relative: str) -> str:
    return (FIXTURES / relative).read_text(encoding="utf-8")


Answer = Union[str, CommandResult]


# What a fake host built from one machine's captures says for a command that capture does not hold.
NOT_CAPTURED = "not captured on this machine"


class FakeCommands:
    """A command runner answering from recorded outputs, keyed by (program name, *args); records every call.

    A command with no answer fails with `unanswered` as its error ("not found" as if the program were missing).
    """

    def __init__(self, answers: Mapping[tuple[str, ...], Answer], unanswered: str = "not found") -> None:
        self.answers = dict(answers)
        self.unanswered = unanswered
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        key = (Path(argv[0]).name, *argv[1:])
        self.calls.append(key)
        answer = self.answers.get(key)
        if answer is None:
            return CommandResult(tuple(argv), None, "", "", self.unanswered)
        if isinstance(answer, CommandResult):
            return answer
        return CommandResult(tuple(argv), 0, answer, "")


def make_host(root: Path, answers: Mapping[tuple[str, ...], Answer] = (), env: Mapping[str, str] = (),
              system: str = "Linux", files: Mapping[str, str] = (), executables: Sequence[str] = (),
              unanswered: str = "not found") -> Host:
    """A host whose file system is `root` with `files` written in, and whose commands answer from `answers`."""
    for path, text in dict(files).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for path in executables:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("#!/bin/sh\n", encoding="utf-8")
        target.chmod(0o755)
    return Host(run=FakeCommands(answers, unanswered), root=root, env=dict(env), system=system)


def sample_facts() -> Facts:
    """A fixed, complete set of facts: two A100s on driver 535, torch 2.4.1+cu121 with a mismatched torchvision."""
    gib = 1024**3
    gpu = GpuInfo(index=0, name="NVIDIA A100-SXM4-80GB", uuid="GPU-513536b6-7d19-9063-b049-1e69664bb298",
                  compute_capability=(8, 0), memory_total_bytes=80 * gib, memory_used_bytes=gib // 2,
                  mig_enabled=False, sm_clock_mhz=1275, sm_clock_max_mhz=1410, power_limit_w=400.0,
                  throttle_reasons=("sw_power_cap",), pcie_gen=4, pcie_gen_max=4, pcie_width=16, pcie_width_max=16,
                  nvlink_active_links=12)
    site = "/opt/venv/lib/python3.11/site-packages"
    return Facts(
        origin=Origin(kind="probe", hostname="gpu-node-7"),
        collected_at="2026-11-30T12:00:00+00:00",
        system=SystemFacts(
            os=OsInfo(system="Linux", arch="x86_64", name="Ubuntu 22.04.2 LTS", distro_id="ubuntu", version="22.04",
                      kernel="5.15.0-130-generic", glibc="2.35", wsl=None, container="docker",
                      container_evidence="/.dockerenv"),
            python=PythonInfo(version="3.11.7", implementation="CPython", executable="/opt/venv/bin/python", bits=64,
                              free_threaded=False, env_kind="venv", env_path="/opt/venv", pip_version="24.2"),
            cpu=CpuInfo(model="AMD EPYC 7763 64-Core Processor", cores=64, threads=128, usable_threads=32,
                        isa=("avx2",), source="lscpu"),
            memory=MemoryInfo(total_bytes=512 * gib, available_bytes=480 * gib, shm_total_bytes=64 * 1024**2,
                              shm_free_bytes=60 * 1024**2),
        ),
        nvidia=NvidiaInfo(driver_version="535.54.03", driver_source="nvml", driver_max_cuda="12.2",
                          kernel_module="open", gpus=(gpu, replace(gpu, index=1, uuid=None)), gpus_source="nvml",
                          nvidia_smi=None, attempts=("nvml: driver 535.54.03, 2 GPU(s)",)),
        accelerators=AcceleratorFacts(pci_gpus=(), rocm=None, apple=None, intel=None),
        packages=PackageFacts(
            distributions=(Distribution("torch", "2.4.1+cu121", "cu121", site),
                           Distribution("torchvision", "0.20.1+cu124", "cu124", site)),
            conflicts=(), conda_prefix=None, conda_packages=(), torch_origin=f"{site}/torch/__init__.py"),
        torch=TorchRuntime(status="ok", version="2.4.1+cu121", cuda="12.1", cudnn=90100, nccl="2.20.5",
                           cuda_available=True, device_count=2, arch_list=("sm_50", "sm_80", "sm_90"),
                           devices=(TorchDevice(0, "NVIDIA A100-SXM4-80GB", (8, 0), 80 * gib),),
                           origin=f"{site}/torch/__init__.py", import_seconds=1.84),
        toolkit=ToolkitInfo(nvcc_path="/usr/local/cuda-11.8/bin/nvcc", nvcc_version="11.8.89",
                            cuda_home="/usr/local/cuda-11.8", cuda_home_source="nvcc",
                            library_path_var="LD_LIBRARY_PATH",
                            library_dirs=(LibraryDir("/usr/local/cuda-11.8/lib64", ("libcublas.so.11",)),)),
    )


def facts_for(torch: Optional[str] = "2.4.1+cu121", imported: bool = True, driver: Optional[str] = "535.54.03",
              gpus: Sequence[tuple[str, Optional[tuple[int, int]]]] = (("NVIDIA A100-SXM4-80GB", (8, 0)),),
              python: str = "3.11.7", system: str = "Linux", arch: str = "x86_64", glibc: Optional[str] = "2.35",
              companions: Mapping[str, str] = (), arch_list: Optional[tuple[str, ...]] = None,
              **changes: object) -> Facts:
    """`sample_facts()` changed to a scenario: which torch (None: not installed), whether it imported, which
    driver and GPUs, which Python and OS. `changes` replace whole top-level facts."""
    base = sample_facts()
    site = "/opt/venv/lib/python3.11/site-packages"
    gpu_facts = tuple(replace(base.nvidia.gpus[0], index=i, name=name, compute_capability=cap)
                      for i, (name, cap) in enumerate(gpus))
    nvidia = replace(base.nvidia, driver_version=driver, gpus=gpu_facts if driver else ())
    dists = [Distribution("torch", torch, torch.partition("+")[2] or None, site)] if torch else []
    dists += [Distribution(n, v, v.partition("+")[2] or None, site) for n, v in dict(companions).items()]
    cuda = torch.partition("+cu")[2] if torch and "+cu" in torch else ""
    runtime = TorchRuntime(status="not_installed")
    if torch and imported:
        runtime = TorchRuntime(status="ok", version=torch, cuda=f"{cuda[:-1]}.{cuda[-1]}" if cuda else None,
                               cuda_available=bool(driver and cuda), device_count=len(gpus) if driver and cuda else 0,
                               arch_list=arch_list, origin=f"{site}/torch/__init__.py", import_seconds=1.0)
    elif torch:
        runtime = TorchRuntime(status="skipped", error="skipped by --no-import")
    system_facts = replace(base.system, os=replace(base.system.os, system=system, arch=arch, glibc=glibc),
                           python=replace(base.system.python, version=python),
                           memory=replace(base.system.memory, shm_total_bytes=16 * 1024**3))
    facts = replace(base, nvidia=nvidia, torch=runtime, system=system_facts,
                    packages=replace(base.packages, distributions=tuple(dists)),
                    toolkit=replace(base.toolkit, library_dirs=(), nvcc_version=None, nvcc_path=None))
    return replace(facts, **changes)  # type: ignore[arg-type]


THREE_ROUNDS = FIXTURES / "results" / "cpu-mlp-3rounds-v2.json"  # schema 2: bench --workload mlp --repeat 3


def scaled(document: dict[str, Any], factor: float) -> dict[str, Any]:
    """Every step `factor` times as long: a slowdown (or speed-up) of exactly that much."""
    result = copy.deepcopy(document)
    for cell in result["cells"]:
        cell["step_times_s"] = [t * factor for t in cell["step_times_s"]]
        cell["round_medians_s"] = [t * factor for t in cell["round_medians_s"]]
        if cell.get("samples_per_s"):
            cell["samples_per_s"] /= factor
    return result
