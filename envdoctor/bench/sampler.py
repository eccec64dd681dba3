"""What the GPU was doing while a cell's window was timed: SM clocks, clock-event ("throttle") reasons and other
processes on the device, sampled through NVML from a thread of the cell's process. A clock read at check time says
nothing about the window: a GPU that throttles under load shows it only while it works."""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Optional

from envdoctor.probe.nvidia import THROTTLE_BITS, NvmlLoader, load_pynvml

INTERVAL_S = 0.1


@dataclass(frozen=True)
class Sample:
    sm_clock_mhz: Optional[int]
    reasons: Optional[int]  # NVML's clock-event bit mask
    pids: tuple[int, ...]  # compute processes on the device


def summarize(samples: Sequence[Sample], own_pids: Sequence[int]) -> dict[str, Any]:
    """The window in a few figures: SM clock min / median / max, every throttle reason seen (idle excluded: a
    window is busy), and the other processes seen on the device."""
    clocks = sorted(s.sm_clock_mhz for s in samples if s.sm_clock_mhz is not None)
    masks = [s.reasons for s in samples if s.reasons is not None]
    reasons = sorted({name for mask in masks for bit, name in THROTTLE_BITS.items() if mask & bit} - {"gpu_idle"})
    others = sorted({pid for s in samples for pid in s.pids} - set(own_pids))
    return {
        "samples": len(samples),
        "sm_clock_mhz": {"min": clocks[0], "median": statistics.median(clocks), "max": clocks[-1]} if clocks else None,
        "throttle_reasons": reasons if masks else None,
        "other_processes": others,
    }


def _handle(nvml: ModuleType, uuid: Optional[str], bus_id: Optional[str]) -> Any:
    """The NVML handle of the GPU: by PCI bus id first (a MIG slice's clocks are its GPU's), else by UUID."""
    if bus_id:
        with contextlib.suppress(nvml.NVMLError):
            return nvml.nvmlDeviceGetHandleByPciBusId(bus_id)
    if uuid:
        return nvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
    raise LookupError("the device has neither a PCI bus id nor a UUID to find it by")


class GpuSampler:
    """`with GpuSampler(uuid, bus_id) as sampler:` samples until the block ends; `result()` is the summary, or a
    reason where NVML could not be used."""

    def __init__(self, uuid: Optional[str], bus_id: Optional[str], load: NvmlLoader = load_pynvml,
                 interval_s: float = INTERVAL_S) -> None:
        self._ids = (uuid, bus_id)
        self._load = load
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._samples: list[Sample] = []
        self._thread: Optional[threading.Thread] = None
        self._why: Optional[str] = None
        self._nvml: Optional[ModuleType] = None

    def __enter__(self) -> GpuSampler:
        try:
            nvml = self._load()
        except ImportError as exc:
            self._why = f"pynvml cannot be imported: {exc}"
            return self
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            self._why = f"nvmlInit failed: {exc}"
            return self
        self._nvml = nvml
        try:
            handle = _handle(nvml, *self._ids)
        except (LookupError, nvml.NVMLError) as exc:
            self._why = f"the GPU was not found in NVML: {exc}"
            return self
        self._thread = threading.Thread(target=self._run, args=(nvml, handle), daemon=True)
        self._thread.start()
        return self

    def _run(self, nvml: ModuleType, handle: Any) -> None:
        while True:
            self._samples.append(Sample(_ask(nvml, "nvmlDeviceGetClockInfo", handle, nvml.NVML_CLOCK_SM),
                                        _ask(nvml, "nvmlDeviceGetCurrentClocksEventReasons", handle)
                                        if hasattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons")
                                        else _ask(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", handle),
                                        tuple(p.pid for p in _ask(nvml, "nvmlDeviceGetComputeRunningProcesses",
                                                                  handle) or ())))
            if self._stop.wait(self._interval_s):
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._nvml is not None:
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlShutdown()

    def result(self) -> dict[str, Any]:
        if self._why is not None:
            return {"samples": 0, "unknown": self._why}
        return summarize(self._samples, [os.getpid()])


def _ask(nvml: ModuleType, function: str, *args: Any) -> Any:
    """One NVML query; None where this GPU or driver does not answer it."""
    try:
        return getattr(nvml, function)(*args)
    except nvml.NVMLError:
        return None
