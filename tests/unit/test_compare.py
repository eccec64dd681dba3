"""The regression gate on results documents: verdicts, statuses, fingerprints, bad files, reports."""

from __future__ import annotations

import copy
import json
import random
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cli import main
from envdoctor.results.compare import parse_gate
from envdoctor.results.model import BENCH_SCHEMA, BENCH_SCHEMA_VERSION

FINGERPRINT = {"gpus": ["NVIDIA A100-SXM4-80GB"], "gpu_count": 1, "driver": "535.54.03", "driver_branch": "535",
               "cuda": "12.1", "cudnn": 90100, "torch": "2.4.1+cu121", "cpu": "AMD EPYC 7763", "cpu_threads": 32,
               "python": "3.11.7", "os": "Ubuntu 22.04", "git_commit": None,
               "volatile": {"hostname": "a", "sm_clocks_mhz": [1410], "throttle_reasons": [[]]}}


def cell(key: str, rounds: list[list[float]], status: str = "ok", batch: int = 64) -> dict[str, Any]:
    """A cell as the bench writes it, with these raw step times (one list per round)."""
    workload, mode, device = key.split("/")
    times = [t for r in rounds for t in r]
    median = sorted(times)[len(times) // 2] if times else None
    return {"key": key, "workload": workload, "mode": mode, "device": device, "preset": "tiny", "batch_size": batch,
            "status": status, "reason": None if status == "ok" else "CUDA out of memory",
            "step_times_s": times, "round_step_counts": [len(r) for r in rounds],
            "round_medians_s": [statistics.median(r) for r in rounds],
            "samples_per_s": batch / median if median else None, "peak_allocated_bytes": 1000}


def document(cells: list[dict[str, Any]], fingerprint: dict[str, Any] = FINGERPRINT) -> dict[str, Any]:
    return {"schema": BENCH_SCHEMA, "schema_version": BENCH_SCHEMA_VERSION, "complete": True, "interrupted": False,
            "config": {"presets": {"cuda:0": "tiny"}}, "fingerprint": fingerprint, "cells": cells}


def jittered(center: float, spread: float, rounds: int = 3, steps: int = 60, seed: int = 1) -> list[list[float]]:
    """Rounds of step times around `center`; each round's level is off by up to `spread`, each step by 1%."""
    rng = random.Random(seed)
    result = []
    for r in range(rounds):
        level = center * (1 + spread * (2 * r / max(rounds - 1, 1) - 1))
        result.append([level * rng.uniform(0.99, 1.01) for _ in range(steps)])
    return result


def write(tmp_path: Path, name: str, doc: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def run_compare(tmp_path: Path, base: dict[str, Any], cur: dict[str, Any], *flags: str) -> int:
    return main(["compare", write(tmp_path, "base.json", base), write(tmp_path, "cur.json", cur), *flags])


BASE = document([cell("mlp/eager/cuda:0", jittered(0.010, 0.0)), cell("cnn/eager/cuda:0", jittered(0.050, 0.0))])


def test_tight_ten_percent_slowdown_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slower = document([cell("mlp/eager/cuda:0", jittered(0.0111, 0.0, seed=2)),
                       cell("cnn/eager/cuda:0", jittered(0.050, 0.0, seed=2))])
    assert run_compare(tmp_path, BASE, slower, "--json") == 4
    result = json.loads(capsys.readouterr().out)
    verdicts = {c["key"]: c["verdict"] for c in result["cells"]}
    assert verdicts == {"mlp/eager/cuda:0": "regressed", "cnn/eager/cuda:0": "unchanged"}
    mlp = next(c for c in result["cells"] if c["key"] == "mlp/eager/cuda:0")
    assert mlp["high"] < 0.95 and mlp["ratio"] == pytest.approx(0.9, abs=0.01)
    assert mlp["note"] == ""  # its rounds agree: no noise hint


def test_same_slowdown_within_a_thirty_percent_spread_is_inconclusive(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    noisy_base = document([cell("mlp/eager/cuda:0", jittered(0.010, 0.30))])
    noisy_slower = document([cell("mlp/eager/cuda:0", jittered(0.0111, 0.30, seed=3))])
    assert run_compare(tmp_path, noisy_base, noisy_slower, "--json") == 0
    mlp = json.loads(capsys.readouterr().out)["cells"][0]
    assert mlp["verdict"] == "inconclusive"
    # Levels 0.7x to 1.3x of the centre, each step off by up to 1%: the slowest round is about 86% slower.
    hint = re.match(r"this machine's rounds of one run differ by up to (\d+)%; gate at (\d+)% or run with --repeat 5",
                    mlp["note"])
    assert hint is not None and 83 <= int(hint.group(1)) <= 89, mlp["note"]
    assert hint.group(2) == "50"  # 85% slower rounds fake a throughput ratio of 1/1.85 = 0.54: a 46% drop


def test_improvement_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faster = document([cell("mlp/eager/cuda:0", jittered(0.008, 0.0, seed=4)),
                       cell("cnn/eager/cuda:0", jittered(0.050, 0.0, seed=4))])
    assert run_compare(tmp_path, BASE, faster) == 0
    out = capsys.readouterr().out
    assert "no regression" in out and "improved" in out


def test_ok_to_oom_is_a_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    oom = document([cell("mlp/eager/cuda:0", [], status="oom"), cell("cnn/eager/cuda:0", jittered(0.050, 0.0))])
    assert run_compare(tmp_path, BASE, oom) == 4
    assert "status-regressed (ok -> oom" in capsys.readouterr().out


def test_cells_in_one_run_only_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fewer = document([cell("mlp/eager/cuda:0", jittered(0.010, 0.0, seed=5)),
                      cell("transformer/eager/cuda:0", jittered(0.02, 0.0))])
    assert run_compare(tmp_path, BASE, fewer) == 0
    out = capsys.readouterr().out
    assert "only in the baseline: cnn/eager/cuda:0" in out and "only in this run: transformer/eager/cuda:0" in out


def test_a_gpu_change_is_refused_and_allowed_with_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = copy.deepcopy(BASE)
    other["fingerprint"]["gpus"] = ["NVIDIA H100 80GB HBM3"]
    other["fingerprint"]["volatile"]["hostname"] = "b"  # volatile: never a reason to refuse
    assert run_compare(tmp_path, BASE, other) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "gpus: ['NVIDIA A100-SXM4-80GB'] -> ['NVIDIA H100 80GB HBM3']" in err and "hostname" not in err
    assert run_compare(tmp_path, BASE, other, "--allow-env-change") == 0
    assert "environment change under test: gpus" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("{not json", "not valid JSON"),
        ('{"schema": "envdoctor.check", "schema_version": 1}', "not an envdoctor bench results document"),
        ('[1, 2, 3]', "not an envdoctor bench results document"),
        ('{"schema": "envdoctor.bench", "schema_version": 7, "cells": []}', "schema version 7"),
        ('{"schema": "envdoctor.bench", "schema_version": 1, "cells": [{"key": 3}]}', "is not a bench cell"),
    ],
)
def test_unusable_files_exit_2_with_one_line(tmp_path: Path, content: str, message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["compare", write(tmp_path, "base.json", BASE), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_nothing_comparable_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = document([cell("transformer/eager/cuda:0", jittered(0.02, 0.0))])
    assert run_compare(tmp_path, BASE, other) == 2
    assert "no cell in common" in capsys.readouterr().err


def test_gates_parse_and_memory_is_lower_is_better(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_gate("peak_memory:10%").higher_is_better is False
    with pytest.raises(ValueError, match="METRIC:PERCENT"):
        parse_gate("latency:5")
    bigger = copy.deepcopy(BASE)
    bigger["cells"][0]["peak_allocated_bytes"] = 1500
    assert run_compare(tmp_path, BASE, bigger, "--gate", "peak_memory:10%") == 4
    assert main(["compare", "a.json", "b.json", "--gate", "speed"]) == 2


def test_markdown_and_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    slower = document([cell("mlp/eager/cuda:0", jittered(0.0111, 0.0, seed=2)),
                       cell("cnn/eager/cuda:0", jittered(0.050, 0.0, seed=2))])
    markdown = tmp_path / "report.md"
    assert run_compare(tmp_path, BASE, slower, "--markdown", str(markdown)) == 4
    text = markdown.read_text()
    assert text.startswith("## envdoctor: REGRESSION: 1 regressed, 1 unchanged")
    assert "| `mlp/eager/cuda:0` | samples_per_s:5% |" in text
    assert summary.read_text().startswith(text)


def test_plot_is_drawn_or_hinted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import util

    chart = tmp_path / "chart.png"
    slower = document([cell("mlp/eager/cuda:0", jittered(0.0111, 0.0, seed=2)),
                       cell("cnn/eager/cuda:0", jittered(0.050, 0.0, seed=2))])
    assert run_compare(tmp_path, BASE, slower, "--plot", str(chart)) == 4
    if util.find_spec("matplotlib") is None:
        assert "pip install 'envdoctor[plot]'" in capsys.readouterr().err
    else:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_changed_batch_is_an_environment_difference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Fitted to a smaller GPU, or halved by --auto-batch: the runs measured different work.
    halved = document([cell("mlp/eager/cuda:0", jittered(0.005, 0.0), batch=32),
                       cell("cnn/eager/cuda:0", jittered(0.050, 0.0))])
    assert run_compare(tmp_path, BASE, halved) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "batch of mlp/eager/cuda:0: 64 -> 32" in err
    assert run_compare(tmp_path, BASE, halved, "--allow-env-change") == 0
