"""One pytest-benchmark test per workload x mode on the first available device: each round is a window of ten
training steps timed by the bench's own timer (envdoctor.bench.timer), so samples/s is samples / window time.

    pytest benchmarks/ --benchmark-autosave                              # record
    pytest benchmarks/ --benchmark-compare --benchmark-compare-fail=median:7%   # gate against the last record

The step is envdoctor's own (envdoctor.bench.workloads), warmed up with the exact shapes first (compilation
included); samples/s, peak memory and FLOPs per step go into `extra_info`.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

from envdoctor.bench.config import PRESET_SIZES, WORKLOADS, BenchConfig, Mode  # noqa: E402
from envdoctor.bench.timer import time_steps  # noqa: E402
from envdoctor.bench.workloads import build, count_flops, optimizer, training_step  # noqa: E402

DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
PRESET = BenchConfig().preset_for(DEVICE.type)
# bf16 only where native (compute capability 8.0 and newer, and the CPU); fp16 needs a GradScaler, which
# `envdoctor bench --amp` measures.
NATIVE_BF16 = DEVICE.type == "cpu" or torch.cuda.get_device_capability(DEVICE) >= (8, 0)
AMP_DTYPE = torch.bfloat16 if NATIVE_BF16 else torch.float16
STEPS_PER_ROUND = 10


@pytest.mark.parametrize("mode", BenchConfig(compile=True, amp=True).modes(), ids=lambda mode: mode.name)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_training_step(benchmark: Any, workload: str, mode: Mode) -> None:
    if mode.amp and torch.float16 == AMP_DTYPE and DEVICE.type == "cuda":
        pytest.skip("float16 needs a GradScaler; envdoctor bench --amp measures that case")
    sizes = PRESET_SIZES[workload][PRESET]
    work = build(workload, sizes, DEVICE, torch.Generator().manual_seed(0))
    model = torch.compile(work.model) if mode.compile else work.model
    training = training_step(model, work, optimizer(work.model, DEVICE), DEVICE, AMP_DTYPE if mode.amp else None)

    def window() -> None:  # the bench's own timer: one sync at the window's end on a GPU
        time_steps(training, DEVICE, steps=STEPS_PER_ROUND)

    for _ in range(3):
        training()
    flops = count_flops(work, DEVICE, AMP_DTYPE if mode.amp else None)
    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats(DEVICE)
    benchmark.pedantic(window, rounds=5 if DEVICE.type == "cpu" else 20, iterations=1, warmup_rounds=1)
    if benchmark.stats is None:  # --benchmark-disable: the step ran once, nothing was timed
        return
    median = benchmark.stats.stats.median / STEPS_PER_ROUND  # a round is a window of STEPS_PER_ROUND steps
    benchmark.extra_info.update({
        "device": str(DEVICE), "preset": PRESET, "batch_size": sizes["batch"],
        "samples_per_s": work.samples_per_step / median,
        "tokens_per_s": work.tokens_per_step / median if work.tokens_per_step else None,
        "flops_per_step": flops,
        "peak_allocated_bytes": int(torch.cuda.max_memory_allocated(DEVICE)) if DEVICE.type == "cuda" else None,
    })
