"""Bench configuration, statistics and metrics: fast, no torch child processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.bench.config import BenchConfig, ConfigError
from envdoctor.bench.results import CellResult, StepStats, quantile, write_atomic
from envdoctor.bench.runner import BenchRun, available_devices, select_devices
from envdoctor.cli import main
from envdoctor.facts import TorchRuntime
from envdoctor.knowledge import knowledge


def test_modes_follow_the_flags() -> None:
    assert [m.name for m in BenchConfig().modes()] == ["eager"]
    assert [m.name for m in BenchConfig(compile=True, amp=True).modes()] == ["eager", "compile", "amp",
                                                                              "compile+amp"]
    assert BenchConfig().preset_for("cuda:0") == "reference" and BenchConfig().preset_for("cpu") == "tiny"
    assert BenchConfig(preset="small").preset_for("cuda:0") == "small"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"workloads": ("mlp", "gan")}, "unknown workload gan"),
        ({"preset": "huge"}, "unknown preset"),
        ({"amp_dtype": "float16"}, "--amp-dtype needs --amp"),
        ({"compile_mode": "max-autotune"}, "--compile-mode needs --compile"),
        ({"repeat": 0}, "--repeat must be at least 1"),
        ({"timeout_s": 0}, "--timeout more than 0"),
    ],
)
def test_impossible_configurations(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BenchConfig(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workload", "gan"], "unknown workload gan"),
        (["--amp-dtype", "float16"], "--amp-dtype needs --amp"),
        (["--preset", "huge"], "invalid choice: 'huge'"),
        (["--repeat", "zero"], "invalid int value"),
    ],
)
def test_bench_bad_flags_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_devices_and_selection() -> None:
    runtime = TorchRuntime(status="ok", cuda="12.4", cuda_available=True, device_count=2, mps_available=False)
    available = available_devices(runtime)
    assert available == ["cuda:0", "cuda:1", "cpu"]
    assert select_devices(["cuda"], available) == ["cuda:0", "cuda:1"]
    assert select_devices(None, available) == available
    with pytest.raises(ValueError, match="'tpu' is not available here"):
        select_devices(["tpu"], available)


def test_quantiles_and_step_stats() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    stats = StepStats.of([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (stats.steps, stats.median_s, stats.iqr_s) == (5, 3.0, 2.0)
    assert stats.p10_s == pytest.approx(1.4) and stats.p90_s == pytest.approx(4.6)


def _raw(times: list[float], **extra: object) -> dict[str, object]:
    return {"status": "ok", "reason": None, "step_times_s": times, "first_step_s": 2.0, "flops_per_step": 312e12,
            "samples_per_step": 100, "tokens_per_step": 0, "settings": {"dtype": "bfloat16"},
            "peak_allocated_bytes": 1000, "peak_reserved_bytes": 2000, "peak_rss_bytes": 5000, **extra}


def test_metrics_from_raw_step_times() -> None:
    run = BenchRun(BenchConfig(compile=True), ["cuda:0"], knowledge())
    eager = CellResult("mlp", "eager", "cuda:0", "tiny", 100)
    compiled = CellResult("mlp", "compile", "cuda:0", "tiny", 100)
    run.cells = [eager, compiled]
    run._merge(eager, _raw([2.0, 2.0, 2.0], device_name="NVIDIA A100-SXM4-80GB"), first_round=True)
    run._merge(compiled, _raw([1.0, 1.0, 1.0], device_name="NVIDIA A100-SXM4-80GB", peak_allocated_bytes=500),
               first_round=True)
    run._compare_with_eager()
    assert eager.samples_per_s == 50 and compiled.samples_per_s == 100
    assert compiled.speedup_vs_eager == 2.0 and compiled.memory_ratio_vs_eager == 0.5
    assert compiled.compile_s == 1.0  # first step 2 s, steady 1 s
    assert compiled.achieved_tflops == pytest.approx(312) and compiled.mfu == pytest.approx(1.0)
    assert compiled.peak_source is not None and "A100" in compiled.peak_source


def test_unknown_device_has_no_mfu_never_another_devices() -> None:
    run = BenchRun(BenchConfig(), ["cuda:0"], knowledge())
    cell = CellResult("mlp", "eager", "cuda:0", "tiny", 100)
    run._merge(cell, _raw([1.0, 1.0], device_name="NVIDIA Imaginary GPU 9000"), first_round=True)
    assert cell.mfu is None
    assert cell.mfu_unknown_reason == "no sourced dense bfloat16 peak for NVIDIA Imaginary GPU 9000"
    cpu = CellResult("mlp", "eager", "cpu", "tiny", 100)
    run._merge(cpu, _raw([1.0, 1.0], device_name=None), first_round=True)
    assert cpu.mfu is None and "cpu" in (cpu.mfu_unknown_reason or "")


def test_peak_table_prefers_the_most_specific_name() -> None:
    kb = knowledge()
    pcie = kb.peak_flops("NVIDIA H100 PCIe", "bfloat16")
    sxm = kb.peak_flops("NVIDIA H100 80GB HBM3", "bfloat16")
    assert pcie is not None and sxm is not None and (pcie.tflops, sxm.tflops) == (756, 989)
    assert kb.peak_flops("NVIDIA H100 80GB HBM3", "float32") is None


def test_write_atomic_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "results.json"
    write_atomic(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]
