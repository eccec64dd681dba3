"""Every way out of a run. Stop signals at random moments: bench keeps every finished cell and exits 128 + the
signal, check ends its hanging torch import, and nothing envdoctor started outlives it, even when envdoctor itself
is killed. A results directory that vanishes mid-run ends in a fallback file."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import util
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(util.find_spec("torch") is None, reason="needs torch"),
              pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]
ENVDOCTOR = [sys.executable, "-m", "envdoctor"]


def start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*ENVDOCTOR, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def watch(proc: subprocess.Popen[str], until: Callable[[set[psutil.Process]], bool],
          timeout_s: float = 180) -> set[psutil.Process]:
    """Every descendant of `proc` seen while waiting for `until(descendants)`."""
    seen: set[psutil.Process] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with contextlib.suppress(psutil.NoSuchProcess):
            seen.update(psutil.Process(proc.pid).children(recursive=True))
        if until(seen):
            return seen
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def survivors(processes: set[psutil.Process], grace_s: float = 10) -> list[str]:
    """Those still running after `grace_s` (zombies have ended)."""
    deadline = time.monotonic() + grace_s
    while True:
        alive = []
        for process in processes:
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(" ".join(process.cmdline())[:120])
            except psutil.NoSuchProcess:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def finished(path: Path) -> dict[str, Any]:
    """The cells a results file holds, by key ({} while it is not there yet)."""
    try:
        return {c["key"]: c for c in json.loads(path.read_text())["cells"]}
    except (OSError, ValueError):
        return {}


def cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def running_ranks(found: set[psutil.Process]) -> int:
    """DDP ranks alive now (torchrun's own command line names the worker module too)."""
    return sum("ddp_worker" in cmdline(p) and "torch.distributed.run" not in cmdline(p) for p in found)


@pytest.mark.parametrize(("signum", "seed"), [(signal.SIGTERM, 1), (signal.SIGHUP, 2)])
def test_bench_stopped_at_a_random_moment(signum: int, seed: int, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    proc = start(["bench", "--device", "cpu", "--workload", "mlp,transformer,cnn", "--amp", "--min-time", "0.5",
                  "--output", str(output)])
    seen = watch(proc, lambda _: bool(finished(output)))
    time.sleep(random.Random(seed).uniform(0, 2.0))  # somewhere in the cells after the first
    before = finished(output)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    document = json.loads(output.read_text())
    assert document["interrupted"] is True and document["complete"] is False
    after = {c["key"]: c for c in document["cells"]}
    assert set(before) <= set(after), "a cell finished before the signal is missing"
    assert all(c["step_times_s"] for c in after.values() if c["status"] == "ok")
    assert "interrupted" in stdout and f"interrupted ({signal.Signals(signum).name})" in stderr
    assert not survivors(seen)


def test_ddp_stopped_mid_cell_leaves_no_torchrun_or_rank(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    proc = start(["bench", "--device", "cpu", "--workload", "mlp", "--ddp", "--nproc", "2", "--min-time", "3",
                  "--output", str(output)])
    seen = watch(proc, lambda found: running_ranks(found) == 2)
    time.sleep(random.Random(3).uniform(0, 1.0))
    assert any("torch.distributed.run" in cmdline(p) for p in seen)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert json.loads(output.read_text())["interrupted"] is True
    assert not survivors(seen)


def test_ddp_ranks_end_when_envdoctor_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives envdoctor no chance to clean up: torchrun's parent-death signal and the ranks' own must."""
    proc = start(["bench", "--device", "cpu", "--workload", "mlp", "--ddp", "--nproc", "2", "--min-time", "30"])
    seen = watch(proc, lambda found: running_ranks(found) == 2)
    proc.kill()
    proc.communicate(timeout=60)
    assert not survivors(seen, grace_s=20)


@pytest.fixture
def hanging_torch(tmp_path: Path) -> dict[str, str]:
    package = tmp_path / "shadow" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("import time\ntime.sleep(600)\n")
    return {"PYTHONPATH": str(package.parent)}


@pytest.mark.parametrize(("signum", "seed"), [(signal.SIGTERM, 4), (signal.SIGHUP, 5), (signal.SIGINT, 6)])
def test_check_stopped_during_a_hanging_import(signum: int, seed: int, hanging_torch: dict[str, str]) -> None:
    proc = start(["check"], env=hanging_torch)
    seen = watch(proc, lambda found: any(" -c " in cmdline(p) for p in found))
    time.sleep(random.Random(seed).uniform(0, 1.0))
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum
    assert stderr.strip().splitlines()[-1] == f"envdoctor: error: interrupted ({signal.Signals(signum).name})"
    assert not survivors(seen)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_the_import_child_ends_when_check_is_killed(hanging_torch: dict[str, str]) -> None:
    proc = start(["check"], env=hanging_torch)
    seen = watch(proc, lambda found: any(" -c " in cmdline(p) for p in found))
    proc.kill()
    proc.communicate(timeout=30)
    assert not survivors(seen)


def test_an_output_directory_removed_mid_run_ends_in_a_fallback_file(tmp_path: Path) -> None:
    output = tmp_path / "out" / "results.json"
    (tmp_path / "tmp").mkdir()
    proc = start(["bench", "--device", "cpu", "--workload", "mlp,transformer", "--min-time", "0.5",
                  "--output", str(output)], env={"TMPDIR": str(tmp_path / "tmp")})
    watch(proc, lambda _: bool(finished(output)))
    for path in output.parent.iterdir():
        path.unlink()
    output.parent.rmdir()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stderr
    assert stderr.count("warning: cannot write --output") == 1
    (fallback,) = (tmp_path / "tmp").glob("envdoctor-output-*.json")
    assert f"saved to {fallback} instead" in stderr
    document = json.loads(fallback.read_text())
    assert document["complete"] is True
    assert [c["key"] for c in document["cells"]] == ["mlp/eager/cpu", "transformer/eager/cpu"]
