"""The plan, decided before anything runs: the device model, AMP dtypes, batches fitted to memory, MFU's peak and
DDP's devices, for machines described by check documents built from real captures (tests/machines.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from envdoctor.bench.devices import BenchDevice, bench_devices, match_gpu, select, visible_devices
from envdoctor.bench.fingerprint import fingerprint, topology
from envdoctor.bench.plan import amp_choice
from envdoctor.cli import main
from envdoctor.facts import GpuInfo, TorchDevice
from envdoctor.knowledge import knowledge
from tests.helpers import FIXTURES
from tests.machines import check_document, machine_facts

GIB = 1024**3


def plan(tmp_path: Path, machine: str, *flags: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    path = tmp_path / f"{machine}.json"
    path.write_text(json.dumps(check_document(machine)))
    assert main(["bench", "--dry-run", "--from", str(path), "--json", *flags]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert document["schema"] == "envdoctor.bench-plan"
    return document


def cells(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in document["cells"]}


def test_h200_gets_its_own_peak_and_the_reference_batches(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    document = plan(tmp_path, "h200", "--amp", "--device", "cuda", capsys=capsys)
    (device,) = document["devices"]
    assert (device["model"], device["capability"], device["native_bf16"]) == ("NVIDIA H200", [9, 0], True)
    assert device["peak"]["tflops"]["bfloat16"] == 989  # not the H20's 148: matched by model, not substring
    plans = cells(document)
    amp = plans["transformer/amp/cuda:0"]
    assert amp["amp"]["dtype"] == "bfloat16" and not amp["amp"]["grad_scaler"] and amp["peak_tflops"] == 989
    assert [plans[f"{w}/eager/cuda:0"]["batch"] for w in ("mlp", "cnn", "transformer")] == [4096, 128, 8]
    assert plans["transformer/eager/cuda:0"]["peak_tflops"] == 67  # fp32 (TF32 off): NVIDIA's H200 figure


def test_rtx_4090_halves_the_transformer_to_fit_24_gib(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plans = cells(plan(tmp_path, "rtx-4090", "--compile", "--amp", "--device", "cuda", capsys=capsys))
    # The decoder's 541M fp32 parameters alone take 8 GiB with their gradients and AdamW state (16 bytes each),
    # and a batch of 8 sequences of 2048 tokens with a 32768-token vocabulary does not fit in 85% of 24 GiB.
    budget = int(0.85 * 24 * GIB)
    for mode in ("eager", "compile", "amp", "compile+amp"):  # one batch in every mode: ratios like for like
        cell = plans[f"transformer/{mode}/cuda:0"]
        assert cell["batch"] == 4 and cell["estimated_peak_bytes"] <= budget
        assert cell["batch_why"].startswith("halved from the preset's 8 to fit")
        assert cell["memory_budget_bytes"] == pytest.approx(budget, rel=1e-3)
    assert plans["mlp/eager/cuda:0"]["batch"] == 4096 and plans["cnn/amp/cuda:0"]["batch"] == 128
    assert plans["cnn/amp/cuda:0"]["peak_tflops"] == 165.2 and plans["cnn/eager/cuda:0"]["peak_tflops"] == 82.6


def test_t4_trains_amp_in_float16_with_a_grad_scaler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plans = cells(plan(tmp_path, "t4", "--amp", "--device", "cuda", capsys=capsys))
    amp = plans["cnn/amp/cuda:0"]["amp"]
    assert amp["dtype"] == "float16" and amp["grad_scaler"] is True
    assert "bfloat16 is emulated on compute capability 7.5" in amp["why"]
    assert plans["cnn/amp/cuda:0"]["peak_tflops"] == 65 and plans["cnn/eager/cuda:0"]["peak_tflops"] == 8.1


def test_t4_refuses_bf16_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plans = cells(plan(tmp_path, "t4", "--amp", "--amp-dtype", "bfloat16", "--device", "cuda", capsys=capsys))
    assert "bfloat16 is emulated" in plans["mlp/amp/cuda:0"]["skip"]
    assert plans["mlp/eager/cuda:0"]["skip"] is None


def test_a_mig_slice_has_no_peak_and_its_own_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = plan(tmp_path, "a100-mig-1g.10gb", "--device", "cuda", capsys=capsys)
    (device,) = document["devices"]
    assert device["mig_profile"] == "1g.10gb" and device["peak"] is None
    assert device["nvml_match"] == "pci bus id"  # a slice has a UUID of its own, and its GPU's bus
    assert "MIG slice" in device["peak_unknown_reason"]
    plans = cells(document)
    assert plans["mlp/eager/cuda:0"]["peak_tflops"] is None and plans["mlp/eager/cuda:0"]["skip"] is None
    transformer = plans["transformer/eager/cuda:0"]
    assert transformer["batch"] == 1 and "more than the device's 9.5 GiB" in transformer["skip"]


def test_8xh100_ddp_runs_on_all_eight_with_t1_on_the_first(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    document = plan(tmp_path, "8xh100", "--ddp", "--workload", "mlp", "--device", "cuda", capsys=capsys)
    assert [d["device"] for d in document["devices"]] == [f"cuda:{i}" for i in range(8)]
    assert {d["peak"]["tflops"]["bfloat16"] for d in document["devices"]} == {989}
    ddp = cells(document)["mlp/eager/cuda-ddp8"]
    assert ddp["world_size"] == 8 and ddp["visible_devices"] == "0,1,2,3,4,5,6,7" and ddp["skip"] is None


def test_mixed_box_matches_each_gpu_by_bus_and_plans_ddp_on_the_chosen(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    document = plan(tmp_path, "mixed-2gpu", "--ddp", "--amp", "--workload", "mlp", "--device", "cuda:1,cuda:0",
                    capsys=capsys)
    devices = {d["device"]: d for d in document["devices"]}
    assert devices["cuda:0"]["model"] == "NVIDIA GeForce RTX 5090" and devices["cuda:0"]["nvml_index"] == 0
    assert devices["cuda:1"]["model"] == "NVIDIA GeForce RTX 3090 Ti" and devices["cuda:1"]["nvml_index"] == 1
    assert devices["cuda:1"]["peak"] is None  # no sourced 3090 Ti row; never the 3090's figure
    ddp = cells(document)["mlp/amp/cuda-ddp2"]
    assert ddp["visible_devices"] == "1,0" and ddp["amp"]["dtype"] == "bfloat16"  # 8.6 and 12.0: both native


def test_h100_sxm_peaks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (device, _) = plan(tmp_path, "h100-sxm", capsys=capsys)["devices"]
    assert (device["peak"]["tflops"]["bfloat16"], device["peak"]["tflops"]["float32"]) == (989, 66.9)


@pytest.mark.parametrize(("flags", "message"), [
    (["--from", "REPORT"], "--from needs --dry-run"),
    (["--dry-run", "--from", "REPORT"], "is not an envdoctor check --json document"),
    (["--dry-run", "--from", "NOT_CHECK"], "not an envdoctor check document"),
    (["--dry-run", "--output", "x.json"], "--dry-run runs nothing, so --output"),
])
def test_impossible_dry_runs_are_one_line(flags: list[str], message: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"schema": "envdoctor.bench", "cells": []}')
    report = str(FIXTURES / "collect_env" / "02_driver418-vs-cu102-wheel-v100.txt")
    argv = [{"REPORT": report, "NOT_CHECK": str(other)}.get(f, f) for f in flags]
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def _gpu(index: int, uuid: str, bus: str) -> GpuInfo:
    return GpuInfo(index=index, name="GPU", uuid=uuid, compute_capability=None, memory_total_bytes=None,
                   memory_used_bytes=None, mig_enabled=None, sm_clock_mhz=None, sm_clock_max_mhz=None,
                   power_limit_w=None, throttle_reasons=None, pcie_gen=None, pcie_gen_max=None, pcie_width=None,
                   pcie_width_max=None, nvlink_active_links=None, pci_bus_id=bus)


def test_gpus_are_matched_by_identity_never_by_index() -> None:
    nvml = [_gpu(0, "GPU-aaaaaaaa-0000-0000-0000-000000000000", "00000000:17:00.0"),
            _gpu(1, "GPU-bbbbbbbb-0000-0000-0000-000000000000", "00000000:65:00.0")]
    # CUDA's fastest-first order puts NVML's second GPU first.
    by_uuid = TorchDevice(0, "GPU", (9, 0), GIB, uuid="bbbbbbbb-0000-0000-0000-000000000000")
    by_bus = TorchDevice(0, "GPU", (9, 0), GIB, pci_bus_id="0000:65:00.0")  # a four-digit domain: same bus
    assert match_gpu(by_uuid, nvml) == (nvml[1], "uuid")
    assert match_gpu(by_bus, nvml) == (nvml[1], "pci bus id")
    gpu, why = match_gpu(TorchDevice(0, "GPU", (9, 0), GIB), nvml)
    assert gpu is None and why == "torch reported neither UUID nor PCI bus id for it"


def _device(name: str, kind: str = "cuda", capability: Any = (8, 0), uuid: Any = None) -> BenchDevice:
    return BenchDevice(name, kind, "GPU", capability, GIB, uuid, None, None, None, "", None, "")


def test_visible_devices_follow_the_choice() -> None:
    chosen = [_device("cuda:3"), _device("cuda:1")]
    assert visible_devices(chosen, None) == "3,1"
    assert visible_devices(chosen, "4,5,6,7") == "7,5"  # torch's indices count within the inherited list
    with_uuids = [_device("cuda:3", uuid="aa"), _device("cuda:1", uuid="bb")]
    assert visible_devices(with_uuids, "4,5,6,7") == "GPU-aa,GPU-bb"


@pytest.mark.parametrize(("device", "asked", "dtype", "scaler", "skip"), [
    (_device("cuda:0", capability=(9, 0)), None, "bfloat16", False, None),
    (_device("cuda:0", capability=(7, 0)), None, "float16", True, None),  # V100
    (_device("cuda:0", capability=None), None, "float16", True, None),  # unknown: the dtype native everywhere
    (_device("cuda:0", capability=(7, 5)), "bfloat16", None, False, "bfloat16 is emulated"),
    (_device("cuda:0", capability=(8, 6)), "float16", "float16", True, None),
    (_device("cpu", kind="cpu", capability=None), None, "bfloat16", False, None),
    (_device("cpu", kind="cpu", capability=None), "float16", None, False, "not supported on the CPU"),
    (_device("mps", kind="mps", capability=None), None, "float16", False, None),
])
def test_amp_dtype(device: BenchDevice, asked: Any, dtype: Any, scaler: bool, skip: Any) -> None:
    choice = amp_choice(device, asked)
    assert (choice.dtype, choice.grad_scaler) == (dtype, scaler)
    assert (choice.skip is None) if skip is None else (skip in (choice.skip or ""))
    assert choice.why or choice.skip


def test_dry_run_of_this_machine_plans_the_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--dry-run", "--workload", "mlp", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["machine"] == "this machine" and document["cells"][-1]["key"] == "mlp/eager/cpu"


def test_fingerprint_and_topology_describe_the_benched_gpus(tmp_path: Path) -> None:
    facts = machine_facts("mixed-2gpu", tmp_path)
    devices = bench_devices(facts, knowledge())
    chosen = select(["cuda:1"], devices)
    machine = fingerprint(facts, chosen, None)
    assert (machine["gpus"], machine["gpu_count"]) == (["NVIDIA GeForce RTX 3090 Ti"], 1)
    (row,) = topology(chosen)
    assert (row["device"], row["nvml_index"]) == ("cuda:1", 1)


@pytest.mark.slow
def test_launch_blocking_is_warned_at_the_start(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CUDA_LAUNCH_BLOCKING", "1")
    assert main(["bench", "--dry-run", "--workload", "mlp", "--device", "cpu", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("envdoctor: warning: CUDA_LAUNCH_BLOCKING=1 makes every CUDA kernel launch wait for the "
                            "kernel to finish: GPU figures from this run are not representative (unset it to "
                            "benchmark)\n")
    assert json.loads(captured.out)["cells"]  # the plan still follows


def test_the_fingerprint_records_the_variables_torch_heeds(tmp_path: Path) -> None:
    facts = machine_facts("mixed-2gpu", tmp_path)
    facts = replace(facts, system=replace(facts.system, environment={"CUDA_LAUNCH_BLOCKING": "1",
                                                                     "NCCL_P2P_DISABLE": "1"}))
    machine = fingerprint(facts, bench_devices(facts, knowledge()), None)
    assert machine["environment"] == {"CUDA_LAUNCH_BLOCKING": "1", "NCCL_P2P_DISABLE": "1"}
