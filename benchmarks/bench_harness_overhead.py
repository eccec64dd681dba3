"""Harness overhead: envdoctor's `mlp` eager cell against a bare loop running the very same training step.

Usage: python benchmarks/bench_harness_overhead.py [--rounds 5] [--seconds 3] [--workload mlp]
Both sides build the workload and its step from envdoctor.bench.workloads (same model, batch, AdamW, data, seed)
on the CPU, each in a fresh process, alternating (each side first every other round), and both report samples /
window wall time: the bare loop reads the clock twice around its window, envdoctor's cell times every step inside
its window (envdoctor.bench.timer). Target (issue 10): envdoctor >= 0.97x the bare loop.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from envdoctor.bench.config import BenchConfig
from envdoctor.bench.plan import plan_cells
from envdoctor.bench.runner import cell_spec, run_child

BARE_LOOP = """
import sys, time, torch
from envdoctor.bench.workloads import build, optimizer, training_step
workload, batch, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
from envdoctor.bench.config import PRESET_SIZES
device = torch.device("cpu")
torch.manual_seed(0)
work = build(workload, {**PRESET_SIZES[workload]["tiny"], "batch": batch}, device, torch.Generator().manual_seed(0))
step = training_step(work.model, work, optimizer(work.model, device), device)
for _ in range(4):
    step()
steps, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    step()
    steps += 1
print(work.samples_per_step * steps / (time.perf_counter() - start))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workload", default="mlp")
    args = parser.parse_args()
    from envdoctor.bench.devices import bench_devices
    from envdoctor.check import CheckOptions, run_check
    from envdoctor.knowledge import knowledge

    config = BenchConfig(workloads=(args.workload,), devices=("cpu",), min_time_s=args.seconds)
    cpu = [d for d in bench_devices(run_check(CheckOptions()), knowledge()) if d.kind == "cpu"]
    (plan,) = plan_cells(config, cpu)
    bare: list[float] = []
    harness: list[float] = []

    def run_bare() -> None:
        out = subprocess.run([sys.executable, "-c", BARE_LOOP, args.workload, str(plan.batch), str(args.seconds)],
                             capture_output=True, text=True, check=True).stdout
        bare.append(float(out.strip().splitlines()[-1]))

    def run_harness() -> None:
        cell = run_child(cell_spec(plan, config), timeout_s=300)
        harness.append(cell["samples_per_step"] * len(cell["step_times_s"]) / cell["window_s"])

    for round_number in range(args.rounds):  # each side goes first every other round
        for run in (run_bare, run_harness) if round_number % 2 == 0 else (run_harness, run_bare):
            run()
    print(f"bare loop  samples / window   median of rounds {statistics.median(bare):10.1f}  "
          f"{[round(v) for v in bare]}")
    print(f"envdoctor  samples / window   median of rounds {statistics.median(harness):10.1f}  "
          f"{[round(v) for v in harness]}")
    ratios = [h / b for h, b in zip(harness, bare)]
    print(f"envdoctor/bare: {statistics.median(harness) / statistics.median(bare):.3f} (medians), per round "
          f"{[round(r, 3) for r in ratios]} (target >= 0.97)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
