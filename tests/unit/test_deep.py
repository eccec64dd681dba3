"""`check --deep`: computations on each device in child processes; failures are facts, not crashes."""

from __future__ import annotations

import types
from importlib import util

import pytest

from envdoctor.facts import TorchRuntime
from envdoctor.probe.deep import check_device, deep_devices, probe_deep
from envdoctor.probe.deep_child import _bf16_not_native
from tests.helpers import cuda_available

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
def test_a_device_that_does_not_exist_is_recorded() -> None:
    # No machine has 65 GPUs: with CUDA this is an invalid device ordinal, without it CUDA is missing.
    results = check_device("cuda:64")
    assert results and not any(r.ok for r in results)
    assert all(r.error or r.skipped for r in results), results
    assert [r.check for r in results if r.error] == ["matmul float32", "matmul float16", "conv2d (cuDNN)"]
    (bf16,) = [r for r in results if r.skipped]
    assert bf16.check == "matmul bfloat16" and "compute capability of cuda:64 is unknown" in bf16.skipped


@pytest.mark.slow
@needs_torch
def test_cuda_on_a_machine_without_cuda_is_recorded() -> None:
    if cuda_available():
        pytest.skip("CUDA is available here, so cuda:0 runs; the gpu-marked tests cover it")
    results = check_device("cuda:0")
    assert results and not any(r.ok for r in results)
    assert all(r.error or r.skipped for r in results), results


@pytest.mark.slow
@pytest.mark.gpu
def test_every_check_runs_on_cuda_0() -> None:
    import torch

    results = {r.check: r for r in check_device("cuda:0")}
    assert list(results) == ["matmul float32", "matmul float16", "matmul bfloat16", "conv2d (cuDNN)"]
    major, minor = torch.cuda.get_device_capability(0)
    bf16 = results.pop("matmul bfloat16")
    if (major, minor) >= (8, 0):
        assert bf16.ok and bf16.skipped is None, bf16
    else:  # bf16 is emulated before Ampere: not checked, and the result says why
        assert not bf16.ok and bf16.skipped == (f"cuda:0 has compute capability {major}.{minor}; "
                                                "native bfloat16 needs 8.0 (Ampere) or newer")
    assert all(r.ok and r.error is None for r in results.values()), results


@pytest.mark.slow
@pytest.mark.gpu
def test_nccl_all_reduce_checks_every_gpu() -> None:
    import torch

    if torch.cuda.device_count() < 2:
        pytest.skip("needs two or more CUDA GPUs for an all-reduce")
    (result,) = check_device("nccl")
    assert result.check == "all_reduce" and result.ok, result


class _Cuda:
    """torch.cuda's get_device_capability, answering from a table and recording which device was asked."""

    def __init__(self, capabilities: dict[int, tuple[int, int]]) -> None:
        self.capabilities = capabilities
        self.asked: list[object] = []

    def get_device_capability(self, device: object) -> tuple[int, int]:
        self.asked.append(device)
        return self.capabilities[device.index]  # type: ignore[attr-defined]


NOT_NATIVE = "native bfloat16 needs 8.0 (Ampere) or newer"


@needs_torch
@pytest.mark.parametrize(("capabilities", "device", "why"), [
    # A V100 beside an A100: torch.cuda.is_bf16_supported() would have asked cuda:0, the A100.
    ({0: (8, 0), 1: (7, 0)}, "cuda:1", f"cuda:1 has compute capability 7.0; {NOT_NATIVE}"),
    ({0: (8, 0), 1: (7, 0)}, "cuda:0", None),
    ({0: (9, 0)}, "cuda:0", None),
    ({0: (7, 5)}, "cuda:0", f"cuda:0 has compute capability 7.5; {NOT_NATIVE}"),
    ({}, "cpu", None),
    ({}, "mps", "bfloat16 is not checked on MPS"),
])
def test_bf16_is_checked_where_the_device_under_test_computes_it_natively(
        capabilities: dict[int, tuple[int, int]], device: str, why: str | None) -> None:
    import torch

    cuda = _Cuda(capabilities)
    target = torch.device(device)
    assert _bf16_not_native(types.SimpleNamespace(cuda=cuda), target) == why
    assert cuda.asked == ([target] if target.type == "cuda" else [])


@needs_torch
def test_a_hung_device_times_out() -> None:
    (result,) = check_device("cpu", timeout_s=0.05)
    assert not result.ok and result.error == "did not finish within 0.05 s"
