"""What comparing two machines produces: differences, each with a group, a rank and why it matters, and the facts
that cannot be compared because one side does not know them. `machine_diff` fills them in."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Optional

from envdoctor.knowledge import version_or_none


class Rank(IntEnum):
    """How likely a difference is to be why training works on one side and fails on the other, lowest first."""

    NOISE = 0  # differs between any two machines and never explains a failure: the hostname
    LOW = 1  # rarely changes training: a patch release, a cuDNN minor, the OS release, the kernel, a path
    MEDIUM = 2  # can change speed, memory or numerics, or what a multi-node job must match: a Python or NCCL minor,
    #             another GPU count, a warning finding on one side only
    HIGH = 3  # likely changes what runs: another torch release or CUDA build, another GPU architecture, a system
    #           library loaded in place of the wheel's, a foot-gun variable (CUDA_VISIBLE_DEVICES, LD_PRELOAD, ...)
    BREAKS = 4  # the knowledge base says one side's setup cannot run on the other's: a driver below a wheel's floor,
    #             a GPU a wheel has no code for, a Python or glibc a wheel does not support, an error on one side only

    @property
    def label(self) -> str:
        return self.name.lower()


MATTERS = Rank.MEDIUM  # from this rank up a difference matters: `envdoctor diff` exits 1


class Group(Enum):
    """Where a difference is shown, in this order."""

    DRIVER = "driver and GPUs"
    TORCH = "torch and companions"
    LIBRARIES = "loaded CUDA libraries"
    PLATFORM = "Python and OS"
    ENVIRONMENT = "environment variables"
    FINDINGS = "other findings"  # a finding whose id the table in machine_diff does not place


GROUP_ORDER = {group: i for i, group in enumerate(Group)}


@dataclass(frozen=True)
class Difference:
    """A fact both sides know, with different values (None: known to be absent, "not set", "none")."""

    group: Group
    fact: str  # "driver", "torch", "libcudnn", "CUDA_VISIBLE_DEVICES", "finding driver-too-old"
    a: Optional[str]
    b: Optional[str]
    rank: Rank
    why: str  # one line: why it matters, from the knowledge base


@dataclass(frozen=True)
class NotComparable:
    """A fact one side knows and the other does not: never a difference, whatever the known value."""

    group: Group
    fact: str
    known_on: str  # "A" or "B"
    value: Optional[str]  # the known side's value (None: absent)
    unknown_on: str
    reason: str  # why the other side does not know it


@dataclass(frozen=True)
class MachineDiff:
    a: str  # where each side came from: a path, or "standard input"
    b: str
    differences: tuple[Difference, ...]  # in group order, the most likely to break first within a group
    not_comparable: tuple[NotComparable, ...]
    valid_as_of: str  # the knowledge base's date

    def worst(self) -> Optional[Rank]:
        return max((d.rank for d in self.differences), default=None)

    @property
    def matters(self) -> bool:
        """Whether anything that differs is likely to change training (rank MATTERS or above)."""
        worst = self.worst()
        return worst is not None and worst >= MATTERS


Steps = tuple[Rank, Rank, Rank, Rank]  # a rank by where two versions first differ (see version_step)


def version_step(a: Optional[str], b: Optional[str]) -> int:
    """Where two versions first differ: 0 major, 1 minor, 2 patch or later, 3 only past the release numbers (a local
    tag, a pre-release); 0 when either is not a version."""
    va, vb = (version_or_none((v or "").split("+")[0]) for v in (a, b))
    if va is None or vb is None:
        return 0
    for i, (x, y) in enumerate(zip((*va.release, 0, 0, 0), (*vb.release, 0, 0, 0))):
        if x != y:
            return min(i, 2)
    return 3


@dataclass(frozen=True)
class Known:
    """One side's value of a fact: its text (None when known to be absent), or why it is not known."""

    text: Optional[str]
    unknown: Optional[str] = None


@dataclass
class Collector:
    """Differences and unknowns as the comparers find them; `notes` gives each fact's default why."""

    notes: dict[str, str]
    differences: list[Difference] = field(default_factory=list)
    not_comparable: list[NotComparable] = field(default_factory=list)

    def fact(self, group: Group, name: str, a: Known, b: Known, rank: Rank, why: Optional[str] = None) -> None:
        """Compare one fact: a difference with `rank` and `why` (by default the fact's note) when both sides know it
        and the values differ; not comparable when one side knows it (a hostname aside)."""
        if a.unknown is not None and b.unknown is not None:
            return
        if a.unknown is not None or b.unknown is not None:
            if rank != Rank.NOISE:  # a hostname one side lacks says nothing
                known, known_on = (b, "B") if a.unknown is not None else (a, "A")
                self.unknown(group, name, known, known_on, a.unknown or b.unknown or "not known")
            return
        if a.text == b.text:
            return
        self.differences.append(Difference(group, name, a.text, b.text, rank, why or self.notes[name]))

    def unknown(self, group: Group, name: str, known: Known, known_on: str, reason: str) -> None:
        """A fact `known_on` one side and not the other, for `reason`."""
        self.not_comparable.append(NotComparable(group, name, known_on, known.text, "B" if known_on == "A" else "A",
                                                 reason))

    def result(self, a: str, b: str, valid_as_of: str) -> MachineDiff:
        differences = sorted(self.differences, key=lambda d: (GROUP_ORDER[d.group], -d.rank))
        not_comparable = sorted(self.not_comparable, key=lambda n: GROUP_ORDER[n.group])
        return MachineDiff(a, b, tuple(differences), tuple(not_comparable), valid_as_of)
