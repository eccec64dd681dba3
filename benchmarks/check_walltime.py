"""Wall time of `envdoctor check` against `python -m torch.utils.collect_env`, run alternately.

Usage: python benchmarks/check_walltime.py [--runs N]
Each round runs every command once, in turn, so that drift in the machine's speed hits all of them alike.
Targets (issue 2): `check` takes no longer than collect_env; `check --no-import` answers in under 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "envdoctor check": [sys.executable, "-m", "envdoctor", "check"],
    "envdoctor check --no-import": [sys.executable, "-m", "envdoctor", "check", "--no-import"],
    "envdoctor check --json": [sys.executable, "-m", "envdoctor", "check", "--json"],
    "python -m torch.utils.collect_env": [sys.executable, "-m", "torch.utils.collect_env"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    print(f"{'command':<36} {'median':>8} {'min':>8} {'max':>8}   ({args.runs} alternating runs)")
    for name, samples in times.items():
        print(f"{name:<36} {statistics.median(samples):>7.3f}s {min(samples):>7.3f}s {max(samples):>7.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
