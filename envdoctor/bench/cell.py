"""One bench cell (workload x mode x device), run as `python -m envdoctor.bench.cell SPEC_JSON` in its own process.

It prints one JSON line after MARKER: the raw step times and everything measured, or the status of its failure.
The parent (envdoctor.bench.runner) enforces the timeout and turns a crash into a status of its own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
from typing import Any, Optional

from envdoctor.bench.spec import CellSpec, RoundOutcome

MARKER = "ENVDOCTOR-CELL-JSON:"
# How far a compile or AMP cell may stray from eager fp32 from the same seed and data: each loss of the guard's
# trajectory, as a fraction of the first reference loss (losses fall towards 0, where a relative error means
# nothing), and the first step's gradients as ||g - g_ref|| / ||g_ref||. Measured on the CPU over the three
# workloads at the tiny and small presets (docs/bench.md): fp32 compile, losses within 7e-5 and gradients within
# 6e-3 (ResNet-18's BatchNorm gradients, reduced in another order); bf16 autocast, losses within 3e-2 and gradients
# within 0.46 (BatchNorm's parameter gradients are sums with heavy cancellation). So bf16's gradient tolerance
# catches only gradients that are missing (error 1), unrelated (about 1.4) or reversed (2); its loss trajectory is
# the finer check. float16 (3 more mantissa bits than bfloat16) was not measured here: no GPU.
LOSS_TOLERANCE = {"float32": 1e-3, "bfloat16": 0.1, "float16": 0.05}
GRAD_TOLERANCE = {"float32": 2e-2, "bfloat16": 0.6, "float16": 0.25}


class Skipped(Exception):
    """The cell cannot run here (compile on the CPU without a C++ compiler)."""


class CompileFailed(Exception):
    """torch.compile failed while building or running the first compiled step."""


def cxx_compiler() -> Optional[str]:
    """The C++ compiler Inductor would use on the CPU: $CXX, else g++, clang++ or c++ on PATH."""
    return os.environ.get("CXX") or next(filter(None, map(shutil.which, ("g++", "clang++", "c++"))), None)


def guard_verdict(losses: list[float], reference_losses: list[float], grad_error: float,
                  dtype: str) -> dict[str, Any]:
    """Whether a cell's first steps match eager fp32's: every loss of the trajectory and the first gradients."""
    scale = max(abs(reference_losses[0]), 1e-12)
    loss_error = max(abs(v - r) / scale for v, r in zip(losses, reference_losses))
    if not all(math.isfinite(v) for v in losses):
        loss_error = math.inf
    ok = loss_error <= LOSS_TOLERANCE[dtype] and grad_error <= GRAD_TOLERANCE[dtype]
    return {"steps": len(losses), "losses": losses, "reference_losses": reference_losses,
            "loss_error": loss_error, "loss_tolerance": LOSS_TOLERANCE[dtype],
            "grad_error": grad_error, "grad_tolerance": GRAD_TOLERANCE[dtype], "ok": ok}


def _settings(torch: Any, spec: CellSpec, device: Any) -> dict[str, Any]:
    """The settings the cell ran with, as torch reports them inside its process."""
    cuda = device.type == "cuda"
    return {"batch": spec.sizes["batch"], "dtype": spec.amp_dtype or "float32",
            "compile_mode": spec.compile_mode if spec.compile else None, "autocast_dtype": spec.amp_dtype,
            "grad_scaler": spec.grad_scaler, "threads": torch.get_num_threads(),
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}
            if cuda else None,
            "cudnn_benchmark": torch.backends.cudnn.benchmark if cuda else None,
            "channels_last": spec.workload == "cnn" and cuda}


def run_cell(spec: CellSpec) -> RoundOutcome:
    import contextlib

    import torch

    from envdoctor.bench.contention import CpuWatch
    from envdoctor.bench.sampler import GpuSampler
    from envdoctor.bench.timer import synchronize, time_steps
    from envdoctor.bench.workloads import (
        build,
        count_flops,
        grad_scaler,
        gradient_error,
        optimizer,
        training_step,
        trajectory,
    )

    device = torch.device(spec.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if spec.compile and device.type == "cpu" and cxx_compiler() is None:
        raise Skipped("torch.compile on the CPU needs a C++ compiler ($CXX, g++, clang++), and none was found")
    amp_dtype = getattr(torch, spec.amp_dtype) if spec.amp_dtype else None

    def fresh() -> Any:
        generator = torch.Generator().manual_seed(spec.seed)
        torch.manual_seed(spec.seed)
        return build(spec.workload, spec.sizes, device, generator)

    reference = None
    if spec.guard_steps:  # eager fp32 from the same seed and data, freed before the measured model is built
        ref = fresh()
        reference = trajectory(ref.model, ref, optimizer(ref.model, device), device, spec.guard_steps)
        del ref
        if device.type == "cuda":
            torch.cuda.empty_cache()

    work = fresh()
    opt = optimizer(work.model, device)
    scaler = grad_scaler(device, spec.grad_scaler)
    model = torch.compile(work.model, mode=spec.compile_mode) if spec.compile else work.model
    try:
        first = trajectory(model, work, opt, device, max(1, spec.guard_steps), amp_dtype, scaler)
    except torch.cuda.OutOfMemoryError:
        raise
    except Exception as exc:
        if spec.compile:  # the first compiled step is where dynamo and inductor run
            root = _root_cause(exc)
            cause = f": {type(root).__name__}: {root}" if root is not exc else ""
            raise CompileFailed(f"{type(exc).__name__}{cause or f': {exc}'}") from exc
        raise
    guard = None
    if reference is not None:
        guard = guard_verdict(first.losses, reference.losses, gradient_error(first.grads, reference.grads),
                              spec.amp_dtype or "float32")
    step = training_step(model, work, opt, device, amp_dtype, scaler)
    for _ in range(spec.warmup_steps):
        step()
    flops = count_flops(work, device, amp_dtype)  # one eager forward and backward, outside any timing
    opt.zero_grad(set_to_none=True)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    sampler = GpuSampler(spec.gpu_uuid, spec.gpu_bus_id) if device.type == "cuda" else None
    with sampler if sampler is not None else contextlib.nullcontext():
        watch = CpuWatch()
        window = time_steps(step, device, spec.min_steps, spec.min_time_s)
        share = watch.stop()
    finite = bool(torch.stack(window.outputs).float().isfinite().all().item())

    memory: dict[str, Optional[int]] = {"peak_allocated_bytes": None, "peak_reserved_bytes": None}
    if device.type == "cuda":
        memory = {"peak_allocated_bytes": int(torch.cuda.max_memory_allocated(device)),
                  "peak_reserved_bytes": int(torch.cuda.max_memory_reserved(device))}
    reason = None
    if not finite:
        reason = "a loss of the timed window was not finite"
    elif guard is not None and not guard["ok"]:
        reason = (f"does not match eager fp32 ({guard['steps']} steps, {spec.amp_dtype or 'float32'}): loss error "
                  f"{guard['loss_error']:.3g} (tolerance {guard['loss_tolerance']:g}), first-step gradient error "
                  f"{guard['grad_error']:.3g} (tolerance {guard['grad_tolerance']:g})")
    return RoundOutcome(
        status="error" if reason else "ok",
        reason=reason,
        step_times_s=window.step_times_s,
        window_s=window.window_s,
        first_step_s=first.first_step_s,
        flops_per_step=flops,
        samples_per_step=work.samples_per_step,
        tokens_per_step=work.tokens_per_step,
        loss_check=guard,
        device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        settings=_settings(torch, spec, device),
        gpu_window=sampler.result() if sampler is not None else None,
        cpu_share=share.plain() if share is not None else None,
        **memory,
    )


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception: dynamo wraps the backend's in BackendCompilerFailed, whose own text is a header."""
    seen = {id(exc)}
    while True:
        inner = getattr(exc, "inner_exception", None) or exc.__cause__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _peak_rss_bytes() -> Optional[int]:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS reports bytes, Linux kilobytes


def main(spec_json: str) -> None:
    spec = CellSpec.from_json(spec_json)
    try:
        import torch
    except Exception as exc:  # a torch that does not import fails every cell alike
        result = RoundOutcome("error", f"import torch: {type(exc).__name__}: {exc}")
    else:
        try:
            result = run_cell(spec)
        except Skipped as exc:
            result = RoundOutcome("skipped", str(exc))
        except CompileFailed as exc:
            result = RoundOutcome("compile_error", _first_line(str(exc)))
        except torch.cuda.OutOfMemoryError as exc:
            result = RoundOutcome("oom", _first_line(f"{type(exc).__name__}: {exc}"))
        except Exception as exc:  # every failure of the cell is its result, with the reason
            result = RoundOutcome("error", _first_line(f"{type(exc).__name__}: {exc}"))
    result = dataclasses.replace(result, peak_rss_bytes=_peak_rss_bytes())
    sys.stdout.write(MARKER + json.dumps(dataclasses.asdict(result)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
