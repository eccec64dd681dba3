"""Bench configuration, statistics and metrics: fast, no torch child processes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from envdoctor.bench.config import BenchConfig, ConfigError
from envdoctor.bench.devices import bench_devices, select
from envdoctor.bench.plan import CellPlan, plan_cells
from envdoctor.bench.runner import BenchRun
from envdoctor.bench.spec import RoundOutcome
from envdoctor.cli import main
from envdoctor.facts import TorchDevice
from envdoctor.knowledge import knowledge
from envdoctor.results.derive import compare_with_eager, merge_round
from envdoctor.results.model import CellResult, StepStats, quantile
from tests.helpers import facts_for, sample_facts

GIB = 1024**3


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
        ({"timeout_s": 0}, "--timeout must be a number of seconds above 0"),
        ({"timeout_s": float("inf")}, "at most 86400"),
        ({"min_time_s": float("nan")}, "--min-time must be a number of seconds from 0 to 3600"),
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
    facts = facts_for(torch="2.4.1+cu121", gpus=(("NVIDIA A100-SXM4-80GB", (8, 0)), ("NVIDIA A100-SXM4-80GB", (8, 0))))
    available = bench_devices(facts, knowledge())
    # The torch runtime of facts_for lists no devices of its own: torch reported none, so none is benched.
    assert [d.name for d in available] == ["cpu"]
    a100s = tuple(TorchDevice(i, "NVIDIA A100-SXM4-80GB", (8, 0), 80 * GIB) for i in range(2))
    two = replace(facts, torch=replace(facts.torch, devices=a100s))
    available = bench_devices(two, knowledge())
    assert [d.name for d in available] == ["cuda:0", "cuda:1", "cpu"]
    assert [d.name for d in select(["cuda"], available)] == ["cuda:0", "cuda:1"]
    assert select(None, available) == list(available)
    with pytest.raises(ValueError, match="'tpu' is not available here"):
        select(["tpu"], available)


def test_quantiles_and_step_stats() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    stats = StepStats.of([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (stats.steps, stats.median_s, stats.iqr_s) == (5, 3.0, 2.0)
    assert stats.p10_s == pytest.approx(1.4) and stats.p90_s == pytest.approx(4.6)


def _raw(times: list[float], **extra: object) -> RoundOutcome:
    fields: dict[str, object] = {
        "status": "ok", "reason": None, "step_times_s": times, "window_s": sum(times) + 0.5, "first_step_s": 2.0,
        "flops_per_step": 312 * 10**12, "samples_per_step": 100, "tokens_per_step": 0,
        "settings": {"dtype": "bfloat16"}, "peak_allocated_bytes": 1000, "peak_reserved_bytes": 2000,
        "peak_rss_bytes": 5000, **extra}
    return RoundOutcome(**fields)  # type: ignore[arg-type]


def _a100_plans(config: BenchConfig) -> list[CellPlan]:
    a100 = TorchDevice(0, "NVIDIA A100-SXM4-80GB", (8, 0), 80 * GIB, uuid="513536b6-7d19-9063-b049-1e69664bb298")
    devices = bench_devices(replace(sample_facts(), torch=replace(sample_facts().torch, devices=(a100,),
                                                                  device_count=1)), knowledge())
    return plan_cells(config, [devices[0]])


def test_metrics_from_raw_step_times() -> None:
    plans = _a100_plans(BenchConfig(workloads=("mlp",), compile=True, amp=True))
    eager_plan, compile_plan, amp_plan = plans[:3]
    run = BenchRun(BenchConfig(compile=True), plans)
    eager = CellResult("mlp", "eager", "cuda:0", "reference", 100)
    compiled = CellResult("mlp", "compile", "cuda:0", "reference", 100)
    amp = CellResult("mlp", "amp", "cuda:0", "reference", 100)
    run.cells = [eager, compiled, amp]
    merge_round(eager, _raw([2.0, 2.0, 2.0]), eager_plan, first_round=True)
    merge_round(compiled, _raw([1.0, 1.0, 1.0], peak_allocated_bytes=500), compile_plan, first_round=True)
    merge_round(amp, _raw([1.0, 1.0, 1.0]), amp_plan, first_round=True)
    compare_with_eager(run.cells, run.plans)
    assert eager.samples_per_s == 50 and compiled.samples_per_s == 100
    assert compiled.window_samples_per_s == pytest.approx(300 / 3.5)  # samples / window wall time
    assert compiled.speedup_vs_eager == 2.0 and compiled.memory_ratio_vs_eager == 0.5
    assert compiled.compile_s == 1.0  # first step 2 s, steady 1 s
    # MFU divides by the plan's peak for the cell's dtype: fp32 for compile (TF32 off), bf16 for AMP on an A100.
    assert compiled.achieved_tflops == pytest.approx(312)
    assert compiled.peak_tflops == 19.5 and compiled.mfu == pytest.approx(16.0)
    assert amp.peak_tflops == 312 and amp.mfu == pytest.approx(1.0)
    assert amp.peak_source is not None and amp.peak_source.startswith("A100")


def test_ratios_only_like_for_like() -> None:
    plans = _a100_plans(BenchConfig(workloads=("mlp",), compile=True))
    run = BenchRun(BenchConfig(compile=True), plans)
    eager = CellResult("mlp", "eager", "cuda:0", "reference", 4096)
    halved = CellResult("mlp", "compile", "cuda:0", "reference", 2048)  # --auto-batch halved it
    run.cells = [eager, halved]
    merge_round(eager, _raw([2.0, 2.0], samples_per_step=4096), plans[0], first_round=True)
    merge_round(halved, _raw([0.5, 0.5], samples_per_step=2048, peak_allocated_bytes=500), plans[1], first_round=True)
    compare_with_eager(run.cells, run.plans)
    assert halved.speedup_vs_eager == pytest.approx(2.0)  # 4096 /s against 2048 /s: on samples/s, not step time
    assert halved.eager_batch_size == 4096 and halved.memory_ratio_vs_eager is None


def test_unknown_device_has_no_mfu_never_another_devices() -> None:
    imaginary = TorchDevice(0, "NVIDIA Imaginary GPU 9000", (9, 0), 80 * GIB)
    devices = bench_devices(replace(sample_facts(), torch=replace(sample_facts().torch, devices=(imaginary,))),
                            knowledge())
    (plan,) = plan_cells(BenchConfig(workloads=("mlp",)), devices[:1])
    cell = CellResult("mlp", "eager", "cuda:0", "reference", 100)
    merge_round(cell, _raw([1.0, 1.0]), plan, first_round=True)
    assert cell.mfu is None
    assert cell.mfu_unknown_reason == "no sourced peak for 'NVIDIA Imaginary GPU 9000'"
    cpu_plan = plan_cells(BenchConfig(workloads=("mlp",)), devices[-1:])[0]
    cpu = CellResult("mlp", "eager", "cpu", "tiny", 100)
    merge_round(cpu, _raw([1.0, 1.0]), cpu_plan, first_round=True)
    assert cpu.mfu is None and cpu.mfu_unknown_reason == "no peak FLOP/s table for CPUs"


def test_peak_table_prefers_the_most_specific_name() -> None:
    kb = knowledge()
    pcie = kb.peak_flops("NVIDIA H100 PCIe", "bfloat16")
    sxm = kb.peak_flops("NVIDIA H100 80GB HBM3", "bfloat16")
    assert pcie is not None and sxm is not None and (pcie.tflops, sxm.tflops) == (756, 989)
