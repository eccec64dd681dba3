"""Fixtures for the bench tests: the CPU as a bench device, and faults injected into the cells' processes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from envdoctor.bench.config import BenchConfig
from envdoctor.bench.devices import BenchDevice, bench_devices
from envdoctor.bench.plan import CellPlan, plan_cells
from envdoctor.knowledge import knowledge
from tests.helpers import facts_for

FAULTS_DIR = Path(__file__).parent / "faults"


def cpu_device() -> BenchDevice:
    """The CPU as the device model builds it from facts (no GPU)."""
    (cpu,) = bench_devices(facts_for(torch="2.14.1+cpu", driver=None), knowledge())
    return cpu


def cpu_plans(config: BenchConfig) -> list[CellPlan]:
    return plan_cells(config, [cpu_device()])


@pytest.fixture
def inject(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """inject("mlp/eager=oom,ddp/rank1=exit"): the faults the cells' child processes will meet (faults/)."""

    def set_faults(faults: str) -> None:
        monkeypatch.setenv("ENVDOCTOR_TEST_FAULTS", faults)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(FAULTS_DIR),
                                                                      os.environ.get("PYTHONPATH")])))
    return set_faults
