"""One pytest-benchmark test per workload x mode on the first available device: seconds per training step.

    pytest benchmarks/ --benchmark-autosave                              # record
    pytest benchmarks/ --benchmark-compare --benchmark-compare-fail=median:7%   # gate against the last record

The step is envdoctor's own (envdoctor.bench.workloads), warmed up with the exact shapes first (compilation
included); samples/s, peak memory and FLOPs per step go into `extra_info`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from envdoctor.bench.config import PRESET_SIZES, WORKLOADS  # noqa: E402
from envdoctor.bench.workloads import build, optimizer  # noqa: E402

DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
PRESET = "reference" if DEVICE.type == "cuda" else "tiny"
MODES = {"eager": (False, False), "compile": (True, False), "amp": (False, True), "compile+amp": (True, True)}
AMP_DTYPE = torch.bfloat16 if DEVICE.type == "cpu" or torch.cuda.is_bf16_supported() else torch.float16


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("workload", WORKLOADS)
def test_training_step(benchmark: Any, workload: str, mode: str) -> None:
    compiled, amp = MODES[mode]
    if amp and torch.float16 == AMP_DTYPE and DEVICE.type == "cuda":
        pytest.skip("float16 needs a GradScaler; envdoctor bench --amp measures that case")
    sizes = PRESET_SIZES[workload][PRESET]
    work = build(workload, sizes, DEVICE, torch.Generator().manual_seed(0))
    model = torch.compile(work.model) if compiled else work.model
    opt = optimizer(work.model, DEVICE)

    def step() -> None:
        context = torch.autocast(DEVICE.type, dtype=AMP_DTYPE) if amp else contextlib.nullcontext()
        with context:
            loss = work.loss(model(work.inputs), work.targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync()

    for _ in range(3):
        step()
    with FlopCounterMode(display=False) as counter:
        work.loss(work.model(work.inputs), work.targets).backward()
    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats(DEVICE)
    benchmark.pedantic(step, rounds=20 if DEVICE.type == "cpu" else 50, iterations=1, warmup_rounds=2)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "device": str(DEVICE), "preset": PRESET, "batch_size": sizes["batch"],
        "samples_per_s": work.samples_per_step / median,
        "tokens_per_s": work.tokens_per_step / median if work.tokens_per_step else None,
        "flops_per_step": int(counter.get_total_flops()),
        "peak_allocated_bytes": int(torch.cuda.max_memory_allocated(DEVICE)) if DEVICE.type == "cuda" else None,
    })
