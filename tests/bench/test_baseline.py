"""`bench --baseline` for real on the CPU: a run compared with the one before it must not fail."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import util
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(util.find_spec("torch") is None, reason="needs torch")]
BENCH = [sys.executable, "-m", "envdoctor", "bench", "--workload", "mlp", "--repeat", "3", "--min-time", "0.3"]


def test_bench_against_its_own_baseline_twice_does_not_fail(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    first = subprocess.run([*BENCH, "--save-baseline", str(baseline)], capture_output=True, text=True, timeout=600,
                           check=False)
    assert first.returncode == 0, first.stderr
    assert json.loads(baseline.read_text())["cells"][0]["round_step_counts"].__len__() == 3
    markdown, export = tmp_path / "summary.md", tmp_path / "pytest-benchmark.json"
    for _ in range(2):
        second = subprocess.run([*BENCH, "--baseline", str(baseline), "--markdown", str(markdown),
                                 "--export-pytest-benchmark", str(export)], capture_output=True, text=True,
                                timeout=600, check=False)
        assert second.returncode == 0, second.stdout + second.stderr
        assert markdown.read_text().startswith("## envdoctor: no regression")
    cli = Path(sys.executable).parent / "pytest-benchmark"  # pytest-benchmark's own reader of saved runs
    shown = subprocess.run([str(cli), "compare", str(export)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0 and "mlp/eager/cpu" in shown.stdout, shown.stderr
    stats = json.loads(export.read_text())["benchmarks"][0]["stats"]
    assert stats["ops"] > 0 and stats["rounds"] == len(stats["data"])


def test_an_unusable_baseline_fails_before_any_work(tmp_path: Path) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text("{}")
    result = subprocess.run([*BENCH, "--baseline", str(bad)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"envdoctor: error: {bad} is not an envdoctor bench results document (no \"schema\": \"envdoctor.bench\")"]
