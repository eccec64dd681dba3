"""`fleet`'s GPU checks on nodes built from real nvidia-smi captures (tests/machines.py: each machine's NVIDIA part is
its capture passed through the real probe).

The RTX 4090 capture (`xml_rtx4090_535.86.05.xml`) reads: SM clock 210 of max 3120 MHz, power limit 450 W (the card
allows 10 to 600 W), clock-event reasons only gpu_idle, PCIe gen 1 of 3 at x16 of x16. An idle GPU drops its link
generation, which is why gen is not judged. From it, one GPU changed per node:
- gpu02: hw_thermal_slowdown active (NVML bit 0x40), as `nvidia-smi -q` shows "HW Thermal Slowdown : Active". No
  capture in tests/fixtures has a reason that costs speed active, so this one is set by hand;
- gpu03: a link of x8, the width the Tesla T4 capture (`xml_tesla-t4_515.105.01.xml`) reads at x16 max;
- gpu04: a power limit of 300 W, as `nvidia-smi -pl 300` would set within the card's 10 to 600 W;
- gpu05: a max SM clock of 2520 MHz, set by hand (no capture shows a 4090 with lower max clocks);
- gpu06: driver 535.54.03, the driver of the A100 capture (`xml_a100-sxm4-80gb-mig_535.54.03.xml`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from envdoctor.bench.sampler import Sample, summarize
from envdoctor.diagnose.fleet import judge_fleet
from envdoctor.diagnose.fleet.model import Node
from envdoctor.facts import Facts, Origin
from envdoctor.knowledge import clock_event_reasons
from envdoctor.probe.nvidia import THROTTLE_BITS
from envdoctor.results.load import BenchResults
from envdoctor.results.model import CellResult
from tests.machines import machine_facts

CHANGES: Mapping[str, Mapping[str, Any]] = {
    "gpu02": {"throttle_reasons": ("hw_thermal_slowdown",)},
    "gpu03": {"pcie_width": 8},
    "gpu04": {"power_limit_w": 300.0},
    "gpu05": {"sm_clock_max_mhz": 2520},
}


def node(base: Facts, host: str, driver: str = "", **gpu: Any) -> Node:
    nvidia = replace(base.nvidia, gpus=tuple(replace(g, **gpu) for g in base.nvidia.gpus),
                     driver_version=driver or base.nvidia.driver_version)
    return Node(host, replace(base, origin=Origin("file", host, f"{host}.json"), nvidia=nvidia))


def test_each_changed_gpu_is_named_and_nothing_else(tmp_path: Path) -> None:
    base = machine_facts("rtx-4090", tmp_path)
    nodes = [node(base, "gpu01"), *(node(base, host, **change) for host, change in CHANGES.items()),
             node(base, "gpu06", driver="535.54.03")]
    report = judge_fleet(nodes)
    assert {(o.host, o.check, o.subject): o.detail for o in report.oddities} == {
        ("gpu02", "throttling", "GPU 0"): "clocks held down at check time: hw_thermal_slowdown (HW Thermal Slowdown "
                                          "(reducing the core clocks by a factor of 2 or more) is engaged: temperature "
                                          "too high)",
        ("gpu03", "pcie", "GPU 0"): "PCIe link x8 of the GPU's x16: fewer lanes than it has",
        ("gpu04", "power-limit", "GPU 0"): "power limit 300 W, below the 450 W of its peers (the median of 6 "
                                           "NVIDIA GeForce RTX 4090)",
        ("gpu05", "max-clocks", "GPU 0"): "max SM clock 2520 MHz, below the 3120 MHz of its peers (the median of 6 "
                                          "NVIDIA GeForce RTX 4090)",
        ("gpu06", "driver", "node"): "driver 535.54.03, where 5 of 6 nodes with NVIDIA GeForce RTX 4090 have "
                                     "535.86.05",
    }


def test_the_capture_as_it_is_has_no_odd_one(tmp_path: Path) -> None:
    # gpu_idle is active and the link runs at gen 1 of 3: an idle GPU, not a slow one.
    base = machine_facts("rtx-4090", tmp_path)
    assert base.nvidia.gpus[0].throttle_reasons == ("gpu_idle",) and base.nvidia.gpus[0].pcie_gen == 1
    report = judge_fleet([node(base, f"gpu{i}") for i in range(1, 4)])
    assert report.oddities == () and len(report.groups) == 1
    assert report.groups[0].config["gpus"] == "1 x NVIDIA GeForce RTX 4090"


def test_a_link_below_its_peers_but_at_its_own_max(tmp_path: Path) -> None:
    # A GPU whose own max is x8 (a x8 slot) is at its max, but below its x16 peers.
    base = machine_facts("rtx-4090", tmp_path)
    nodes = [node(base, "gpu01"), node(base, "gpu02"), node(base, "gpu03", pcie_width=8, pcie_width_max=8)]
    (odd,) = judge_fleet(nodes).oddities
    assert (odd.host, odd.check, odd.detail) == ("gpu03", "pcie", "PCIe link width 8 lanes, below the 16 lanes of its "
                                                                  "peers (the median of 3 NVIDIA GeForce RTX 4090)")


def test_the_real_t4_capture_runs_at_x8_of_x16(tmp_path: Path) -> None:
    report = judge_fleet([node(machine_facts("t4", tmp_path), "t4")])
    assert [(o.check, o.detail) for o in report.oddities] == [
        ("pcie", "PCIe link x8 of the GPU's x16: fewer lanes than it has")]
    assert any(n.text.startswith("max SM clock: too few peers to judge (1 Tesla T4") for n in report.notes)


def test_clocks_and_lanes_nvidia_smi_did_not_show_are_unknown_not_outliers(tmp_path: Path) -> None:
    # The H200 capture is nvidia-smi's default table: no clocks, power limit, reasons or link widths.
    base = machine_facts("h200", tmp_path)
    nodes = [node(base, "h1"), node(base, "h2"), node(base, "h3", sm_clock_max_mhz=1980)]
    report = judge_fleet(nodes)
    assert report.oddities == ()
    assert any(n.host == "h1" and n.text == "power limit unknown: not in nvidia-smi's default table"
               for n in report.notes)
    assert any(n.text.startswith("max SM clock: too few peers to judge (1 NVIDIA H200") for n in report.notes)


def test_a_throttle_reason_expected_under_load_counts_only_at_check_time(tmp_path: Path) -> None:
    base = machine_facts("rtx-4090", tmp_path)
    (odd,) = judge_fleet([node(base, "p1", throttle_reasons=("sw_power_cap",))]).oddities
    assert odd.check == "throttling" and "sw_power_cap" in odd.detail


def test_while_benched_only_reasons_a_busy_gpu_does_not_normally_show_count() -> None:
    # A cell's window as the bench's sampler summarises it: NVML masks with SW power cap (0x4) and HW slowdown (0x8).
    window = summarize([Sample(1980, 0x4 | 0x8, ()), Sample(1410, 0x4, ())], own_pids=[])
    cell = CellResult("mlp", "eager", "cuda", "tiny", 64, gpu_windows=[window])
    results = BenchResults("w.json", {"gpus": ["NVIDIA GeForce RTX 4090"], "volatile": {"hostname": "w"}}, {},
                           (cell,))
    (odd,) = judge_fleet([Node("w", results=results)]).oddities
    assert (odd.check, odd.subject) == ("throttling", "mlp/eager/cuda")
    assert odd.detail.startswith("clocks held down while benched: hw_slowdown (") and "sw_power_cap" not in odd.detail


def test_the_reason_table_names_every_bit_as_the_probe_does() -> None:
    table = clock_event_reasons()
    assert {r.bit: r.name for r in table.values()} == THROTTLE_BITS
    assert {r.name for r in table.values() if not r.costs_speed} == {
        "gpu_idle", "applications_clocks_setting", "sync_boost", "display_clocks_setting"}
