"""What `fleet` reads and what it concludes: nodes paired from their documents, and the report about them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from envdoctor.facts import Facts
from envdoctor.results.load import BenchResults

NONE = "none"  # a reading known to be absent: no driver, a CPU build of torch


@dataclass(frozen=True)
class Node:
    """One machine: its `check --json` facts and/or its bench results, paired by host name."""

    host: str
    facts: Optional[Facts] = None
    results: Optional[BenchResults] = None


@dataclass(frozen=True)
class Reading:
    """One configuration value of a node: known (NONE when known absent), or unknown with the reason."""

    value: Optional[str]
    unknown: Optional[str] = None
    source: Optional[str] = None  # "check" or "bench": the document it came from

    @property
    def text(self) -> str:
        return self.value if self.value is not None else "unknown"


@dataclass(frozen=True)
class NodeSummary:
    host: str
    check: Optional[str]  # the check document's path
    bench: Optional[str]  # the bench results' path
    config: Mapping[str, Reading]  # field → reading, for every name in config.FIELDS
    gpu_model: Optional[str]  # whom it is compared with: its GPU model(s), "no GPU"; None when unknown


@dataclass(frozen=True)
class ConfigGroup:
    """Nodes whose configuration reads the same, field by field (an unknown reads "unknown")."""

    config: Mapping[str, str]
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Oddity:
    """A node unlike its peers, or a GPU that runs below what it could."""

    host: str
    check: str  # "driver", "torch", "cuda", "cudnn", "nccl", "throttling", "max-clocks", "power-limit", "pcie",
    #             "throughput", "bench-status"
    subject: str  # "node", "GPU 0", or a bench cell "mlp/eager/cuda"
    detail: str


@dataclass(frozen=True)
class Note:
    """What could not be judged, and why: never a verdict."""

    host: Optional[str]  # None: about the fleet
    subject: str
    text: str


@dataclass(frozen=True)
class NodeScore:
    host: str
    samples_per_s: float
    z: Optional[float]  # the modified z-score; None when the cell's peers could not be judged


@dataclass(frozen=True)
class CellSpread:
    """One bench cell across the nodes that ran it on the same device model, batch, dtype and preset."""

    key: str  # "mlp/eager/cpu"
    device: str  # the device model: "NVIDIA H200", "AMD EPYC (2 threads)"
    dtype: Optional[str]
    batch_size: int
    preset: str
    median: float
    mad: float
    scores: tuple[NodeScore, ...]
    not_judged: Optional[str]  # why no node was judged (too few peers, MAD 0); None when they were


@dataclass(frozen=True)
class Skipped:
    """A file that gave no node: unreadable, not an envdoctor document, or a second document for one host."""

    path: str
    reason: str


@dataclass(frozen=True)
class FleetReport:
    nodes: tuple[NodeSummary, ...]
    groups: tuple[ConfigGroup, ...]  # largest first
    oddities: tuple[Oddity, ...]
    cells: tuple[CellSpread, ...]
    notes: tuple[Note, ...]
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)

    @property
    def odd_hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o.host for o in self.oddities))

    @property
    def clean(self) -> bool:
        """No odd one out and every file read: what exit code 0 means."""
        return not self.oddities and not self.skipped
