"""Run as a child process by `envdoctor.probe.deep`: small computations on one device, checked against float64
on the CPU, printed as one JSON line. Like torch_child.py it imports nothing from envdoctor."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, Optional

MARKER = "ENVDOCTOR-DEEP-JSON:"
# How far each dtype's result may stray from float64's, relative to the result's scale.
TOLERANCE = {"float32": 1e-3, "float16": 2e-2, "bfloat16": 5e-2, "float64": 1e-9}


def _check(results: list[dict[str, Any]], device: str, name: str, body: Callable[[], None]) -> None:
    start = time.perf_counter()
    try:
        body()
        results.append({"device": device, "check": name, "ok": True, "seconds": time.perf_counter() - start,
                        "error": None})
    except Exception as exc:  # every failure is the finding: record it and go on
        results.append({"device": device, "check": name, "ok": False, "seconds": time.perf_counter() - start,
                        "error": f"{type(exc).__name__}: {exc}"})


def _skip(results: list[dict[str, Any]], device: str, name: str, why: str) -> None:
    results.append({"device": device, "check": name, "ok": False, "seconds": None, "error": None, "skipped": why})


def _bf16_not_native(torch: Any, target: Any) -> Optional[str]:
    """Why bfloat16 is not checked on `target`, or None when the device computes it natively.

    torch.cuda.is_bf16_supported() answers for the current device (cuda:0), not `target`, and says yes where
    bfloat16 is only emulated; native bfloat16 is compute capability 8.0 (Ampere) and newer.
    """
    if target.type == "mps":
        return "bfloat16 is not checked on MPS"
    if target.type != "cuda":
        return None
    try:
        capability = tuple(torch.cuda.get_device_capability(target))
    except Exception as exc:  # no driver, or no such device: the other checks will say so
        return f"the compute capability of {target} is unknown ({type(exc).__name__}: {exc})"
    if capability < (8, 0):
        return (f"{target} has compute capability {capability[0]}.{capability[1]}; "
                "native bfloat16 needs 8.0 (Ampere) or newer")
    return None


def main(device: str) -> None:
    import torch
    import torch.nn.functional as F

    results: list[dict[str, Any]] = []
    generator = torch.Generator().manual_seed(0)

    def agree(result: Any, reference: Any, dtype: str) -> None:
        error = (result.detach().to("cpu", torch.float64) - reference).abs().max().item()
        scale = reference.abs().max().item() or 1.0
        if not error <= TOLERANCE[dtype] * scale:
            raise ArithmeticError(f"result differs from float64 by {error:.3g} (scale {scale:.3g})")

    if device == "nccl":
        def all_reduce() -> None:
            count = torch.cuda.device_count()
            tensors = [torch.ones(1 << 16, device=f"cuda:{i}") for i in range(count)]
            torch.cuda.nccl.all_reduce(tensors)
            for i in range(count):  # synchronize() waits for the current device only
                torch.cuda.synchronize(i)
            wrong = [f"cuda:{i}" for i, tensor in enumerate(tensors) if not bool((tensor == count).all())]
            if wrong:
                raise ArithmeticError(f"all-reduce of ones did not give the GPU count ({count}) on {', '.join(wrong)}")
        _check(results, "nccl", "all_reduce", all_reduce)
    else:
        target = torch.device(device)
        a = torch.randn(256, 256, generator=generator, dtype=torch.float64)
        b = torch.randn(256, 256, generator=generator, dtype=torch.float64)
        bf16_skipped = _bf16_not_native(torch, target)
        for name in ("float32", "float16", "bfloat16"):
            if name == "bfloat16" and bf16_skipped is not None:
                _skip(results, device, "matmul bfloat16", bf16_skipped)
                continue
            dtype = getattr(torch, name)

            def matmul(dtype: Any = dtype, name: str = name) -> None:
                result = a.to(target, dtype) @ b.to(target, dtype)
                agree(result, a @ b, name)
            _check(results, device, f"matmul {name}", matmul)
        x = torch.randn(8, 3, 32, 32, generator=generator, dtype=torch.float64)
        w = torch.randn(16, 3, 3, 3, generator=generator, dtype=torch.float64)

        def conv2d() -> None:
            agree(F.conv2d(x.to(target, torch.float32), w.to(target, torch.float32)), F.conv2d(x, w), "float32")
        _check(results, device, "conv2d (cuDNN)" if target.type == "cuda" else "conv2d", conv2d)
    sys.stdout.write(MARKER + json.dumps(results) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
