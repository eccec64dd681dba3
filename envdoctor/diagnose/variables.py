"""Rules over the environment variables torch heeds (envdoctor/knowledge/environment.py says why each matters).

A rule judges only a variable it knows: one missing from `system.environment` is unset for a probe, and unknown
where `system.unknown["environment"]` says why (a collect_env report); `unchecked` then lists the rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Optional

from envdoctor.diagnose.findings import Finding, Severity
from envdoctor.facts import GpuInfo

if TYPE_CHECKING:
    from envdoctor.diagnose.rules import Context

VISIBLE = "CUDA_VISIBLE_DEVICES"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
RULE_IDS = "gpus-hidden, cuda-launch-blocking, nccl-transport-disabled, thread-oversubscription"
# C's strtol(s, NULL, 0), which NCCL reads its integer variables with: leading space, a sign, then hexadecimal
# after 0x, octal after 0, decimal otherwise; parsing stops at the first other character ("1abc" is 1).
_STRTOL = re.compile(r"\s*([+-]?)(?:0[xX]([0-9a-fA-F]+)|([1-9][0-9]*)|(0[0-7]*))")


def strtol(text: str) -> int:
    """`text` as C's strtol with base 0 reads it: 0 where it starts with no number (as C gives)."""
    match = _STRTOL.match(text)
    if match is None:
        return 0
    sign, hexadecimal, decimal, octal = match.groups()
    number = int(hexadecimal, 16) if hexadecimal else int(decimal) if decimal else int(octal or "0", 8)
    return -number if sign == "-" else number


def launch_blocking(env: Mapping[str, str]) -> bool:
    """CUDA_LAUNCH_BLOCKING=1: CUDA's Programming Guide gives 0 or 1, and 1 "disables asynchronous kernel launches"."""
    return env.get("CUDA_LAUNCH_BLOCKING", "").strip() == "1"


def hides_every_gpu(value: str, gpus: Sequence[GpuInfo], count_known: bool) -> Optional[str]:
    """Why CUDA_VISIBLE_DEVICES=`value` leaves none of `gpus` (NVML's, in its order) visible; None when one stays
    visible or it cannot be told. CUDA's rule: an empty value shows no GPU; entries are indices or (prefixes of)
    UUIDs, or MIG-… names, and only those before the first invalid entry are visible. So the first entry decides."""
    first = value.split(",")[0].strip()
    if not value.strip():
        return "it is empty, and an empty CUDA_VISIBLE_DEVICES shows CUDA no GPU"
    if not first:
        return "its first entry is empty, and CUDA shows only the GPUs listed before the first invalid entry"
    before = f"its first entry, {first!r},"
    stops = "and CUDA shows only the GPUs listed before the first invalid entry"
    if re.fullmatch(r"[+-]?\d+", first):
        index = int(first)
        if index < 0:
            return f"{before} is a negative index, {stops}"
        if count_known and index >= len(gpus):
            return f"{before} is no GPU of this machine's {len(gpus)} (indices 0 to {len(gpus) - 1}), {stops}"
        return None
    if first.upper().startswith("GPU-"):
        uuids = [g.uuid for g in gpus]
        if not count_known or None in uuids:
            return None
        if not any((uuid or "").lower().startswith(first.lower()) for uuid in uuids):
            return f"{before} is the start of no GPU's UUID here, {stops}"
        return None
    if first.upper().startswith("MIG-"):
        return None  # MIG instances are not among the facts
    return f"{before} is neither a GPU index nor a UUID, {stops}"


def gpus_hidden(ctx: Context) -> list[Finding]:
    facts = ctx.facts
    value = facts.system.environment.get(VISIBLE)
    gpus = facts.nvidia.gpus
    if value is None or not gpus or (facts.torch.status == "ok" and facts.torch.device_count):
        return []  # unset, no NVIDIA GPU known, or torch saw a device
    why = hides_every_gpu(value, gpus, "gpus" not in facts.nvidia.unknown)
    if why is None:
        return []
    evidence = [(VISIBLE, repr(value)), ("why", why),
                ("GPUs", ", ".join(f"{g.index}: {g.name or 'unknown'}" for g in gpus))]
    if facts.torch.status == "ok" and facts.torch.device_count == 0:
        evidence.append(("torch", "torch.cuda.device_count() is 0"))
    return [Finding("gpus-hidden", Severity.ERROR, f"{VISIBLE} hides every GPU from torch", tuple(evidence),
                    f"Unset {VISIBLE}, or set it to the GPUs to use: indices from 0, or UUIDs as `nvidia-smi -L` "
                    "prints them. (If this job is meant to run on the CPU, that is what it does.)",
                    f"unset {VISIBLE}")]


