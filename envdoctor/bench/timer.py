"""The one step timer of every bench: single-device cells, DDP ranks, the all-reduce sweep and benchmarks/.

On a CUDA device each step is bracketed by CUDA events and the device is synchronised once, at the end of the
window, so the host never waits inside it; elsewhere each step is timed with the wall clock (MPS synchronised after
each step). Either way the window's wall time is kept too: samples / window time is the throughput a training loop
gets, gaps between steps included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

MAX_TIMED_STEPS = 100_000


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work; a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass(frozen=True)
class Window:
    """A timed window: every step's time, what each step returned, and the window's wall time."""

    step_times_s: list[float]
    outputs: list[Any]
    window_s: float  # from the window's start (device idle) to the end of its last step


def time_steps(step: Callable[[], Any], device: torch.device, min_steps: int = 5, min_time_s: float = 1.0,
               steps: Optional[int] = None) -> Window:
    """Run `step` until at least `min_steps` steps and `min_time_s` seconds (or exactly `steps` steps, as DDP ranks
    must all run the same number), timing each."""

    def more(count: int) -> bool:
        if steps is not None:
            return count < steps
        return count < MAX_TIMED_STEPS and (count < min_steps or time.perf_counter() - start < min_time_s)

    synchronize(device)
    outputs: list[Any] = []
    start = time.perf_counter()
    if device.type == "cuda":
        events: list[tuple[Any, Any]] = []
        while more(len(events)):
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            outputs.append(step())
            end.record()
            events.append((begin, end))
        synchronize(device)  # the one sync of the window
        window_s = time.perf_counter() - start
        return Window([b.elapsed_time(e) / 1000 for b, e in events], outputs, window_s)
    times: list[float] = []
    while more(len(times)):
        begin_s = time.perf_counter()
        outputs.append(step())
        synchronize(device)
        times.append(time.perf_counter() - begin_s)
    return Window(times, outputs, time.perf_counter() - start)


def time_repeated(call: Callable[[], Any], device: torch.device, iterations: int) -> float:
    """Seconds per call over `iterations` back-to-back calls: between two CUDA events and one sync on a GPU, two
    clock reads elsewhere (a collective on the CPU returns when it is done)."""
    synchronize(device)
    if device.type == "cuda":
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        for _ in range(iterations):
            call()
        end.record()
        synchronize(device)
        return float(begin.elapsed_time(end)) / 1000 / iterations
    start = time.perf_counter()
    for _ in range(iterations):
        call()
    synchronize(device)
    return (time.perf_counter() - start) / iterations
