"""`run_diagnosis`: findings and install advice for one set of facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from envdoctor.diagnose.advice import Advice, plan_install
from envdoctor.diagnose.findings import Finding, Severity
from envdoctor.diagnose.machine import GpuRow
from envdoctor.diagnose.rules import context, findings, unchecked
from envdoctor.facts import Facts
from envdoctor.knowledge import Knowledge


@dataclass(frozen=True)
class Diagnosis:
    findings: tuple[Finding, ...]  # worst first
    advice: tuple[tuple[str, Advice], ...]  # (what was asked, the answer)
    valid_as_of: str
    not_checked: tuple[str, ...] = ()  # what could not be judged for want of a fact
    gpus: tuple[GpuRow, ...] = ()  # each NVIDIA GPU's compute capability as the diagnosis resolved it, with source

    def worst(self) -> Optional[Severity]:
        return self.findings[0].severity if self.findings else None


def run_diagnosis(facts: Facts, kb: Knowledge, torch: Optional[str] = None) -> Diagnosis:
    """Judge the facts; advise on the newest torch for the machine (or `torch`, a release asked for) and on the
    installed torch in the variant that fits."""
    ctx = context(facts, kb)
    advice: list[tuple[str, Advice]] = []
    if torch is not None:
        advice.append((f"torch {torch}, as asked", plan_install(ctx.machine, kb, torch)))
    else:
        advice.append(("The newest torch for this machine", plan_install(ctx.machine, kb)))
    if ctx.build is not None and ctx.build.release is not None:
        installed = ctx.build.patch
        advice.append((f"The installed torch {installed}, in the variant that fits",
                       plan_install(ctx.machine, kb, installed)))
    return Diagnosis(findings(ctx), tuple(advice), kb.valid_as_of, unchecked(ctx), ctx.gpus)