def cuda_launch_blocking(ctx: Context) -> list[Finding]:
    env = ctx.facts.system.environment
    if not launch_blocking(env) or not ctx.machine.has_nvidia:
        return []
    return [Finding("cuda-launch-blocking", Severity.WARNING,
                    "CUDA_LAUNCH_BLOCKING=1 makes every CUDA kernel launch wait for the kernel to finish",
                    (("CUDA_LAUNCH_BLOCKING", env["CUDA_LAUNCH_BLOCKING"]),
                     ("effect", "the CPU no longer queues work ahead of the GPU: training runs slower"),
                     ("CUDA's Programming Guide", "for debugging purposes only")),
                    "Unset it outside a debugging session (it makes CUDA errors point at the kernel that failed).",
                    "unset CUDA_LAUNCH_BLOCKING")]


def nccl_transport_disabled(ctx: Context) -> list[Finding]:
    """NCCL_P2P_DISABLE counts only when strtol reads 1 (NCCL's ncclGetLevel, src/graph/paths.cc) and only beside
    another GPU; NCCL_IB_DISABLE when it reads non-zero (NCCL_PARAM IbDisable, src/transport/net_ib)."""
    env = ctx.facts.system.environment
    if not ctx.machine.has_nvidia:
        return []  # NCCL carries torch's collectives between NVIDIA GPUs only
    evidence: list[tuple[str, str]] = []
    severity = Severity.INFO
    p2p = env.get("NCCL_P2P_DISABLE")
    if p2p is not None and strtol(p2p) == 1 and len(ctx.facts.nvidia.gpus) > 1:
        severity = Severity.WARNING
        evidence.append(("NCCL_P2P_DISABLE", f"{p2p}: traffic between this machine's "
                                             f"{len(ctx.facts.nvidia.gpus)} GPUs goes through host memory instead "
                                             "of NVLink or PCIe peer-to-peer"))
    ib = env.get("NCCL_IB_DISABLE")
    if ib is not None and strtol(ib) != 0:
        evidence.append(("NCCL_IB_DISABLE", f"{ib}: traffic between machines goes over TCP sockets instead of "
                                           "InfiniBand or RoCE (this matters only across machines)"))
    if not evidence:
        return []
    one = len(evidence) == 1
    names = " and ".join(name for name, _ in evidence)
    return [Finding("nccl-transport-disabled", severity,
                    f"{names} turn{'s' if one else ''} off {'a fast NCCL transport' if one else 'fast NCCL transports'}"
                    ": collectives take a slower path", tuple(evidence),
                    f"Unset {names} unless {'it works' if one else 'they work'} around a broken transport (NCCL's "
                    "guide lists them for debugging, not production); NCCL_DEBUG=INFO shows the transports used.",
                    " && ".join(f"unset {name}" for name, _ in evidence))]


def _first_count(value: str) -> Optional[int]:
    """The thread count a variable asks for: OMP_NUM_THREADS may list one per nesting level ("8,2"), the first
    being the outermost's. None when it is not a positive integer."""
    head = value.split(",")[0].strip()
    return int(head) if head.isdigit() and int(head) > 0 else None


def usable_threads(ctx: Context) -> Optional[int]:
    cpu = ctx.facts.system.cpu
    return cpu.usable_threads if cpu.usable_threads is not None else cpu.threads


def thread_oversubscription(ctx: Context) -> list[Finding]:
    env, cpu = ctx.facts.system.environment, ctx.facts.system.cpu
    limit = usable_threads(ctx)
    findings = []
    for name in THREAD_VARIABLES:
        count = _first_count(env.get(name, ""))
        if count is None or limit is None or count <= limit:
            continue
        usable = (f"{limit} of the {cpu.threads} (an affinity mask or cpuset allows fewer)"
                  if cpu.usable_threads is not None and cpu.threads not in (None, limit) else str(limit))
        findings.append(Finding(
            "thread-oversubscription", Severity.WARNING,
            f"{name}={count} asks for more threads than the {limit} CPU threads this process may use",
            ((name, env[name]), ("usable CPU threads", usable),
             ("effect", "the threads take turns on the CPUs, and each parallel operation waits for the slowest")),
            f"Set {name} to at most {limit}, divided among the processes sharing the machine (torchrun sets "
            "OMP_NUM_THREADS=1 per process where it is unset).", f"export {name}={limit}"))
    return findings


RULES = (gpus_hidden, cuda_launch_blocking, nccl_transport_disabled, thread_oversubscription)


def unchecked(ctx: Context) -> list[str]:
    """What the variables' rules could not judge, and why."""
    system = ctx.facts.system
    why = system.unknown.get("environment")
    if why:
        return [f"{RULE_IDS}: the environment variables are not known ({why})"]
    if usable_threads(ctx) is None and any(_first_count(system.environment.get(n, "")) for n in THREAD_VARIABLES):
        why = system.cpu.unknown.get("threads") or system.cpu.unknown.get("cores") or "not read"
        return [f"thread-oversubscription: how many CPU threads this process may use is not known ({why})"]
    return []
