"""What the GPU did during a cell's window, sampled through NVML: a fake pynvml module at the boundary."""

from __future__ import annotations

import os
import types
from typing import Any

from envdoctor.bench.sampler import GpuSampler, Sample, summarize


class NVMLError(Exception):
    pass


def fake_nvml(bus_ids: dict[str, int], clocks: list[int], reasons: int, pids: list[int]) -> types.ModuleType:
    """NVML answering for the GPUs in `bus_ids` (bus id -> handle); clocks are read in turn, the last repeats."""
    nvml = types.ModuleType("pynvml")
    reads = iter(clocks)
    state = {"shut": False}

    def by_bus(bus: str) -> int:
        if bus not in bus_ids:
            raise NVMLError("Not Found")
        return bus_ids[bus]

    def clock(handle: int, kind: int) -> int:
        return next(reads, clocks[-1])

    nvml.NVMLError = NVMLError  # type: ignore[attr-defined]
    nvml.NVML_CLOCK_SM = 1  # type: ignore[attr-defined]
    nvml.nvmlInit = lambda: None  # type: ignore[attr-defined]
    nvml.nvmlShutdown = lambda: state.update(shut=True)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetHandleByPciBusId = by_bus  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetHandleByUUID = lambda uuid: 7  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetClockInfo = clock  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetCurrentClocksEventReasons = lambda handle: reasons  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetComputeRunningProcesses = (  # type: ignore[attr-defined]
        lambda handle: [types.SimpleNamespace(pid=p, usedGpuMemory=1) for p in pids])
    nvml.state = state  # type: ignore[attr-defined]
    return nvml


def test_summary_of_a_window() -> None:
    samples = [Sample(1980, 0x1, (100,)), Sample(1755, 0x4 | 0x40, (100, 4242)), Sample(1410, 0x4, (100,)),
               Sample(None, None, ())]
    summary = summarize(samples, own_pids=[100])
    assert summary["samples"] == 4
    assert summary["sm_clock_mhz"] == {"min": 1410, "median": 1755, "max": 1980}
    # gpu_idle is what an idle GPU says between launches: not a throttle of a busy window.
    assert summary["throttle_reasons"] == ["hw_thermal_slowdown", "sw_power_cap"]
    assert summary["other_processes"] == [4242]


def test_sampler_finds_the_gpu_by_bus_id_and_samples_until_the_block_ends() -> None:
    nvml = fake_nvml({"00000000:65:00.0": 1}, [1980, 1410], 0x4, [os.getpid(), 999])
    with GpuSampler(None, "00000000:65:00.0", load=lambda: nvml, interval_s=0.001) as sampler:
        pass
    result: dict[str, Any] = sampler.result()
    assert result["samples"] >= 1 and result["other_processes"] == [999]
    assert result["throttle_reasons"] == ["sw_power_cap"] and result["sm_clock_mhz"]["max"] == 1980
    assert nvml.state["shut"] is True  # type: ignore[attr-defined]


def test_sampler_says_why_it_could_not_sample() -> None:
    def missing() -> types.ModuleType:
        raise ImportError("No module named 'pynvml'")
    with GpuSampler("abc", None, load=missing) as sampler:
        pass
    assert sampler.result() == {"samples": 0, "unknown": "pynvml cannot be imported: No module named 'pynvml'"}
    with GpuSampler(None, None, load=lambda: fake_nvml({}, [1], 0, [])) as sampler:
        pass
    assert sampler.result()["unknown"].startswith("the GPU was not found in NVML: the device has neither")
