"""Facts about the NVIDIA driver and GPUs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class GpuInfo:
    """One NVIDIA GPU as the driver reports it."""

    index: int
    name: Optional[str]
    uuid: Optional[str]
    compute_capability: Optional[tuple[int, int]]
    memory_total_bytes: Optional[int]
    memory_used_bytes: Optional[int]
    mig_enabled: Optional[bool]  # current MIG mode; None with a reason where the GPU has no MIG
    sm_clock_mhz: Optional[int]
    sm_clock_max_mhz: Optional[int]
    power_limit_w: Optional[float]
    throttle_reasons: Optional[tuple[str, ...]]  # active clock-event reasons; () when none is active
    pcie_gen: Optional[int]  # current link generation
    pcie_gen_max: Optional[int]
    pcie_width: Optional[int]  # current link width (lanes)
    pcie_width_max: Optional[int]
    nvlink_active_links: Optional[int]
    pci_bus_id: Optional[str] = None  # "00000000:07:00.0" (NVML's busId, nvidia-smi's "Bus-Id")
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NvidiaInfo:
    """The NVIDIA driver, its GPUs, and which source answered each part."""

    driver_version: Optional[str]  # "550.54.14"
    driver_source: Optional[str]  # "nvml", "/sys/module/nvidia/version", "/proc/driver/nvidia/version", ...
    driver_max_cuda: Optional[str]  # the highest CUDA version this driver supports, "12.4"
    kernel_module: Optional[str]  # "open" or "proprietary", from /proc/driver/nvidia/version
    gpus: tuple[GpuInfo, ...]
    gpus_source: Optional[str]  # "nvml" or "nvidia-smi"
    nvidia_smi: Optional[str]  # path of the nvidia-smi that was found
    attempts: tuple[str, ...]  # every detection step in order, with its outcome
    unknown: Mapping[str, str] = field(default_factory=dict)
    # Why nobody could tell whether an NVIDIA driver is there (a report cut short, collect_env's "Could not
    # collect"); None when the probe or the report could tell, present or absent.
    presence_unknown: Optional[str] = None

    @property
    def nvlink_present(self) -> Optional[bool]:
        """True when any GPU has an active NVLink; None when no GPU's links are known."""
        links = [g.nvlink_active_links for g in self.gpus if g.nvlink_active_links is not None]
        return any(n > 0 for n in links) if links else None
