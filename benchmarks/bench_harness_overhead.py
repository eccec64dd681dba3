"""Harness overhead: envdoctor's `mlp` eager cell against a bare hand-written training loop, side by side.

Usage: python benchmarks/bench_harness_overhead.py [--rounds 5] [--seconds 3]
Both run the same model (784-512-256-10 MLP), batch (the tiny preset's 64), optimizer (AdamW) and synthetic data
on the CPU, each in a fresh process, alternating round by round. The bare loop times its whole window with one
pair of clock reads; envdoctor times every step. Both envdoctor's figure (batch / median step) and the like-for-like
one (samples / total timed time) are printed. Target (issue 5): envdoctor's samples/s >= 0.97x the bare loop's.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from envdoctor.bench.config import PRESET_SIZES, BenchConfig, Mode
from envdoctor.bench.runner import CellPlan, cell_spec, run_child

BARE_LOOP = """
import sys, time, torch
import torch.nn.functional as F
from torch import nn
batch, seconds = int(sys.argv[1]), float(sys.argv[2])
g = torch.Generator().manual_seed(0)
torch.manual_seed(0)
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
x, y = torch.randn(batch, 1, 28, 28, generator=g), torch.randint(0, 10, (batch,), generator=g)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
def step():
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
for _ in range(4):
    step()
steps, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    step()
    steps += 1
print(batch * steps / (time.perf_counter() - start))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    batch = PRESET_SIZES["mlp"]["tiny"]["batch"]
    spec = cell_spec(CellPlan("mlp", Mode(False, False), "cpu", "tiny"), BenchConfig(min_time_s=args.seconds), batch)
    bare, harness, harness_mean = [], [], []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, "-c", BARE_LOOP, str(batch), str(args.seconds)], capture_output=True,
                             text=True, check=True).stdout
        bare.append(float(out.strip().splitlines()[-1]))
        cell = run_child(spec, timeout_s=300)
        times = cell["step_times_s"]
        harness.append(batch / statistics.median(times))
        harness_mean.append(batch * len(times) / sum(times))  # the bare loop's statistic: samples / total time
    print(f"bare loop (samples / total time)  median of rounds {statistics.median(bare):10.1f}  "
          f"{[round(v) for v in bare]}")
    print(f"envdoctor (batch / median step)   median of rounds {statistics.median(harness):10.1f}  "
          f"{[round(v) for v in harness]}")
    print(f"envdoctor (samples / total time)  median of rounds {statistics.median(harness_mean):10.1f}  "
          f"{[round(v) for v in harness_mean]}")
    print(f"ratio envdoctor/bare: {statistics.median(harness) / statistics.median(bare):.3f} as reported, "
          f"{statistics.median(harness_mean) / statistics.median(bare):.3f} like for like (target >= 0.97)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
