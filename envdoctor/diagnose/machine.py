"""What advice and rules need to know about a machine, whether probed (`from_facts`) or described (`advise`)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from packaging.version import Version

from envdoctor.facts import Facts
from envdoctor.knowledge import Capability, Knowledge, version_or_none

OS_NAMES = {"Linux": "linux", "Windows": "windows", "Darwin": "macos"}
ASSUMED_ARCH = "x86_64"  # when a report does not say: by far the most common, and stated as an assumption
ARCH_NAMES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "arm64"}


@dataclass(frozen=True)
class Machine:
    os: str  # "linux", "windows", "macos"
    arch: str  # "x86_64", "aarch64", "arm64"
    python: Optional[str]  # "3.11"
    driver: Optional[str]  # the NVIDIA driver as reported ("470.82.01"); None when there is none
    gpu_names: tuple[str, ...]  # NVIDIA GPUs, as named
    capabilities: tuple[Optional[Capability], ...]  # per GPU; None where it could not be found
    rocm: bool = False
    glibc: Optional[str] = None
    macos_version: Optional[str] = None
    driver_unknown: Optional[str] = None  # why nobody can tell whether there is an NVIDIA driver
    cuda_works: bool = False  # a CUDA build of torch said CUDA is available: a GPU and a working driver
    jetson: bool = False  # an NVIDIA Jetson (tegra kernel, or torch's "nv" builds on aarch64)
    rosetta: bool = False  # an x86_64 interpreter translated by Rosetta 2 on Apple silicon
    python_command: str = "python"  # what runs pip in install commands: the interpreter `check --python` judged

    @property
    def platform(self) -> str:
        """The wheel platform: "linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64"."""
        arch = "aarch64" if self.os == "linux" and self.arch == "arm64" else self.arch
        arch = "arm64" if self.os == "macos" and arch == "aarch64" else arch
        return f"{self.os}-{arch}"

    @property
    def driver_version(self) -> Optional[Version]:
        return version_or_none(self.driver)

    @property
    def has_nvidia(self) -> bool:
        """Known to have an NVIDIA GPU or driver. False is "none found" only when `driver_unknown` is None."""
        return self.driver is not None or bool(self.gpu_names) or self.cuda_works

    @property
    def driver_os(self) -> str:
        """The column of NVIDIA's minimum-driver table that applies here: "windows" or "linux"."""
        return "windows" if self.os == "windows" else "linux"


GpuRow = tuple[str, Optional[Capability], str]  # (name, compute capability, where the capability came from)


def gpu_capabilities(facts: Facts, kb: Knowledge) -> tuple[GpuRow, ...]:
    """Each NVIDIA GPU's (name, compute capability, where the capability came from)."""
    if facts.nvidia.gpus:
        rows: list[GpuRow] = []
        for gpu in facts.nvidia.gpus:
            name = gpu.name or f"GPU {gpu.index}"
            if gpu.compute_capability is not None:
                rows.append((name, gpu.compute_capability, facts.nvidia.gpus_source or "the driver"))
            else:
                model = kb.gpu_capability(name)
                rows.append((name, model.capability if model else None, "the knowledge base's GPU table"))
        return tuple(rows)
    return tuple((d.name, d.capability, "torch") for d in facts.torch.devices)


def is_jetson(facts: Facts) -> bool:
    """A Jetson: Linux for Tegra's kernel ("5.10.120-tegra"), or NVIDIA's Jetson builds of torch
    ("2.1.0a0+41361538.nv23.06") on aarch64."""
    os_info = facts.system.os
    if os_info.system != "Linux" or ARCH_NAMES.get(os_info.arch.lower()) not in ("aarch64", None):
        return False
    version = facts.torch.version or ""
    return "tegra" in (os_info.kernel or "") or bool(re.search(r"[+.]nv\d{2}\.\d{2}", version))


def machine_from_facts(facts: Facts, gpus: Sequence[GpuRow]) -> Machine:
    """The machine the facts describe, with its NVIDIA GPUs as gpu_capabilities found them."""
    os_info = facts.system.os
    python = ".".join(facts.system.python.version.split(".")[:2]) if facts.system.python.version else None
    apple = facts.accelerators.apple
    macos = apple.macos_version if apple else None
    arch = ARCH_NAMES.get(os_info.arch.lower(), os_info.arch.lower()) or ASSUMED_ARCH
    rosetta = bool(apple and apple.rosetta)
    arch = "arm64" if rosetta else arch  # advice is for the hardware: the rosetta finding says to switch Python
    return Machine(
        os=OS_NAMES.get(os_info.system, os_info.system.lower()),
        arch=arch,
        python=python,
        driver=facts.nvidia.driver_version if version_or_none(facts.nvidia.driver_version) else None,
        gpu_names=tuple(name for name, _, _ in gpus),
        capabilities=tuple(cap for _, cap, _ in gpus),
        rocm=facts.accelerators.rocm is not None,
        glibc=os_info.glibc,
        macos_version=macos or (os_info.version if os_info.distro_id == "macos" else None),
        driver_unknown=facts.nvidia.presence_unknown,
        cuda_works=facts.torch.cuda_available is True and facts.torch.hip is None and facts.torch.cuda is not None,
        jetson=is_jetson(facts),
        rosetta=rosetta,
        python_command=shlex.quote(facts.origin.interpreter) if facts.origin.interpreter else "python",
    )
