"""Real bench cells on the CPU in the tiny preset: every workload x mode, injected faults, Ctrl-C mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib import util
from pathlib import Path

import psutil
import pytest

from envdoctor.bench.config import BenchConfig
from envdoctor.bench.runner import BenchRun
from envdoctor.knowledge import knowledge

pytestmark = [pytest.mark.slow, pytest.mark.skipif(util.find_spec("torch") is None, reason="needs torch")]
QUICK = {"min_time_s": 0.2, "warmup_steps": 1, "min_steps": 3}


def run_cells(config: BenchConfig, inject: str = "") -> dict[str, object]:
    os.environ["ENVDOCTOR_BENCH_INJECT"] = inject
    try:
        cells = BenchRun(config, ["cpu"], knowledge()).run()
    finally:
        del os.environ["ENVDOCTOR_BENCH_INJECT"]
    return {c.key: c for c in cells}


def test_every_workload_and_mode_runs_on_the_cpu() -> None:
    cells = run_cells(BenchConfig(compile=True, amp=True, timeout_s=600, **QUICK))  # type: ignore[arg-type]
    assert len(cells) == 12
    for key, cell in cells.items():
        assert cell.status == "ok", f"{key}: {cell.reason}"  # type: ignore[attr-defined]
        assert cell.stats.steps >= 3 and cell.samples_per_s > 0  # type: ignore[attr-defined]
        assert cell.flops_per_step > 0 and cell.peak_rss_bytes > 0  # type: ignore[attr-defined]
        assert cell.mfu is None and cell.mfu_unknown_reason  # type: ignore[attr-defined]  # no CPU peak table
        assert cell.speedup_vs_eager is not None  # type: ignore[attr-defined]
    compiled = cells["cnn/compile+amp/cpu"]
    assert compiled.compile_s is not None and compiled.compile_s > 0  # type: ignore[attr-defined]
    assert compiled.loss_check["ok"] and compiled.settings["autocast_dtype"] == "bfloat16"  # type: ignore[attr-defined]
    assert cells["transformer/eager/cpu"].tokens_per_s > 0  # type: ignore[attr-defined]


def test_faults_get_their_status_and_the_rest_finishes() -> None:
    config = BenchConfig(workloads=("mlp", "transformer"), amp=True, timeout_s=20, **QUICK)  # type: ignore[arg-type]
    cells = run_cells(config, "mlp/eager=oom,mlp/amp=segfault,transformer/amp=hang")
    statuses = {key: cell.status for key, cell in cells.items()}  # type: ignore[attr-defined]
    assert statuses == {"mlp/eager/cpu": "oom", "mlp/amp/cpu": "crashed", "transformer/eager/cpu": "ok",
                        "transformer/amp/cpu": "timeout"}
    assert "SIGSEGV" in cells["mlp/amp/cpu"].reason  # type: ignore[attr-defined]


def test_compile_error_and_plain_error() -> None:
    config = BenchConfig(workloads=("mlp",), compile=True, amp=True, **QUICK)  # type: ignore[arg-type]
    cells = run_cells(config, "mlp/compile=compile_error,mlp/compile+amp=error")
    assert cells["mlp/compile/cpu"].status == "compile_error"  # type: ignore[attr-defined]
    assert cells["mlp/compile+amp/cpu"].status == "error"  # type: ignore[attr-defined]
    assert cells["mlp/eager/cpu"].status == "ok" and cells["mlp/amp/cpu"].status == "ok"  # type: ignore[attr-defined]


def test_auto_batch_halves_until_it_fits() -> None:
    config = BenchConfig(workloads=("mlp",), auto_batch=True, **QUICK)  # type: ignore[arg-type]
    cell = run_cells(config, "mlp/eager=oom>16")["mlp/eager/cpu"]
    assert (cell.status, cell.batch_size) == ("ok", 16)  # type: ignore[attr-defined]


def test_fp16_autocast_on_the_cpu_is_skipped() -> None:
    config = BenchConfig(workloads=("mlp",), amp=True, amp_dtype="float16", **QUICK)  # type: ignore[arg-type]
    cell = run_cells(config)["mlp/amp/cpu"]
    assert cell.status == "skipped" and "float16" in cell.reason  # type: ignore[attr-defined]


def test_ctrl_c_keeps_finished_cells(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    proc = subprocess.Popen([sys.executable, "-m", "envdoctor", "bench", "--workload", "mlp,transformer,cnn",
                             "--amp", "--min-time", "1", "--output", str(output)],
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
    result = subprocess.run([sys.executable, "-m", "envdoctor", "bench", "--workload", "mlp", "--min-time", "0.2",
                             "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "envdoctor.bench" and document["complete"] is True
    (cell,) = document["cells"]
    assert cell["key"] == "mlp/eager/cpu" and len(cell["step_times_s"]) == cell["stats"]["steps"]
    assert document["fingerprint"]["torch"] and document["config"]["presets"] == {"cpu": "tiny"}
