"""What a diagnosis produces: findings with a stable id, a severity, the evidence and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Optional


class Severity(IntEnum):
    INFO = 0  # worth knowing
    WARNING = 1  # works, but badly or riskily
    ERROR = 2  # torch cannot use the hardware, or will not import

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    id: str  # stable: "driver-too-old"; the catalogue is docs/findings.md
    severity: Severity
    title: str  # one line
    evidence: tuple[tuple[str, str], ...]  # (fact, value) pairs the finding rests on
    fix: Optional[str] = None  # what to do, in words
    command: Optional[str] = None  # the exact command, where there is one


def worst_first(findings: list[Finding]) -> tuple[Finding, ...]:
    """Errors first, then warnings, then information; stable within a severity."""
    return tuple(sorted(findings, key=lambda f: -f.severity))
