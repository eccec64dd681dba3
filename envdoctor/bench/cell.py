"""One bench cell (workload x mode x device), run as `python -m envdoctor.bench.cell SPEC_JSON` in its own process.

It prints one JSON line after MARKER: the raw step times and everything measured, or the status of its failure.
The parent (envdoctor.bench.runner) enforces the timeout and turns a crash into a status of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from typing import Any, Optional

MARKER = "ENVDOCTOR-CELL-JSON:"
# Test hook: "mlp/eager=oom,cnn/compile=segfault,ddp/rank1=exit". Faults of a cell: oom, oom>N (only while the
# batch exceeds N), compile_error, error, segfault, hang; of a DDP rank: segfault, hang, exit.
INJECT_VAR = "ENVDOCTOR_BENCH_INJECT"
# How far a mode's first-step loss may stray from eager fp32's from the same seed and data, relative to it. The
# first step's loss is compared, not a later one: AdamW's first update is nearly sign(gradient), so a rounding
# difference in a near-zero gradient moves a weight by the full learning rate either way.
LOSS_RTOL = {"float32": 1e-3, "bfloat16": 5e-2, "float16": 2e-2}
MAX_TIMED_STEPS = 100_000


class Skipped(Exception):
    """The cell cannot run here (fp16 autocast on the CPU, compile without a C compiler)."""


class CompileFailed(Exception):
    """torch.compile failed while building or running the first compiled step."""


def injected(target: str) -> Optional[str]:
    """The fault INJECT_VAR asks of `target` ("mlp/eager", "ddp/rank1"); segfault and hang happen here and now."""
    for item in os.environ.get(INJECT_VAR, "").split(","):
        key, _, fault = item.partition("=")
        if key.strip() == target:
            fault = fault.strip()
            if fault == "segfault":
                os.kill(os.getpid(), signal.SIGSEGV)
            if fault == "hang":
                time.sleep(10**6)
            return fault
    return None


def _relative(value: float, reference: float) -> float:
    return abs(value - reference) / max(abs(reference), 1e-12)


def run_cell(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from envdoctor.bench.workloads import (
        amp_dtype_name,
        build,
        count_flops,
        grad_scaler,
        optimizer,
        synchronize,
        training_step,
    )

    device = torch.device(spec["device"])
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dtype_name = amp_dtype_name(device, spec["amp_dtype"]) if spec["amp"] else None
    if dtype_name == "float16" and device.type == "cpu":
        raise Skipped("float16 autocast is not supported on the CPU (use bfloat16)")
    if spec["compile"] and device.type == "cpu" and not any(shutil.which(c) for c in ("cc", "gcc", "clang")):
        raise Skipped("torch.compile needs a C compiler on the CPU, and none is on PATH")
    fault = injected(f"{spec['workload']}/{spec['mode_name']}")
    oom_above = int(fault[4:]) if fault and fault.startswith("oom>") else None
    if fault == "oom" or (oom_above is not None and spec["sizes"]["batch"] > oom_above):
        raise torch.cuda.OutOfMemoryError("injected by " + INJECT_VAR)
    if fault == "error":
        raise RuntimeError("injected by " + INJECT_VAR)
    if fault == "compile_error":
        raise CompileFailed("injected by " + INJECT_VAR)

    # TF32 stays at torch's defaults (off for matmuls, on for cuDNN convolutions); the values are recorded.
    tf32 = ({"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}
            if device.type == "cuda" else None)
    amp_dtype = getattr(torch, dtype_name) if dtype_name else None
    scaler = grad_scaler(device, amp_dtype)

    def fresh() -> Any:
        generator = torch.Generator().manual_seed(spec["seed"])
        torch.manual_seed(spec["seed"])
        return build(spec["workload"], spec["sizes"], device, generator)

    # Eager fp32 reference: the first step's loss, from the same seed and data.
    reference_loss: Optional[float] = None
    if spec["compile"] or spec["amp"]:
        ref = fresh()
        reference_loss = float(training_step(ref.model, ref, optimizer(ref.model, device), device)().item())
        del ref

    work = fresh()
    opt = optimizer(work.model, device)
    model = torch.compile(work.model, mode=spec["compile_mode"]) if spec["compile"] else work.model
    step = training_step(model, work, opt, device, amp_dtype, scaler)
    start = time.perf_counter()
    try:
        first_loss = float(step().item())  # the sync that ends the first (compiling) step
    except torch.cuda.OutOfMemoryError:
        raise
    except Exception as exc:
        if spec["compile"]:  # the first compiled step is where dynamo and inductor run
            raise CompileFailed(f"{type(exc).__name__}: {exc}") from exc
        raise
    first_step_s = time.perf_counter() - start
    for _ in range(spec["warmup_steps"]):
        step()
    flops = count_flops(work, device, amp_dtype)  # one eager forward and backward, outside any timing
    opt.zero_grad(set_to_none=True)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)

    times: list[float] = []
    losses = []
    timed_start = time.perf_counter()
    if device.type == "cuda":
        events: list[tuple[Any, Any]] = []
        while (len(events) < spec["min_steps"] or time.perf_counter() - timed_start < spec["min_time_s"]) \
                and len(events) < MAX_TIMED_STEPS:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            losses.append(step())
            end.record()
            events.append((begin, end))
        synchronize(device)  # the one sync of the timed window
        times = [b.elapsed_time(e) / 1000 for b, e in events]
    else:
        while (len(times) < spec["min_steps"] or time.perf_counter() - timed_start < spec["min_time_s"]) \
                and len(times) < MAX_TIMED_STEPS:
            begin_s = time.perf_counter()
            losses.append(step())
            synchronize(device)
            times.append(time.perf_counter() - begin_s)
    finite = bool(torch.stack(losses).float().isfinite().all().item())

    memory: dict[str, Optional[int]] = {"peak_allocated_bytes": None, "peak_reserved_bytes": None}
    if device.type == "cuda":
        memory = {"peak_allocated_bytes": int(torch.cuda.max_memory_allocated(device)),
                  "peak_reserved_bytes": int(torch.cuda.max_memory_reserved(device))}
    loss_check = None
    if reference_loss is not None:
        tolerance = LOSS_RTOL[dtype_name or "float32"]
        loss_check = {"reference": reference_loss, "value": first_loss, "rtol": tolerance,
                      "ok": _relative(first_loss, reference_loss) <= tolerance}
    ok = finite and (loss_check is None or loss_check["ok"])
    return {
        "status": "ok" if ok else "error",
        "reason": None if ok else ("a loss was not finite" if not finite else
                                   f"first-step loss {first_loss:.6g} differs from eager fp32's {reference_loss:.6g} "
                                   f"by more than {loss_check['rtol'] if loss_check else 0:g}"),
        "step_times_s": times,
        "first_step_s": first_step_s,
        "flops_per_step": flops,
        "samples_per_step": work.samples_per_step,
        "tokens_per_step": work.tokens_per_step,
        "loss_check": loss_check,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "settings": {"compile_mode": spec["compile_mode"] if spec["compile"] else None,
                     "autocast_dtype": dtype_name, "grad_scaler": scaler is not None,
                     "tf32": tf32, "dtype": dtype_name or "float32",
                     "channels_last": spec["workload"] == "cnn" and device.type == "cuda"},
        **memory,
    }


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
    spec = json.loads(spec_json)
    try:
        import torch
    except Exception as exc:  # a torch that does not import fails every cell alike
        result: dict[str, Any] = {"status": "error", "reason": f"import torch: {type(exc).__name__}: {exc}"}
    else:
        try:
            result = run_cell(spec)
        except Skipped as exc:
            result = {"status": "skipped", "reason": str(exc)}
        except CompileFailed as exc:
            result = {"status": "compile_error", "reason": _first_line(str(exc))}
        except torch.cuda.OutOfMemoryError as exc:
            result = {"status": "oom", "reason": _first_line(f"{type(exc).__name__}: {exc}")}
        except Exception as exc:  # every failure of the cell is its result, with the reason
            result = {"status": "error", "reason": _first_line(f"{type(exc).__name__}: {exc}")}
    result["peak_rss_bytes"] = _peak_rss_bytes()
    sys.stdout.write(MARKER + json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
