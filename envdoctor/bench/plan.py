"""What a bench run will do, decided before anything runs: per cell the device, sizes and batch, AMP dtype, the
memory estimate against the device's memory, the peak MFU divides by, and for DDP the world and visible devices.
Pure: the same plan comes from this machine's facts or from a saved `check --json` (`bench --dry-run --from`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from envdoctor.bench.config import PRESET_SIZES, BenchConfig, Mode
from envdoctor.bench.devices import NATIVE_BF16, BenchDevice, visible_devices
from envdoctor.bench.memory import MemoryEstimate, estimate_cell_memory, fit_batch
from envdoctor.plain import to_plain

MEMORY_BUDGET = 0.85  # of the device's memory: the rest is the CUDA context, cuBLAS/cuDNN workspaces, fragmentation


def format_bytes(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


@dataclass(frozen=True)
class AmpChoice:
    """The autocast dtype a device's AMP cells use, and why; `skip` says why they cannot run there at all."""

    dtype: Optional[str]
    grad_scaler: bool
    why: str
    skip: Optional[str] = None


def amp_choice(device: BenchDevice, asked: Optional[str]) -> AmpChoice:
    """bfloat16 only where the device computes it natively; float16 with a GradScaler on other CUDA GPUs."""
    if device.kind == "cpu":
        if asked == "float16":
            return AmpChoice(None, False, "", "float16 autocast is not supported on the CPU (use bfloat16)")
        return AmpChoice("bfloat16", False, "the CPU's autocast dtype")
    if device.kind == "mps":
        return AmpChoice("float16", False, "MPS autocast runs float16 (bfloat16 needs macOS 14 and newer torch); "
                                           "no GradScaler on MPS", None if asked != "bfloat16" else
                         "bfloat16 autocast is not used on MPS (use float16)")
    native = device.native_bf16
    if asked == "bfloat16" and native is False:
        return AmpChoice(None, False, "", f"bfloat16 is emulated on compute capability "
                                          f"{_cap(device)} (native from {_cap_text(NATIVE_BF16)}): use float16")
    if asked == "float16":
        return AmpChoice("float16", True, "asked for (--amp-dtype), with a GradScaler")
    if asked == "bfloat16" or native:
        return AmpChoice("bfloat16", False, f"native on compute capability {_cap(device)}" if native
                         else "asked for (--amp-dtype)")
    if native is None:
        return AmpChoice("float16", True, "compute capability unknown: float16 with a GradScaler, native on every "
                                          "CUDA GPU")
    return AmpChoice("float16", True, f"bfloat16 is emulated on compute capability {_cap(device)} (native from "
                                      f"{_cap_text(NATIVE_BF16)}): float16 with a GradScaler")


def _cap_text(cap: tuple[int, int]) -> str:
    return f"{cap[0]}.{cap[1]}"


def _cap(device: BenchDevice) -> str:
    return _cap_text(device.capability) if device.capability else "unknown"


@dataclass(frozen=True)
class CellPlan:
    """One cell: a workload in a mode on a device (or, for DDP, on `world` processes of a device kind)."""

    workload: str
    mode: Mode
    device: str  # "cpu", "cuda:0"; for DDP the device kind, "cpu" or "cuda"
    preset: str
    sizes: Mapping[str, int]  # the preset's sizes with the batch chosen
    batch_why: str
    amp: Optional[AmpChoice]  # AMP modes only
    memory: MemoryEstimate
    memory_budget_bytes: Optional[int]
    peak_tflops: Optional[float]
    peak_source: str  # the table row and its source, or why there is no peak
    world: int = 0  # DDP: processes on this node (0: not a DDP cell)
    visible_devices: Optional[str] = None  # DDP on GPUs: CUDA_VISIBLE_DEVICES for torchrun
    gpu: Optional[BenchDevice] = field(default=None, compare=False)  # the single device, or DDP's rank 0 device
    skip: Optional[str] = None  # why the cell cannot run here

    @property
    def batch(self) -> int:
        return self.sizes["batch"]

    @property
    def dtype(self) -> str:
        """The dtype the matmuls run in: the autocast dtype, else float32."""
        return self.amp.dtype if self.amp is not None and self.amp.dtype else "float32"

    @property
    def label(self) -> str:
        return f"{self.device}-ddp{self.world}" if self.world else self.device

    @property
    def key(self) -> str:
        return f"{self.workload}/{self.mode.name}/{self.label}"


@dataclass(frozen=True)
class _Fit:
    batch: int
    why: str
    budget: Optional[int]
    skip: Optional[str] = None  # the estimate exceeds the whole device even at batch 1


def _fit(workload: str, sizes: Mapping[str, int], device: BenchDevice, dtypes: Sequence[Optional[str]],
         reference: bool) -> _Fit:
    """The largest preset batch (halving) whose estimate fits MEMORY_BUDGET of the device's memory."""
    preset_batch = sizes["batch"]
    if device.kind != "cuda":
        return _Fit(preset_batch, "the preset's batch (memory is fitted on GPUs only)", None)
    if device.memory_total_bytes is None:
        return _Fit(preset_batch, "the preset's batch: the device's memory is unknown", None)
    budget = int(device.memory_total_bytes * MEMORY_BUDGET)
    batch, estimate = fit_batch(workload, sizes, dtypes, reference, budget)
    need = format_bytes(estimate.peak_bytes)
    room = f"{format_bytes(budget)} ({MEMORY_BUDGET:.0%} of {format_bytes(device.memory_total_bytes)})"
    if estimate.peak_bytes > device.memory_total_bytes:
        return _Fit(batch, f"does not fit even at batch {batch}: estimated {need} > {room}", budget,
                    f"estimated {need} at batch 1, more than the device's {format_bytes(device.memory_total_bytes)}: "
                    "choose a smaller --preset")
    if estimate.peak_bytes > budget:  # within the estimate's error of fitting: run it, and an OOM says so
        return _Fit(batch, f"may not fit even at batch {batch}: estimated {need} > {room}", budget)
    if batch == preset_batch:
        return _Fit(batch, f"the preset's batch: estimated {need} ≤ {room}", budget)
    return _Fit(batch, f"halved from the preset's {preset_batch} to fit: estimated {need} ≤ {room}", budget)


