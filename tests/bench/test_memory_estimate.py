"""The peak-memory estimate: its arithmetic by hand, fit_batch's search, and (slow, with torch) the estimate against
the peak of live tensor storage measured during a real training step (benchmarks/memory_estimate.py)."""

from __future__ import annotations

import subprocess
import sys
from importlib import util
from pathlib import Path
from types import ModuleType
from typing import Optional

import pytest
from packaging.version import Version

from envdoctor.bench.config import PRESET_SIZES, WORKLOADS
from envdoctor.bench.memory import MemoryEstimate, estimate_cell_memory, fit_batch

ROOT = Path(__file__).resolve().parents[2]
GIB = 2**30
# The estimates land within 0.1% of the measurement; 5% leaves room for other platforms' kernels and still fails
# on a missing term such as autocast's weight copies (11% of resnet18's bf16 peak at the tiny preset).
TOLERANCE = 0.05


def test_mlp_state_is_its_layers_in_fp32() -> None:
    estimate = estimate_cell_memory("mlp", {"batch": 64}, None, reference=False)
    weights = (784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10) * 4
    assert estimate.weights_bytes == weights
    assert estimate.grads_bytes == weights  # the previous step's, live until zero_grad after the forward
    assert estimate.optimizer_bytes == 2 * weights  # exp_avg and exp_avg_sq


def test_mlp_peak_at_the_tiny_preset_by_hand() -> None:
    # At the second ReLU: images (fp32) and labels (int64), the first ReLU's output, the second Linear's output and
    # the second ReLU's, beside weights, gradients and AdamW's moments (4 x 535,818 fp32 parameters).
    activations = 64 * (784 * 4 + 8) + 64 * (512 + 256 + 256) * 4
    estimate = estimate_cell_memory("mlp", {"batch": 64}, None, reference=False)
    assert estimate.activations_bytes == activations
    assert estimate.step_peak_bytes == 4 * 535_818 * 4 + activations


def test_resnet18_state_matches_torchvision() -> None:
    # resnet18(num_classes=10) has 11,181,642 parameters; its 20 BatchNorms (4,800 channels: 64 in the stem, 4 x 64,
    # 5 x 128, 5 x 256, 5 x 512 in the stages, downsamples included) keep running mean and variance, and a counter.
    estimate = estimate_cell_memory("cnn", {"batch": 8, "image": 32}, None, reference=False)
    assert estimate.weights_bytes == 11_181_642 * 4 + 4_800 * 2 * 4 + 20 * 8
    assert estimate.optimizer_bytes == 11_181_642 * 2 * 4


def test_decoder_state_at_the_reference_preset() -> None:
    vocab, seq, width, layers = 32768, 2048, 2048, 8
    block = (2 * width) + (width * 3 * width + 3 * width) + (width * width + width) + (2 * width) \
        + (width * 4 * width + 4 * width) + (4 * width * width + width)
    params = vocab * width + seq * width + layers * block + 2 * width + width * vocab
    estimate = estimate_cell_memory("transformer", PRESET_SIZES["transformer"]["reference"], None, reference=False)
    assert estimate.weights_bytes == params * 4


def test_transformer_peaks_in_the_backward_when_logits_outweigh_gradients() -> None:
    # small: 8 x 256 tokens x 8,192 classes of logits (67 MB in fp32) against 28 MB of gradients, so the loss's
    # backward (three logits-sized tensors, no gradient yet) beats the loss (two of them, and last step's gradients).
    small = estimate_cell_memory("transformer", PRESET_SIZES["transformer"]["small"], None, reference=False)
    assert small.grads_bytes == 0
    tiny = estimate_cell_memory("transformer", PRESET_SIZES["transformer"]["tiny"], None, reference=False)
    assert tiny.grads_bytes == tiny.weights_bytes


def test_autocast_halves_the_transformers_activations_but_not_its_state() -> None:
    sizes = PRESET_SIZES["transformer"]["reference"]
    fp32 = estimate_cell_memory("transformer", sizes, None, reference=False)
    bf16 = estimate_cell_memory("transformer", sizes, "bfloat16", reference=False)
    assert bf16.weights_bytes == fp32.weights_bytes and bf16.optimizer_bytes == fp32.optimizer_bytes
    assert 0.5 * fp32.activations_bytes < bf16.activations_bytes < fp32.activations_bytes


def test_reference_step_raises_the_peak_of_an_amp_cell() -> None:
    sizes = PRESET_SIZES["cnn"]["reference"]
    amp = estimate_cell_memory("cnn", sizes, "bfloat16", reference=True)
    eager = estimate_cell_memory("cnn", sizes, None, reference=False)
    assert amp.reference_peak_bytes == eager.step_peak_bytes > amp.step_peak_bytes
    assert amp.peak_bytes == eager.step_peak_bytes
    assert estimate_cell_memory("cnn", sizes, "bfloat16", reference=False).peak_bytes == amp.step_peak_bytes


def test_peak_is_the_larger_of_the_step_and_the_reference() -> None:
    assert MemoryEstimate(1, 2, 3, 4, 10, None).peak_bytes == 10
    assert MemoryEstimate(1, 2, 3, 4, 10, 25).peak_bytes == 25
    assert MemoryEstimate(1, 2, 3, 4, 10, 7).peak_bytes == 10


