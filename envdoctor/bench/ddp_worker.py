"""One rank of a DDP bench cell or all-reduce sweep, launched by torchrun:
`python -m torch.distributed.run ... -m envdoctor.bench.ddp_worker SPEC_JSON`.

Every rank trains the same workload wrapped in DistributedDataParallel (its own batch: weak scaling), times its
steps, and all ranks' times are gathered; rank 0 prints one JSON line after MARKER.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import sys
from typing import Any

from envdoctor.bench.spec import CellSpec, LaunchOutcome, RankOutcome
from envdoctor.lifetime import die_with_parent

MARKER = "ENVDOCTOR-DDP-JSON:"
STARTED = "ENVDOCTOR-DDP-STARTED rank="  # on stderr as each rank starts: tells a hang from a rendezvous that never
#                                          completed
SWEEP_WARMUP, SWEEP_ITERATIONS = 5, 20  # nccl-tests' defaults


def sweep(sizes: list[int], device: Any, world: int) -> dict[str, Any]:
    """All-reduce of each size: 5 warm-up iterations, then 20 timed back to back (the shared timer: two CUDA events
    and one sync on GPUs); the slowest rank's time per size."""
    import torch
    import torch.distributed as dist

    from envdoctor.bench.timer import time_repeated

    rows = []
    for size in sizes:
        tensor = torch.ones(max(1, size // 4), dtype=torch.float32, device=device)
        for _ in range(SWEEP_WARMUP):
            dist.all_reduce(tensor)
        seconds = time_repeated(functools.partial(dist.all_reduce, tensor), device, SWEEP_ITERATIONS)
        per_call = torch.tensor([seconds], dtype=torch.float64, device=device)
        dist.all_reduce(per_call, op=dist.ReduceOp.MAX)
        seconds = float(per_call.item())
        bytes_ = tensor.numel() * 4
        algbw = bytes_ / seconds / 1e9
        rows.append({"bytes": bytes_, "time_s": seconds, "algbw_gbps": algbw,
                     "busbw_gbps": algbw * 2 * (world - 1) / world})
    return {"status": "ok", "sweep": rows}


def train(spec: CellSpec, device: Any, rank: int, world: int) -> LaunchOutcome:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from envdoctor.bench.contention import CpuWatch
    from envdoctor.bench.timer import MAX_TIMED_STEPS, synchronize, time_steps
    from envdoctor.bench.workloads import build, grad_scaler, optimizer, training_step

    generator = torch.Generator().manual_seed(spec.seed + rank)  # each rank its own data
    torch.manual_seed(spec.seed)
    work = build(spec.workload, spec.sizes, device, generator)
    model: Any = DistributedDataParallel(work.model, device_ids=[device.index] if device.type == "cuda" else None)
    if spec.compile:
        model = torch.compile(model, mode=spec.compile_mode)
    amp_dtype = getattr(torch, spec.amp_dtype) if spec.amp_dtype else None
    step = training_step(model, work, optimizer(work.model, device), device, amp_dtype,
                         grad_scaler(device, spec.grad_scaler))

    # Warm-up covers DDP's bucket rebuild after the first iteration (and compilation).
    for _ in range(max(2, spec.warmup_steps)):
        step()
    probe = torch.tensor([time_steps(step, device, steps=1).window_s], dtype=torch.float64, device=device)
    dist.all_reduce(probe, op=dist.ReduceOp.MAX)  # every rank runs the same number of steps
    steps = max(spec.min_steps, min(MAX_TIMED_STEPS, math.ceil(spec.min_time_s / max(float(probe.item()), 1e-6))))
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    watch = CpuWatch()  # the ranks share one process group: only processes outside it count
    window = time_steps(step, device, steps=steps)
    share = watch.stop()
    memory = int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, {"times": window.step_times_s, "window_s": window.window_s,
                                      "peak_allocated_bytes": memory,
                                      "cpu_share": share.plain() if share is not None else None})
    return LaunchOutcome("ok", ranks=[RankOutcome(**report) for report in gathered],
                         samples_per_step=work.samples_per_step, tokens_per_step=work.tokens_per_step)


def main(spec_json: str) -> None:
    import torch
    import torch.distributed as dist

    die_with_parent()  # torchrun is the parent: if it is killed, this rank must not train on alone
    raw = json.loads(spec_json)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    sys.stderr.write(f"{STARTED}{rank}\n")
    sys.stderr.flush()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if raw["device"] == "cuda":  # torchrun was given CUDA_VISIBLE_DEVICES: local rank i is the i-th chosen GPU
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        device = torch.device("cpu")
        dist.init_process_group("gloo")
    if "sweep_sizes" in raw:
        result = {**sweep(raw["sweep_sizes"], device, world), "world_size": world, "backend": dist.get_backend()}
    else:
        outcome = train(CellSpec(**raw), device, rank, world)
        result = dataclasses.asdict(dataclasses.replace(outcome, world_size=world, backend=dist.get_backend()))
    if rank == 0:
        sys.stdout.write(MARKER + json.dumps(result) + "\n")
        sys.stdout.flush()
    # End without destroy_process_group() or interpreter teardown: gloo's process-group destructor can deadlock
    # on the GIL (pytorch/pytorch#75097; the GIL is released there only from PR #154976, torch 2.8), and every
    # collective has completed here, so there is nothing left for the group to do.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
