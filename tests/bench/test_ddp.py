"""DDP through torchrun: real 2-process gloo runs on the CPU, the all-reduce sweep, and each fault."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import uuid
from dataclasses import replace
from importlib import util
from typing import Callable

import psutil
import pytest

from envdoctor.bench.config import BenchConfig, ConfigError
from envdoctor.bench.ddp import Launch, run_torchrun
from envdoctor.bench.devices import bench_devices
from envdoctor.bench.plan import plan_cells
from envdoctor.bench.runner import BenchRun
from envdoctor.bench.spec import CellSpec
from envdoctor.facts import TorchDevice
from envdoctor.knowledge import knowledge
from envdoctor.results.model import CellResult
from tests.bench.conftest import cpu_plans
from tests.helpers import sample_facts

needs_torch = pytest.mark.skipif(util.find_spec("torch") is None, reason="needs torch")
QUICK = {"min_time_s": 0.2, "warmup_steps": 2, "min_steps": 3}
SPEC = dataclasses.asdict(CellSpec("mlp", "eager", False, None, False, "cpu", {"batch": 16}, warmup_steps=2,
                                   min_steps=3, min_time_s=0.1))


# Ranks inherit this from the test process: ranks of other test runs on the same machine are not this run's.
SESSION = os.environ.setdefault("ENVDOCTOR_TEST_SESSION", f"{os.getpid()}-{uuid.uuid4()}")


def leftover_ranks() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any("envdoctor.bench.ddp_worker" in part for part in process.info["cmdline"] or ()):
            with contextlib.suppress(psutil.Error):
                if process.environ().get("ENVDOCTOR_TEST_SESSION") == SESSION:
                    found.append(process)
    return found


def two_gpus(uuids: bool = True) -> list:  # type: ignore[type-arg]
    facts = sample_facts()
    gpus = tuple(TorchDevice(i, "NVIDIA A100-SXM4-80GB", (8, 0), 80 * 1024**3, uuid=g.uuid[4:] if uuids and g.uuid
                             else None, pci_bus_id=None) for i, g in enumerate(facts.nvidia.gpus))
    return list(bench_devices(replace(facts, torch=replace(facts.torch, devices=gpus)), knowledge()))


def test_ddp_plans_and_flags() -> None:
    config = BenchConfig(workloads=("mlp",), ddp=True, nproc=3)
    devices = two_gpus()
    plans = plan_cells(config, devices)
    assert [p.key for p in plans] == [
        "mlp/eager/cuda:0", "mlp/eager/cuda:1", "mlp/eager/cpu", "mlp/eager/cuda-ddp2", "mlp/eager/cpu-ddp3"]
    gpu_ddp = plans[3]
    assert gpu_ddp.world == 2 and gpu_ddp.gpu is not None and gpu_ddp.gpu.name == "cuda:0"
    with pytest.raises(ConfigError, match="need --ddp"):
        BenchConfig(nproc=4)
    with pytest.raises(ConfigError, match="--rdzv-endpoint"):
        BenchConfig(ddp=True, nnodes=2)
    launch = Launch(8, nnodes=2, node_rank=1, rdzv_endpoint="10.0.0.1:29500").argv({"x": 1})
    assert launch[3:13] == ["--nnodes", "2", "--node-rank", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint",
                            "10.0.0.1:29500", "--nproc-per-node", "8"]
    assert "--standalone" in Launch(2).argv({})


@pytest.mark.slow
@needs_torch
def test_two_process_gloo_runs_mlp_and_transformer_and_the_sweep() -> None:
    config = BenchConfig(workloads=("mlp", "transformer"), ddp=True, **QUICK)  # type: ignore[arg-type]
    run = BenchRun(config, cpu_plans(config))
    cells = {c.key: c for c in run.run()}
    for workload in ("mlp", "transformer"):
        ddp: CellResult = cells[f"{workload}/eager/cpu-ddp2"]
        assert ddp.status == "ok", ddp.reason
        assert ddp.world_size == 2 and len(ddp.per_rank_medians_s) == 2
        assert ddp.global_samples_per_s == pytest.approx(2 * ddp.samples_per_s)  # type: ignore[operator]
        assert ddp.scaling_speedup is not None and ddp.scaling_efficiency == pytest.approx(ddp.scaling_speedup / 2)
        assert ddp.settings["backend"] == "gloo"
    assert cells["transformer/eager/cpu-ddp2"].tokens_per_s
    (sweep,) = run.sweeps
    assert sweep.status == "ok" and sweep.world_size == 2 and len(sweep.rows) == 12
    assert sweep.rows[0]["bytes"] == 8 and sweep.rows[-1]["bytes"] == 16 * 1024**2
    for row in sweep.rows:
        assert row["busbw_gbps"] == pytest.approx(row["algbw_gbps"])  # 2(n-1)/n is 1 for two ranks
    assert not leftover_ranks()


@pytest.mark.slow
@needs_torch
@pytest.mark.parametrize(("fault", "status", "reason", "timeout_s"), [
    ("segfault", "crashed", "SIGSEGV", 120),  # in the first step's forward, after both ranks imported torch
    ("exit", "error", "exited with status 3", 120),
    ("hang", "timeout", "did not finish within 30 s (ranks 0, 1 started): a hung rank", 30),
])
def test_a_failing_rank_ends_the_cell_and_leaves_no_process(fault: str, status: str, reason: str, timeout_s: int,
                                                            inject: Callable[[str], None]) -> None:
    inject(f"ddp/rank1={fault}")
    result = run_torchrun(SPEC, Launch(2), timeout_s=timeout_s)
    assert result["status"] == status and reason in result["reason"], result
    assert not leftover_ranks()


@pytest.mark.slow
@needs_torch
def test_a_rendezvous_that_never_completes_times_out_cleanly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Two nodes are expected; only this one starts, so the rendezvous never completes.
    result = run_torchrun(SPEC, Launch(1, nnodes=2, node_rank=0, rdzv_endpoint=f"127.0.0.1:{port}"), timeout_s=15)
    assert result["status"] == "timeout"
    assert result["reason"].startswith("no rank started within 15 s: the rendezvous never completed")
    assert not leftover_ranks()


@needs_torch
def test_gpu_ddp_on_a_machine_without_two_gpus_is_skipped() -> None:
    config = BenchConfig(workloads=("mlp",), ddp=True, **QUICK)  # type: ignore[arg-type]
    plans = [p for p in plan_cells(config, two_gpus()[:1]) if p.world]  # the single-GPU cell is not run here
    run = BenchRun(config, plans)
    cells = {c.key: c for c in run.run()}
    assert cells["mlp/eager/cuda-ddp1"].status == "skipped"
    assert "two or more" in (cells["mlp/eager/cuda-ddp1"].reason or "")
    assert run.sweeps[0].status == "skipped"


def test_ddp_ranks_see_only_the_chosen_gpus_in_their_order() -> None:
    devices = two_gpus()
    config = BenchConfig(workloads=("mlp",), ddp=True)
    chosen = [devices[1], devices[0]]  # --device cuda:1,cuda:0: rank 0 trains on cuda:1
    (ddp,) = [p for p in plan_cells(config, chosen) if p.world]
    uuids = [g.uuid for g in sample_facts().nvidia.gpus]
    assert uuids[1] is None  # sample_facts' second GPU has no UUID: the indices are used
    assert ddp.visible_devices == "1,0"
    assert ddp.gpu is not None and ddp.gpu.name == "cuda:1"
    with_uuids = [replace(d, uuid=f"{i:08x}-0000-0000-0000-000000000000") for i, d in enumerate(chosen[:2])]
    (ddp,) = [p for p in plan_cells(config, with_uuids) if p.world]
    assert ddp.visible_devices == ("GPU-00000000-0000-0000-0000-000000000000,"
                                   "GPU-00000001-0000-0000-0000-000000000000")
