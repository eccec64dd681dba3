"""Faults for the bench's child processes, injected from the tests: a directory on PYTHONPATH whose sitecustomize
wraps `envdoctor.bench.workloads.build` when a child imports it, so each fault happens where a real one would
(inside the model's forward, inside Inductor, in a DDP rank) and the product's own classification handles it.

ENVDOCTOR_TEST_FAULTS="mlp/eager=oom,cnn/compile=compile_error,ddp/rank1=exit". Faults of a cell (the spec in
the child's argv names its workload and mode): oom, oom>N (only while the batch exceeds N), compile_error, error,
wrong (zero logits under autocast or compilation: a numerically wrong mode), segfault, hang; of a DDP rank:
exit, segfault, hang.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import signal
import sys
import time
from typing import Any, Optional

VARIABLE = "ENVDOCTOR_TEST_FAULTS"


def _fault(target: str) -> Optional[str]:
    for item in os.environ.get(VARIABLE, "").split(","):
        key, _, fault = item.partition("=")
        if key.strip() == target:
            return fault.strip()
    return None


def _spec() -> dict[str, Any]:
    try:
        spec = json.loads(sys.argv[-1])
    except (IndexError, ValueError):
        return {}
    return spec if isinstance(spec, dict) else {}


def _patch(workloads: Any) -> None:
    import dataclasses

    import torch

    build = workloads.build

    def faulty_build(name: str, sizes: Any, device: Any, generator: Any) -> Any:
        work = build(name, sizes, device, generator)
        rank = os.environ.get("RANK")
        fault = _fault(f"ddp/rank{rank}") if rank is not None else _fault(f"{name}/{_spec().get('mode_name')}")
        if fault is None:
            return work
        if fault == "exit":
            sys.exit(3)
        if fault == "compile_error":
            import torch._inductor.compile_fx as compile_fx

            def broken(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError(f"{VARIABLE}: Inductor failed")
            compile_fx.compile_fx = broken
            return work

        class Faulty(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if fault == "segfault":
                    os.kill(os.getpid(), signal.SIGSEGV)
                if fault == "hang":
                    time.sleep(10**6)
                if fault == "oom" or (fault.startswith("oom>") and sizes["batch"] > int(fault[4:])):
                    raise torch.cuda.OutOfMemoryError(f"{VARIABLE}: CUDA out of memory. Tried to allocate 2.00 GiB")
                if fault == "error":
                    raise RuntimeError(f"{VARIABLE}: an error in forward")
                out = self.inner(x)
                if fault == "wrong" and (torch.is_autocast_enabled(x.device.type) or torch.compiler.is_compiling()):
                    return out * 0
                return out

        return dataclasses.replace(work, model=Faulty(work.model))

    workloads.build = faulty_build


class _Finder(importlib.abc.MetaPathFinder):
    """Patches envdoctor.bench.workloads as it is first imported, and only then (torch is imported with it)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "envdoctor.bench.workloads":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            _patch(module)
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get(VARIABLE):
    sys.meta_path.insert(0, _Finder())
