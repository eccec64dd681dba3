"""One rank of a DDP bench cell or all-reduce sweep, launched by torchrun:
`python -m torch.distributed.run ... -m envdoctor.bench.ddp_worker SPEC_JSON`.

Every rank trains the same workload wrapped in DistributedDataParallel (its own batch: weak scaling), times its
steps, and all ranks' times are gathered; rank 0 prints one JSON line after MARKER.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any

from envdoctor.bench.cell import MAX_TIMED_STEPS, injected

MARKER = "ENVDOCTOR-DDP-JSON:"
STARTED = "ENVDOCTOR-DDP-STARTED rank="  # on stderr as each rank starts: tells a hang from a rendezvous that never
#                                          completed
SWEEP_WARMUP, SWEEP_ITERATIONS = 5, 20  # nccl-tests' defaults


def sweep(spec: dict[str, Any], device: Any, world: int) -> dict[str, Any]:
    """All-reduce of each size, 5 warm-up and 20 timed iterations; the slowest rank's median time per size."""
    import torch
    import torch.distributed as dist

    from envdoctor.bench.workloads import synchronize

    rows = []
    for size in spec["sweep_sizes"]:
        tensor = torch.ones(max(1, size // 4), dtype=torch.float32, device=device)
        for _ in range(SWEEP_WARMUP):
            dist.all_reduce(tensor)
        synchronize(device)
        times = []
        for _ in range(SWEEP_ITERATIONS):
            start = time.perf_counter()
            dist.all_reduce(tensor)
            synchronize(device)
            times.append(time.perf_counter() - start)
        times.sort()
        median = torch.tensor([times[len(times) // 2]], dtype=torch.float64, device=device)
        dist.all_reduce(median, op=dist.ReduceOp.MAX)
        seconds = float(median.item())
        bytes_ = tensor.numel() * 4
        algbw = bytes_ / seconds / 1e9
        rows.append({"bytes": bytes_, "time_s": seconds, "algbw_gbps": algbw,
                     "busbw_gbps": algbw * 2 * (world - 1) / world})
    return {"status": "ok", "sweep": rows}


def train(spec: dict[str, Any], device: Any, rank: int, world: int) -> dict[str, Any]:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from envdoctor.bench.workloads import amp_dtype_name, build, grad_scaler, optimizer, synchronize, training_step

    generator = torch.Generator().manual_seed(spec["seed"] + rank)  # each rank its own data
    torch.manual_seed(spec["seed"])
    work = build(spec["workload"], spec["sizes"], device, generator)
    model: Any = DistributedDataParallel(work.model, device_ids=[device.index] if device.type == "cuda" else None)
    if spec["compile"]:
        model = torch.compile(model, mode=spec["compile_mode"])
    amp_dtype = getattr(torch, amp_dtype_name(device, spec["amp_dtype"])) if spec["amp"] else None
    step = training_step(model, work, optimizer(work.model, device), device, amp_dtype, grad_scaler(device, amp_dtype))

    # Warm-up covers DDP's bucket rebuild after the first iteration (and compilation).
    for _ in range(max(2, spec["warmup_steps"])):
        step()
    synchronize(device)
    start = time.perf_counter()
    step()
    synchronize(device)
    probe = torch.tensor([time.perf_counter() - start], dtype=torch.float64, device=device)
    dist.all_reduce(probe, op=dist.ReduceOp.MAX)  # every rank runs the same number of steps
    steps = max(spec["min_steps"], min(MAX_TIMED_STEPS, math.ceil(spec["min_time_s"] / max(float(probe.item()), 1e-6))))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        begin = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - begin)
    memory = int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, {"times": times, "peak_allocated_bytes": memory})
    return {"status": "ok", "ranks": gathered, "samples_per_step": work.samples_per_step,
            "tokens_per_step": work.tokens_per_step}


def main(spec_json: str) -> None:
    import torch
    import torch.distributed as dist

    spec = json.loads(spec_json)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    sys.stderr.write(f"{STARTED}{rank}\n")
    sys.stderr.flush()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if spec["device"] == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        device = torch.device("cpu")
        dist.init_process_group("gloo")
    if injected(f"ddp/rank{rank}") == "exit":  # test hook: segfault and hang happen inside injected()
        sys.exit(3)
    result = sweep(spec, device, world) if spec.get("sweep_sizes") else train(spec, device, rank, world)
    result["world_size"] = world
    result["backend"] = dist.get_backend()
    if rank == 0:
        sys.stdout.write(MARKER + json.dumps(result) + "\n")
        sys.stdout.flush()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
