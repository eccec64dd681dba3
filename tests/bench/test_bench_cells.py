"""Real bench cells on the CPU in the tiny preset: every workload x mode, faults met inside the cells' processes
(tests/bench/faults), the correctness guard, Ctrl-C mid-run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from importlib import util
from pathlib import Path
from typing import Callable

import psutil
import pytest

from envdoctor.bench.config import BenchConfig
from envdoctor.bench.runner import BenchRun
from envdoctor.results.model import CellResult
from tests.bench.conftest import cpu_plans

pytestmark = [pytest.mark.slow, pytest.mark.skipif(util.find_spec("torch") is None, reason="needs torch")]
QUICK = {"min_time_s": 0.2, "warmup_steps": 1, "min_steps": 3}


def run_cells(config: BenchConfig) -> dict[str, CellResult]:
    return {c.key: c for c in BenchRun(config, cpu_plans(config)).run()}


def test_every_workload_and_mode_runs_on_the_cpu() -> None:
    cells = run_cells(BenchConfig(compile=True, amp=True, timeout_s=600, **QUICK))  # type: ignore[arg-type]
    assert len(cells) == 12
    for key, cell in cells.items():
        assert cell.status == "ok", f"{key}: {cell.reason}"
        assert cell.stats is not None and cell.stats.steps >= 3 and cell.samples_per_s and cell.window_samples_per_s
        assert cell.flops_per_step and cell.peak_rss_bytes
        assert cell.mfu is None and cell.mfu_unknown_reason == "no peak FLOP/s table for CPUs"
        assert cell.speedup_vs_eager is not None and cell.eager_batch_size is None
        assert cell.settings["threads"] >= 1 and cell.settings["batch"] == cell.batch_size
    compiled = cells["cnn/compile+amp/cpu"]
    assert compiled.compile_s is not None and compiled.compile_s > 0
    assert compiled.settings["autocast_dtype"] == "bfloat16" and compiled.settings["compile_mode"] == "default"
    guard = compiled.loss_check
    assert guard is not None and guard["ok"] and guard["steps"] == 10 and len(guard["reference_losses"]) == 10
    assert cells["mlp/eager/cpu"].loss_check is None  # eager fp32 is the reference itself
    assert cells["transformer/eager/cpu"].tokens_per_s


def test_faults_inside_the_model_get_their_status_and_the_rest_finishes(inject: Callable[[str], None]) -> None:
    inject("mlp/eager=oom,mlp/amp=segfault,transformer/amp=hang")
    config = BenchConfig(workloads=("mlp", "transformer"), amp=True, timeout_s=30, **QUICK)  # type: ignore[arg-type]
    cells = run_cells(config)
    assert {key: cell.status for key, cell in cells.items()} == {
        "mlp/eager/cpu": "oom", "mlp/amp/cpu": "crashed", "transformer/eager/cpu": "ok",
        "transformer/amp/cpu": "timeout"}
    assert "CUDA out of memory" in (cells["mlp/eager/cpu"].reason or "")
    assert "SIGSEGV" in (cells["mlp/amp/cpu"].reason or "")


def test_inductor_failing_is_a_compile_error_and_a_forward_error_is_an_error(inject: Callable[[str], None]) -> None:
    inject("mlp/compile=compile_error,mlp/compile+amp=error")
    cells = run_cells(BenchConfig(workloads=("mlp",), compile=True, amp=True, **QUICK))  # type: ignore[arg-type]
    assert cells["mlp/compile/cpu"].status == "compile_error"
    assert "Inductor failed" in (cells["mlp/compile/cpu"].reason or "")
    # The forward fails in the eager fp32 reference too, before anything is compiled: an error, not a compile error.
    assert cells["mlp/compile+amp/cpu"].status == "error"
    assert "RuntimeError: ENVDOCTOR_TEST_FAULTS: an error in forward" in (cells["mlp/compile+amp/cpu"].reason or "")
    assert cells["mlp/eager/cpu"].status == "ok" and cells["mlp/amp/cpu"].status == "ok"


def test_a_numerically_wrong_mode_fails_the_guard_with_the_figures(inject: Callable[[str], None]) -> None:
    inject("mlp/amp=wrong")
    cells = run_cells(BenchConfig(workloads=("mlp",), amp=True, **QUICK))  # type: ignore[arg-type]
    wrong = cells["mlp/amp/cpu"]
    assert wrong.status == "error" and wrong.reason is not None and "does not match eager fp32" in wrong.reason
    guard = wrong.loss_check
    assert guard is not None and not guard["ok"]
    # Zero logits: the loss stays at ln(10) while eager's falls, and no gradient reaches the weights.
    assert guard["losses"][0] == pytest.approx(2.302585, rel=1e-5)
    assert guard["grad_error"] == pytest.approx(1.0)
    assert cells["mlp/eager/cpu"].status == "ok"


def test_auto_batch_halves_until_it_fits(inject: Callable[[str], None]) -> None:
    inject("mlp/eager=oom>16")
    cell = run_cells(BenchConfig(workloads=("mlp",), auto_batch=True, **QUICK))["mlp/eager/cpu"]  # type: ignore[arg-type]
    assert (cell.status, cell.batch_size) == ("ok", 16)
    assert cell.batch_why == "halved by --auto-batch after out-of-memory (plan: 64)"


def test_fp16_autocast_on_the_cpu_is_skipped() -> None:
    config = BenchConfig(workloads=("mlp",), amp=True, amp_dtype="float16", **QUICK)  # type: ignore[arg-type]
    cell = run_cells(config)["mlp/amp/cpu"]
    assert cell.status == "skipped" and "float16" in (cell.reason or "")


def test_ctrl_c_keeps_finished_cells(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    proc = subprocess.Popen([sys.executable, "-m", "envdoctor", "bench", "--device", "cpu",
                             "--workload", "mlp,transformer,cnn", "--amp", "--min-time", "1", "--output", str(output)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if output.exists() and json.loads(output.read_text())["cells"]:
            break
        time.sleep(0.2)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    document = json.loads(output.read_text())
    assert document["interrupted"] is True and document["complete"] is False
    finished = [c for c in document["cells"] if c["status"] == "ok"]
    assert finished and all(c["step_times_s"] for c in finished)
    assert "interrupted" in stdout and finished[0]["workload"] in stdout
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_bench_json_on_stdout() -> None:
    result = subprocess.run([sys.executable, "-m", "envdoctor", "bench", "--device", "cpu", "--workload", "mlp",
                             "--min-time", "0.2", "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "envdoctor.bench" and document["complete"] is True
    (cell,) = document["cells"]
    assert cell["key"] == "mlp/eager/cpu" and len(cell["step_times_s"]) == cell["stats"]["steps"]
    assert document["fingerprint"]["torch"] and document["config"]["presets"] == {"cpu": "tiny"}
    assert cell["batch_why"] == "the preset's batch (memory is fitted on GPUs only)"