def _cells(config: BenchConfig, workload: str, device: BenchDevice, label: str, fit: _Fit, amp: AmpChoice,
           world: int = 0, visible: Optional[str] = None, skip: Optional[str] = None) -> list[CellPlan]:
    preset = config.preset_for(device.kind)
    sizes = {**PRESET_SIZES[workload][preset], "batch": fit.batch}
    plans = []
    for mode in config.modes():
        dtype = (amp.dtype or "float32") if mode.amp else "float32"
        peak, source = device.peak_tflops(dtype) if not world else (None, "MFU is not computed for DDP cells")
        plans.append(CellPlan(
            workload, mode, label, preset, sizes, fit.why, amp if mode.amp else None,
            estimate_cell_memory(workload, sizes, amp.dtype if mode.amp else None, mode.compile or mode.amp),
            fit.budget, peak, source, world, visible, device,
            skip or fit.skip or (amp.skip if mode.amp else None)))
    return plans


def _shared_amp(choices: Sequence[AmpChoice]) -> AmpChoice:
    """One dtype for every rank of a DDP cell: float16 where the GPUs disagree, since it is native on each."""
    skipped = next((c for c in choices if c.skip), None)
    if skipped is not None or len({c.dtype for c in choices}) == 1:
        return skipped or choices[0]
    return AmpChoice("float16", True, "the GPUs differ in native bfloat16: float16 with a GradScaler, native on each")


def plan_cells(config: BenchConfig, devices: Sequence[BenchDevice],
               inherited_visible: Optional[str] = None) -> list[CellPlan]:
    """Every cell of a run, in the order it runs: each device's workloads and modes, then the DDP cells.

    A workload uses one batch on a device in every mode (fitted for the hungriest mode), so that speedups and
    memory ratios compare like with like; DDP ranks use the smallest batch fitted across the chosen GPUs."""
    amps = {d.name: amp_choice(d, config.amp_dtype) for d in devices}
    fits: dict[tuple[str, str], _Fit] = {}
    plans: list[CellPlan] = []
    reference = config.compile or config.amp  # compile and AMP cells first run an eager fp32 reference
    for device in devices:
        amp = amps[device.name]
        dtypes = [None, amp.dtype] if config.amp and amp.dtype else [None]
        for workload in config.workloads:
            sizes = PRESET_SIZES[workload][config.preset_for(device.kind)]
            fit = fits[workload, device.name] = _fit(workload, sizes, device, dtypes, reference)
            plans += _cells(config, workload, device, device.name, fit, amp)
    if not config.ddp:
        return plans
    gpus = [d for d in devices if d.kind == "cuda"]
    if gpus:
        amp = _shared_amp([amps[g.name] for g in gpus])
        visible = visible_devices(gpus, inherited_visible)
        skip = "DDP on GPUs needs two or more; this machine has one" if len(gpus) * config.nnodes < 2 else None
        for workload in config.workloads:
            fit = min((fits[workload, g.name] for g in gpus), key=lambda f: f.batch)
            plans += _cells(config, workload, gpus[0], "cuda", fit, amp, len(gpus), visible, skip)
    cpu = next((d for d in devices if d.kind == "cpu"), None)
    if cpu is not None:
        for workload in config.workloads:
            plans += _cells(config, workload, cpu, "cpu", fits[workload, "cpu"], amps["cpu"], config.nproc)
    return plans


PLAN_SCHEMA = "envdoctor.bench-plan"
PLAN_SCHEMA_VERSION = 1


def _device_plain(device: BenchDevice) -> dict[str, Any]:
    return {"device": device.name, "model": device.model, "capability": list(device.capability)
            if device.capability else None, "memory_total_bytes": device.memory_total_bytes, "uuid": device.uuid,
            "pci_bus_id": device.pci_bus_id, "mig_profile": device.mig_profile, "native_bf16": device.native_bf16,
            "nvml_index": device.gpu.index if device.gpu else None, "nvml_match": device.gpu_match,
            "peak": to_plain(device.peak), "peak_unknown_reason": device.peak_unknown_reason}


def plan_document(devices: Sequence[BenchDevice], plans: Sequence[CellPlan], machine: str) -> dict[str, Any]:
    """The plan as a versioned JSON document (`bench --dry-run --json`)."""
    return {
        "schema": PLAN_SCHEMA,
        "schema_version": PLAN_SCHEMA_VERSION,
        "machine": machine,
        "memory_budget": MEMORY_BUDGET,
        "devices": [_device_plain(d) for d in devices],
        "cells": [{"key": p.key, "workload": p.workload, "mode": p.mode.name, "device": p.label,
                   "device_model": p.gpu.model if p.gpu else None, "preset": p.preset, "sizes": dict(p.sizes),
                   "batch": p.batch, "batch_why": p.batch_why, "dtype": p.dtype,
                   "amp": to_plain(p.amp), "estimated_peak_bytes": p.memory.peak_bytes,
                   "memory_estimate": to_plain(p.memory), "memory_budget_bytes": p.memory_budget_bytes,
                   "peak_tflops": p.peak_tflops, "peak_source": p.peak_source,
                   "world_size": p.world or None, "visible_devices": p.visible_devices, "skip": p.skip}
                  for p in plans],
    }
