"""`check --deep`: computations on each device in child processes; failures are facts, not crashes."""

from __future__ import annotations

from importlib import util

import pytest

from envdoctor.facts import TorchRuntime
from envdoctor.probe.deep import check_device, deep_devices, probe_deep

needs_torch = pytest.mark.skipif(util.find_spec("torch") is None, reason="torch is not installed")


def test_devices_include_nccl_across_two_gpus() -> None:
    runtime = TorchRuntime(status="ok", cuda="12.4", cuda_available=True, device_count=2, mps_available=False)
    assert deep_devices(runtime) == ["cpu", "cuda:0", "cuda:1", "nccl"]
    assert deep_devices(TorchRuntime(status="ok", cuda_available=False, device_count=0)) == ["cpu"]


def test_nothing_runs_when_torch_does_not_import() -> None:
    assert probe_deep(TorchRuntime(status="import_failed", error="boom")) == ()


@pytest.mark.slow
@needs_torch
def test_cpu_computations_are_correct() -> None:
    results = check_device("cpu")
    assert [r.check for r in results] == ["matmul float32", "matmul float16", "matmul bfloat16", "conv2d"]
    assert all(r.ok and r.seconds is not None for r in results), results


@pytest.mark.slow
@needs_torch
def test_a_device_that_cannot_run_is_recorded() -> None:
    results = check_device("cuda:0")  # this machine has no GPU: every check fails, none raises
    assert results and not any(r.ok for r in results)
    assert all(r.error for r in results)


@needs_torch
def test_a_hung_device_times_out() -> None:
    (result,) = check_device("cpu", timeout_s=0.05)
    assert not result.ok and result.error == "did not finish within 0.05 s"
