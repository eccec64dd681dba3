"""Peak memory of one bench training step: envdoctor.bench.memory's estimate against a measurement.

Usage: python benchmarks/memory_estimate.py [--preset tiny,small] [--meta-reference]
(from a git worktree, put it first on the path: PYTHONPATH=. python benchmarks/memory_estimate.py)

The measurement shares nothing with the estimator but the workload, built and stepped as a cell does it
(envdoctor.bench.workloads). A TorchDispatchMode sees every tensor that each op takes or returns, parameters,
gradients and AdamW's state included; it counts each storage's bytes once, keyed by the storage itself, takes them
off when a weakref finalizer reports the storage freed, and samples the live total after every op. The peak is that
of the second step, after a warm-up step created the gradients and AdamW's state, as a cell times its window after
warm-up. AdamW is fused, as a cell runs it on CUDA (the CPU's default for-loop AdamW adds temporaries a GPU does not).

--meta-reference also measures the reference preset, without computing: under FakeTensorMode every tensor is backed
by the meta device (shapes, dtypes and storage sizes, no data) while ops dispatch as on the CPU (its flash attention,
fused AdamW), and the same tracker counts their storages. At the other presets it prints the fake measurement beside
the real one, to show that the two agree.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import sys
import weakref
from typing import Any, Optional

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from envdoctor.bench.config import PRESET_SIZES, WORKLOADS
from envdoctor.bench.memory import estimate_cell_memory
from envdoctor.bench.workloads import Workload, build, training_step

DEVICE = torch.device("cpu")
WARMUP_STEPS = 1  # enough: it leaves gradients and AdamW's state, as every later step finds them


class StorageTracker(TorchDispatchMode):
    """The bytes of every tensor storage alive while the mode is active, and their peak, sampled after every op."""

    def __init__(self) -> None:
        super().__init__()
        self.live_bytes = 0
        self.peak_bytes = 0
        self._sizes: dict[int, int] = {}  # the storage's C++ address -> its bytes, while it lives

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key, size = storage._cdata, storage.nbytes()
        if key not in self._sizes:
            weakref.finalize(storage, self._free, key)
        self.live_bytes += size - self._sizes.get(key, 0)  # a storage an op resized counts at its new size
        self._sizes[key] = size

    def _free(self, key: int) -> None:
        self.live_bytes -= self._sizes.pop(key)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for value in tree_leaves((args, kwargs, out)):
            if isinstance(value, torch.Tensor):
                self._track(value)
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        return out


def _fake(work: Workload, mode: FakeTensorMode) -> Workload:
    """`work` with its parameters, buffers, inputs and targets replaced by fake tensors of the same shapes."""
    def convert(tensor: torch.Tensor) -> torch.Tensor:
        return mode.from_tensor(tensor, static_shapes=True)

    return dataclasses.replace(work, model=work.model._apply(convert), inputs=convert(work.inputs),
                               targets=convert(work.targets))


def measure_step_peak(workload: str, sizes: dict[str, int], amp_dtype: Optional[str], fake: bool = False) -> int:
    """The peak of live tensor storage bytes during one training step after warm-up, on the CPU or, when `fake`,
    with meta-backed tensors that dispatch as on the CPU."""
    generator = torch.Generator().manual_seed(0)
    mode = FakeTensorMode() if fake else None
    # A module built under FakeTensorMode cannot be moved to its device: build it for real, then convert it.
    prebuilt = _fake(build(workload, sizes, DEVICE, generator), mode) if mode else None
    tracker = StorageTracker()
    with mode or contextlib.nullcontext(), tracker:
        work = prebuilt or build(workload, sizes, DEVICE, generator)  # on the CPU, tracked from its first tensor
        opt = torch.optim.AdamW(work.model.parameters(), lr=1e-3, fused=True)
        step = training_step(work.model, work, opt, DEVICE, getattr(torch, amp_dtype) if amp_dtype else None)
        for _ in range(WARMUP_STEPS):
            step()
        gc.collect()
        tracker.peak_bytes = tracker.live_bytes
        step()
    return tracker.peak_bytes


def _mib(size: Optional[int]) -> str:
    return "-" if size is None else f"{size / 2**20:,.1f}"


def _row(workload: str, preset: str, dtype: Optional[str], on_cpu: bool, on_meta: bool) -> str:
    sizes = PRESET_SIZES[workload][preset]
    estimate = estimate_cell_memory(workload, sizes, dtype, reference=False)
    cpu = measure_step_peak(workload, sizes, dtype) if on_cpu else None
    meta = measure_step_peak(workload, sizes, dtype, fake=True) if on_meta else None
    measured = cpu if cpu is not None else meta
    ratio = f"{estimate.step_peak_bytes / measured:.4f}" if measured else "-"
    return (f"{workload:<12} {preset:<9} {dtype or 'float32':<9} {_mib(estimate.step_peak_bytes):>10} {_mib(cpu):>10} "
            f"{_mib(meta):>10} {ratio:>8}   {_mib(estimate.weights_bytes)} + {_mib(estimate.grads_bytes)} + "
            f"{_mib(estimate.optimizer_bytes)} + {_mib(estimate.activations_bytes)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny,small", help="comma-separated presets to measure on the CPU")
    parser.add_argument("--meta-reference", action="store_true",
                        help="also measure on the meta device: the reference preset, and the others beside the CPU")
    args = parser.parse_args()
    runs = [(preset, True) for preset in args.preset.split(",")]
    if args.meta_reference:
        runs.append(("reference", False))
    print(f"{'workload':<12} {'preset':<9} {'dtype':<9} {'estimate':>10} {'cpu':>10} {'meta':>10} {'est/meas':>8}"
          "   estimate: weights + grads + AdamW + activations")
    for preset, on_cpu in runs:
        for workload in WORKLOADS:
            for dtype in (None, "bfloat16"):
                print(_row(workload, preset, dtype, on_cpu, args.meta_reference), flush=True)
    print("MiB (2**20 bytes) of live tensor storage at the step's peak; est/meas: against the CPU, else meta")
    return 0


if __name__ == "__main__":
    sys.exit(main())
