"""Run as a child process by `envdoctor.probe.deep`: small computations on one device, checked against float64
on the CPU, printed as one JSON line. Like torch_child.py it imports nothing from envdoctor."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable

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
            torch.cuda.synchronize()
            if not bool((tensors[0] == count).all()):
                raise ArithmeticError("all-reduce of ones did not give the GPU count")
        _check(results, "nccl", "all_reduce", all_reduce)
    else:
        target = torch.device(device)
        a = torch.randn(256, 256, generator=generator, dtype=torch.float64)
        b = torch.randn(256, 256, generator=generator, dtype=torch.float64)
        dtypes = ["float32", "float16", "bfloat16"]
        if target.type == "cuda" and not torch.cuda.is_bf16_supported():
            dtypes.remove("bfloat16")
        if target.type == "mps":
            dtypes.remove("bfloat16")
        for name in dtypes:
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
