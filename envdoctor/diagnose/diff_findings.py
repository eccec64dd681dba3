"""Two machines' diagnoses compared by finding id: a finding on one side only is a difference ranked by its
severity, unless the other side could not run that check (then it is not comparable)."""

from __future__ import annotations

import re
from typing import Optional

from envdoctor.diagnose.differences import Collector, Group, Known, Rank
from envdoctor.diagnose.findings import Finding, Severity
from envdoctor.diagnose.rules import Context, findings, unchecked

SEVERITY_RANK = {Severity.ERROR: Rank.BREAKS, Severity.WARNING: Rank.MEDIUM, Severity.INFO: Rank.LOW}

# Where each finding is shown (docs/findings.md is the catalogue); an id not listed goes to Group.FINDINGS.
FINDING_GROUPS = {
    "driver-missing": Group.DRIVER, "driver-too-old": Group.DRIVER, "gpu-arch-unsupported": Group.DRIVER,
    "cuda-unavailable": Group.DRIVER,
    "torch-missing": Group.TORCH, "torch-import-failed": Group.TORCH, "cpu-wheel-on-gpu-host": Group.TORCH,
    "cuda-wheel-without-gpu": Group.TORCH, "companion-mismatch": Group.TORCH, "toolkit-mismatch": Group.TORCH,
    "duplicate-install": Group.TORCH, "pynvml-conflict": Group.TORCH, "deep-check-failed": Group.TORCH,
    "library-shadowing": Group.LIBRARIES,
    "python-unsupported": Group.PLATFORM, "os-unsupported": Group.PLATFORM, "rosetta": Group.PLATFORM,
    "shm-too-small": Group.PLATFORM,
}


def _worst_by_id(found: tuple[Finding, ...]) -> dict[str, Finding]:
    """Each id's worst finding (the diagnosis lists the worst first)."""
    worst: dict[str, Finding] = {}
    for finding in found:
        worst.setdefault(finding.id, finding)
    return worst


def not_checked_reason(finding_id: str, ctx: Context) -> Optional[str]:
    """Why a side's diagnosis could not run the check that gives `finding_id`; None when it could."""
    if finding_id == "deep-check-failed" and ctx.facts.deep is None:
        return "check --deep was not run"
    pattern = re.compile(rf"(?<![\w-]){re.escape(finding_id)}(?![\w-])")
    return next((note for note in unchecked(ctx) if pattern.search(note.split(": ", 1)[0])), None)


def compare_findings(c: Collector, a: Context, b: Context) -> None:
    found = (_worst_by_id(findings(a)), _worst_by_id(findings(b)))
    for finding_id in dict.fromkeys([*found[0], *found[1]]):
        fa, fb = found[0].get(finding_id), found[1].get(finding_id)
        if fa is not None and fb is not None and fa.severity == fb.severity:
            continue
        group, fact = FINDING_GROUPS.get(finding_id, Group.FINDINGS), f"finding {finding_id}"
        shown = [Known(f.severity.label if f else None) for f in (fa, fb)]
        if fa is None or fb is None:
            known_on, absent_ctx = ("B", a) if fa is None else ("A", b)
            reason = not_checked_reason(finding_id, absent_ctx)
            if reason is not None:
                c.unknown(group, fact, shown[known_on == "B"], known_on, reason)
                continue
        worst = max((f for f in (fa, fb) if f is not None), key=lambda f: f.severity)
        sides = "A" if fb is None else "B" if fa is None else "both"
        c.fact(group, fact, shown[0], shown[1], SEVERITY_RANK[worst.severity],
               f"{'on ' + sides + ' only' if sides != 'both' else 'worse on one side'}: {worst.title}")
