"""The devices a bench runs on, built once from check's facts. Every GPU decision (preset batch, AMP dtype, MFU's
peak, DDP's visible devices, topology, fingerprint) reads this model, so each is a pure function of the facts and
can be planned for a machine described by a saved `check --json` (`bench --dry-run --from`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from envdoctor.facts import Facts, GpuInfo, TorchDevice
from envdoctor.knowledge import Knowledge, PeakModel
from envdoctor.parse.pci import normalise_pci_bus_id

Capability = tuple[int, int]
NATIVE_BF16 = (8, 0)  # Ampere: bf16 tensor cores; below it torch emulates bf16 (is_bf16_supported() still says yes)
_MIG = re.compile(r"\bMIG\s+(\d+g\.\d+gb)\b", re.IGNORECASE)


@dataclass(frozen=True)
class BenchDevice:
    """One device a cell can run on, with what is known of it and, for each unknown, why."""

    name: str  # "cuda:0", "mps", "cpu": torch's spelling, in torch's order
    kind: str  # "cuda", "mps", "cpu"
    model: Optional[str]  # torch's device name ("NVIDIA H100 80GB HBM3"); the CPU's model for the CPU
    capability: Optional[Capability]
    memory_total_bytes: Optional[int]  # what the device can hold; for the CPU, the machine's RAM
    uuid: Optional[str]  # CUDA's UUID, without NVML's "GPU-"/"MIG-" prefix
    pci_bus_id: Optional[str]  # as torch reports it
    mig_profile: Optional[str]  # "1g.10gb" for a MIG slice
    gpu: Optional[GpuInfo]  # the NVML (or nvidia-smi) record of the GPU it is, matched by identity
    gpu_match: str  # how `gpu` was found ("uuid", "pci bus id"), or why it was not
    peak: Optional[PeakModel]
    peak_unknown_reason: Optional[str]

    @property
    def native_bf16(self) -> Optional[bool]:
        """Whether the device computes bf16 natively; None where that is unknown."""
        if self.kind == "cpu":
            return True  # torch's CPU kernels take bf16 everywhere (natively with AVX-512-BF16/AMX, else widened)
        if self.kind != "cuda" or self.capability is None:
            return None
        return self.capability >= NATIVE_BF16

    def peak_tflops(self, dtype: str) -> tuple[Optional[float], str]:
        """The dense peak MFU divides by for `dtype`, with its source; or None and why there is none."""
        if self.peak is None:
            return None, self.peak_unknown_reason or "no sourced peak"
        if dtype not in self.peak.tflops:
            return None, f"no sourced dense {dtype} peak for {self.peak.name}"
        return self.peak.tflops[dtype], f"{self.peak.name}: {self.peak.source}"


def _bare_uuid(uuid: Optional[str]) -> Optional[str]:
    return re.sub(r"^(GPU|MIG)-", "", uuid.strip(), flags=re.IGNORECASE).lower() if uuid else None


def match_gpu(device: TorchDevice, gpus: Sequence[GpuInfo]) -> tuple[Optional[GpuInfo], str]:
    """The NVML record of the GPU torch calls `device`: by UUID, else by PCI bus id, never by index (CUDA orders
    devices fastest first, NVML by PCI bus). A MIG slice has a UUID of its own and its GPU's bus id."""
    uuid = _bare_uuid(device.uuid)
    if uuid:
        for gpu in gpus:
            if _bare_uuid(gpu.uuid) == uuid:
                return gpu, "uuid"
    bus = normalise_pci_bus_id(device.pci_bus_id)
    if bus:
        for gpu in gpus:
            if normalise_pci_bus_id(gpu.pci_bus_id) == bus:
                return gpu, "pci bus id"
    if not gpus:
        return None, "no NVML or nvidia-smi record of any GPU"
    if not uuid and not bus:
        return None, "torch reported neither UUID nor PCI bus id for it"
    return None, "no GPU record has its UUID or PCI bus id"


def _peak(kb: Knowledge, model: Optional[str], kind: str, mig: Optional[str]) -> tuple[Optional[PeakModel], str]:
    if kind != "cuda":
        return None, f"no peak FLOP/s table for {kind.upper() if kind != 'cpu' else 'CPU'}s"
    if mig:
        return None, f"a MIG slice ({mig}): its share of the GPU's peak is not published"
    if model is None:
        return None, "the GPU's model is unknown"
    row = kb.peak_model(model)
    return (row, "") if row is not None else (None, f"no sourced peak for {model!r}")


def cuda_device(device: TorchDevice, gpus: Sequence[GpuInfo], kb: Knowledge) -> BenchDevice:
    gpu, how = match_gpu(device, gpus)
    mig = _MIG.search(device.name)
    profile = mig.group(1).lower() if mig else None
    peak, why = _peak(kb, device.name, "cuda", profile)
    return BenchDevice(f"cuda:{device.index}", "cuda", device.name, device.capability, device.total_memory_bytes,
                       _bare_uuid(device.uuid), device.pci_bus_id, profile, gpu, how, peak, why or None)


def bench_devices(facts: Facts, kb: Knowledge) -> tuple[BenchDevice, ...]:
    """Every device torch can train on in this machine: each CUDA GPU (torch's order), MPS, then the CPU."""
    runtime = facts.torch
    devices: list[BenchDevice] = []
    if runtime.cuda_available:
        devices += [cuda_device(d, facts.nvidia.gpus, kb) for d in runtime.devices]
    if runtime.mps_available:  # unified memory: the machine's RAM is the device's
        peak, why = _peak(kb, None, "mps", None)
        devices.append(BenchDevice("mps", "mps", "Apple silicon (MPS)", None, facts.system.memory.total_bytes, None,
                                   None, None, None, "not an NVIDIA GPU", peak, why))
    peak, why = _peak(kb, None, "cpu", None)
    devices.append(BenchDevice("cpu", "cpu", facts.system.cpu.model, None, facts.system.memory.total_bytes, None,
                               None, None, None, "not an NVIDIA GPU", peak, why))
    return tuple(devices)


def select(asked: Optional[Sequence[str]], available: Sequence[BenchDevice]) -> list[BenchDevice]:
    """The devices to bench: all available, or those asked for ("cuda" means every GPU). ValueError names a device
    that is not there."""
    if not asked:
        return list(available)
    chosen: list[BenchDevice] = []
    for name in asked:
        matches = [d for d in available if d.name == name or (name == "cuda" and d.kind == "cuda")]
        if not matches:
            names = ", ".join(d.name for d in available)
            raise ValueError(f"device {name!r} is not available here (available: {names})")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def visible_devices(gpus: Sequence[BenchDevice], inherited: Optional[str]) -> str:
    """CUDA_VISIBLE_DEVICES for torchrun's ranks, so that rank i trains on the i-th chosen GPU. UUIDs where torch
    gave them (they mean the same GPU whatever the order); else the entries of an inherited CUDA_VISIBLE_DEVICES
    (torch's indices count within it); else the indices themselves."""
    if all(g.uuid for g in gpus):
        return ",".join(f"{'MIG' if g.mig_profile else 'GPU'}-{g.uuid}" for g in gpus)
    indices = [int(g.name.split(":")[1]) for g in gpus]
    entries = [e.strip() for e in inherited.split(",")] if inherited else []
    if entries:
        return ",".join(entries[i] for i in indices if i < len(entries))
    return ",".join(map(str, indices))
