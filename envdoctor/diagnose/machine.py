"""What advice and rules need to know about a machine, whether probed (`from_facts`) or described (`advise`)."""

from __future__ import annotations

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
        return self.driver is not None or bool(self.gpu_names)

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


def machine_from_facts(facts: Facts, gpus: Sequence[GpuRow]) -> Machine:
    """The machine the facts describe, with its NVIDIA GPUs as gpu_capabilities found them."""
    os_info = facts.system.os
    python = ".".join(facts.system.python.version.split(".")[:2]) if facts.system.python.version else None
    macos = facts.accelerators.apple.macos_version if facts.accelerators.apple else None
    arch = ARCH_NAMES.get(os_info.arch.lower(), os_info.arch.lower()) or ASSUMED_ARCH
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
    )
