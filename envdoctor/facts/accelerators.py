"""Facts about accelerators other than through the NVIDIA driver: the PCI bus, ROCm, Apple silicon, Intel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class PciGpu:
    """A display or 3D controller on the PCI bus, seen whether or not a driver is loaded."""

    address: str  # "0000:65:00.0"
    vendor: str  # "nvidia", "amd", "intel", or the vendor id
    vendor_id: str  # "0x10de"
    device_id: str  # "0x2684"
    driver: Optional[str]  # the kernel driver bound to it: "nvidia", "amdgpu", "i915", "xe"; None if unbound


@dataclass(frozen=True)
class RocmInfo:
    """AMD ROCm: the installed version and the GPU architectures its runtime sees."""

    version: Optional[str]  # "6.2.4", from /opt/rocm/.info/version
    gfx_archs: tuple[str, ...]  # "gfx90a", "gfx1100" (one per GPU agent)
    gpu_names: tuple[str, ...]  # marketing names, "AMD Instinct MI250X"
    source: Optional[str]  # "rocminfo"
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AppleInfo:
    """Apple silicon, where PyTorch's MPS backend can run."""

    apple_silicon: bool  # the hardware, whatever the interpreter's architecture
    macos_version: Optional[str]
    rosetta: Optional[bool] = None  # an x86_64 interpreter translated by Rosetta 2; None when unknown


@dataclass(frozen=True)
class IntelGpuInfo:
    """Intel GPUs that PyTorch's XPU backend may use."""

    devices: int
    drivers: tuple[str, ...]  # kernel drivers bound: "i915", "xe"
    xpu_smi_version: Optional[str]
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceleratorFacts:
    pci_gpus: tuple[PciGpu, ...]
    rocm: Optional[RocmInfo]  # None when no ROCm installation was found
    apple: Optional[AppleInfo]  # None off macOS
    intel: Optional[IntelGpuInfo]  # None when no Intel GPU was found
    unknown: Mapping[str, str] = field(default_factory=dict)
