"""DDP cells and the all-reduce sweep, launched through torchrun (torch.distributed.run), never a launcher of
envdoctor's own. Every process a launch started is ended when it fails or runs out of time."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Optional

from envdoctor.bench.ddp_worker import MARKER, STARTED
from envdoctor.children import last_line, marked_json, run_isolated, signal_name

GPU_SWEEP_BYTES = [8 * 4**k for k in range(13)] + [256 * 1024**2]  # 8 B to 256 MB
CPU_SWEEP_BYTES = [8 * 4**k for k in range(11)] + [16 * 1024**2]  # 8 B to 16 MB


@dataclass(frozen=True)
class Launch:
    """How torchrun starts the ranks: one node (`--standalone`) or a rendezvous across nodes."""

    nproc: int
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: Optional[str] = None
    visible_devices: Optional[str] = None  # CUDA_VISIBLE_DEVICES for the ranks: rank i trains on the i-th entry

    def argv(self, spec: dict[str, Any]) -> list[str]:
        argv = [sys.executable, "-m", "torch.distributed.run"]
        if self.nnodes == 1 and self.rdzv_endpoint is None:
            argv.append("--standalone")
        else:
            argv += ["--nnodes", str(self.nnodes), "--node-rank", str(self.node_rank), "--rdzv-backend", "c10d",
                     "--rdzv-endpoint", str(self.rdzv_endpoint)]
        return [*argv, "--nproc-per-node", str(self.nproc), "-m", "envdoctor.bench.ddp_worker", json.dumps(spec)]


def _failure(returncode: Optional[int], stderr: str) -> dict[str, Any]:
    """A status and a one-line reason from torchrun's report of a failed launch: its "Root Cause" section names
    the rank that failed first (the others are listed as ended by torchrun's SIGTERM)."""
    stderr = stderr.split("Root Cause", 1)[1] if "Root Cause" in stderr else stderr
    signal_match = re.search(r"Signal (\d+) \((SIG\w+)\)|exitcode\s*:\s*-(\d+)", stderr)
    rank_match = re.search(r"rank\s*:\s*(\d+)", stderr)
    rank = f"rank {rank_match.group(1)}" if rank_match else "a rank"
    if signal_match:
        name = signal_match.group(2) or signal_name(-int(signal_match.group(3)))
        return {"status": "crashed", "reason": f"{rank} was killed by {name}"}
    if re.search(r"[Rr]endezvous\w*(Error|Timeout|Closed)|rendezvous", stderr):
        lines = [line for line in stderr.splitlines() if "endezvous" in line]
        return {"status": "error", "reason": f"rendezvous failed: {lines[-1].strip()[:300] if lines else ''}"}
    exit_match = re.search(r"exitcode\s*:\s*(\d+)", stderr)
    if exit_match:
        return {"status": "error", "reason": f"{rank} exited with status {exit_match.group(1)}"}
    return {"status": "error", "reason": f"torchrun exited with status {returncode}: {last_line(stderr)[:300]}"}


def run_torchrun(spec: dict[str, Any], launch: Launch, timeout_s: float) -> dict[str, Any]:
    env = {"CUDA_VISIBLE_DEVICES": launch.visible_devices} if launch.visible_devices else None
    run = run_isolated(launch.argv(spec), timeout_s, env)
    if run.timed_out:
        started = sorted({int(m) for m in re.findall(re.escape(STARTED) + r"(\d+)", run.stderr)})
        if not started:
            return {"status": "timeout", "reason": f"no rank started within {timeout_s:g} s: the rendezvous never "
                                                   "completed (are the other nodes up, and is the endpoint right?)"}
        return {"status": "timeout", "reason": f"the ranks did not finish within {timeout_s:g} s (ranks "
                                               f"{', '.join(map(str, started))} started): a hung rank?"}
    try:
        result: Optional[dict[str, Any]] = marked_json(run.stdout, MARKER)
    except ValueError as exc:
        return {"status": "error", "reason": str(exc)}
    if isinstance(result, dict):
        return result
    if launch.node_rank > 0 and run.returncode == 0:
        return {"status": "ok", "reason": "results are reported on node 0", "ranks": []}
    return _failure(run.returncode, run.stderr)
