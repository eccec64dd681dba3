"""`bench --baseline` for real on the CPU: a run compared with the one before it must not fail."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import util
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(util.find_spec("torch") is None, reason="needs torch")]
BENCH = [sys.executable, "-m", "envdoctor", "bench", "--device", "cpu", "--workload", "mlp", "--repeat", "3",
         "--min-time", "0.3"]
# The default 5% gate is for a quiet GPU runner. On the shared 2-vCPU VMs this suite runs on, back-to-back runs of
# this very command measured 20,958 to 31,434 samples/s (8 runs): a third apart, from noise alone. A gate belongs
# above the machine's measured noise, so this one trips only when the whole interval lies 2.5x below the baseline.
NOISY_MACHINE_GATE = "samples_per_s:60%"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("baseline") / "baseline.json"
    first = subprocess.run([*BENCH, "--save-baseline", str(path)], capture_output=True, text=True, timeout=600,
                           check=False)
    assert first.returncode == 0, first.stderr
    assert len(json.loads(path.read_text())["cells"][0]["round_step_counts"]) == 3
    return path


def test_bench_against_its_own_baseline_twice_does_not_fail(baseline: Path, tmp_path: Path) -> None:
    markdown, export = tmp_path / "summary.md", tmp_path / "pytest-benchmark.json"
    for _ in range(2):
        second = subprocess.run([*BENCH, "--baseline", str(baseline), "--gate", NOISY_MACHINE_GATE,
                                 "--markdown", str(markdown), "--export-pytest-benchmark", str(export)],
                                capture_output=True, text=True, timeout=600, check=False)
        assert second.returncode == 0, second.stdout + second.stderr
        assert markdown.read_text().startswith("## envdoctor: no regression")
    cli = Path(sys.executable).parent / "pytest-benchmark"  # pytest-benchmark's own reader of saved runs
    shown = subprocess.run([str(cli), "compare", str(export)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0 and "mlp/eager/cpu" in shown.stdout, shown.stderr
    stats = json.loads(export.read_text())["benchmarks"][0]["stats"]
    assert stats["ops"] > 0 and stats["rounds"] == len(stats["data"])


def test_a_tripped_gate_runs_the_cell_once_more_then_fails(baseline: Path, tmp_path: Path) -> None:
    # A baseline a thousand times faster than this machine can be. The gate must clear the runs' own round spread
    # too, and rounds on this VM have differed by up to 10x (issue 13's note), so a 10x gap can pass for noise.
    document = json.loads(baseline.read_text())
    cell = document["cells"][0]
    cell["step_times_s"] = [t / 1000 for t in cell["step_times_s"]]
    cell["round_medians_s"] = [t / 1000 for t in cell["round_medians_s"]]
    cell["samples_per_s"] *= 1000
    # The doctored baseline is no measurement of this machine, so none of its rounds was busy. The real baseline is
    # the suite's first bench run, which on a fresh CI machine can meet the kernel still writing out the install.
    cell["cpu_shares"] = []
    faster = tmp_path / "faster.json"
    faster.write_text(json.dumps(document))
    output, markdown = tmp_path / "current.json", tmp_path / "summary.md"
    result = subprocess.run([*BENCH, "--baseline", str(faster), "--output", str(output), "--markdown",
                             str(markdown)], capture_output=True, text=True, timeout=600, check=False)
    if result.returncode == 0 and "the machine was busy" in result.stdout:
        pytest.skip("another process used the CPUs during the run: a busy machine cannot show a regression")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "1 cell(s) tripped a gate; running them once more before the verdict" in result.stderr
    assert len(json.loads(output.read_text())["cells"][0]["round_step_counts"]) == 4  # 3 rounds, then 1 more
    assert markdown.read_text().startswith("## envdoctor: REGRESSION: 1 regressed")


def test_an_unusable_baseline_fails_before_any_work(tmp_path: Path) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text("{}")
    result = subprocess.run([*BENCH, "--baseline", str(bad)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"envdoctor: error: {bad} is not an envdoctor bench results document (no \"schema\": \"envdoctor.bench\")"]