def test_unknown_workload_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown workload gan"):
        estimate_cell_memory("gan", {"batch": 1}, None, reference=False)


def _peak_at(batch: int, dtype: Optional[str] = None) -> int:
    sizes = {**PRESET_SIZES["transformer"]["reference"], "batch": batch}
    return estimate_cell_memory("transformer", sizes, dtype, reference=False).peak_bytes


def test_fit_batch_halves_until_the_budget_holds() -> None:
    sizes = PRESET_SIZES["transformer"]["reference"]  # batch 8
    assert fit_batch("transformer", sizes, [None], False, 1000 * GIB)[0] == 8
    assert fit_batch("transformer", sizes, [None], False, _peak_at(2))[0] == 2
    batch, estimate = fit_batch("transformer", sizes, [None], False, _peak_at(2) - 1)
    assert batch == 1 and estimate.peak_bytes == _peak_at(1)


def test_fit_batch_takes_the_worst_of_the_modes() -> None:
    sizes = PRESET_SIZES["transformer"]["reference"]
    budget = _peak_at(8, "bfloat16")  # bf16 at batch 8 fits; fp32 at batch 8 does not
    assert fit_batch("transformer", sizes, ["bfloat16"], False, budget)[0] == 8
    assert fit_batch("transformer", sizes, [None, "bfloat16"], False, budget)[0] == 4
    assert fit_batch("transformer", sizes, ["bfloat16"], True, budget)[0] == 4  # the fp32 reference step runs first


def test_fit_batch_reports_batch_one_when_nothing_fits() -> None:
    batch, estimate = fit_batch("cnn", PRESET_SIZES["cnn"]["reference"], [None], False, GIB // 10)
    assert batch == 1 and estimate.peak_bytes > GIB // 10


@pytest.mark.slow
def test_the_estimator_imports_no_torch() -> None:
    code = "import sys, envdoctor.bench.memory; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.fixture(scope="module")
def measurement() -> ModuleType:
    torch = pytest.importorskip("torch")
    if Version(torch.__version__).release < (2, 4):
        pytest.skip("the measurement steps a fused AdamW, which the CPU has from torch 2.4")
    spec = util.spec_from_file_location("memory_estimate", ROOT / "benchmarks" / "memory_estimate.py")
    assert spec is not None and spec.loader is not None
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _needs_fake_modules() -> None:
    """The fake-tensor measurement moves modules under FakeTensorMode, whose parameters stay FakeTensors through
    Module._apply only from torch 2.8 (measured: 2.4 gives meta parameters, 2.5 and 2.6 refuse real ones)."""
    import torch

    if Version(torch.__version__).release < (2, 8):
        pytest.skip("the fake-tensor measurement needs torch 2.8 (Module._apply keeping FakeTensor parameters)")


PEAKS: dict[tuple[str, Optional[str], bool], int] = {}  # (workload, AMP dtype, on meta) at tiny: measured once


def _tiny_peak(measurement: ModuleType, workload: str, dtype: Optional[str], meta: bool) -> int:
    key = (workload, dtype, meta)
    if key not in PEAKS:
        PEAKS[key] = measurement.measure_step_peak(workload, PRESET_SIZES[workload]["tiny"], dtype, fake=meta)
    return PEAKS[key]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [None, "bfloat16"], ids=["fp32", "bf16"])
@pytest.mark.parametrize("workload", WORKLOADS)
def test_estimate_matches_the_cpu_at_tiny(measurement: ModuleType, workload: str, dtype: Optional[str]) -> None:
    measured = _tiny_peak(measurement, workload, dtype, meta=False)
    estimate = estimate_cell_memory(workload, PRESET_SIZES[workload]["tiny"], dtype, reference=False)
    assert estimate.step_peak_bytes == pytest.approx(measured, rel=TOLERANCE), estimate


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [None, "bfloat16"], ids=["fp32", "bf16"])
@pytest.mark.parametrize("workload", WORKLOADS)
def test_meta_measures_what_the_cpu_measures(measurement: ModuleType, workload: str, dtype: Optional[str]) -> None:
    _needs_fake_modules()
    # Equal to the byte but for BatchNorm's saved statistics under bf16, which the meta kernel types bf16 (19 KB).
    cpu = _tiny_peak(measurement, workload, dtype, meta=False)
    assert _tiny_peak(measurement, workload, dtype, meta=True) == pytest.approx(cpu, rel=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [None, "bfloat16"], ids=["fp32", "bf16"])
@pytest.mark.parametrize("workload", WORKLOADS)
def test_estimate_matches_meta_at_small(measurement: ModuleType, workload: str, dtype: Optional[str]) -> None:
    _needs_fake_modules()
    sizes = PRESET_SIZES[workload]["small"]
    measured = measurement.measure_step_peak(workload, sizes, dtype, fake=True)
    estimate = estimate_cell_memory(workload, sizes, dtype, reference=False)
    assert estimate.step_peak_bytes == pytest.approx(measured, rel=TOLERANCE), estimate
