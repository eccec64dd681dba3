"""The whole set of facts one `check` gathers, and where they came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from envdoctor.facts.accelerators import AcceleratorFacts
from envdoctor.facts.deep import DeepResult
from envdoctor.facts.nvidia import NvidiaInfo
from envdoctor.facts.packages import PackageFacts
from envdoctor.facts.system import SystemFacts
from envdoctor.facts.toolkit import ToolkitInfo
from envdoctor.facts.torch import TorchRuntime

# The JSON form of these facts, `envdoctor check --json`: written by render/json_doc, read by importers/check_json.
CHECK_SCHEMA = "envdoctor.check"
CHECK_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Origin:
    """Where the facts came from: a probe of this machine, or a file describing another."""

    kind: str  # "probe" or "file"
    hostname: Optional[str]
    path: Optional[str] = None  # the file, when kind is "file"
    interpreter: Optional[str] = None  # the interpreter `check --python` judged: install commands run its pip


@dataclass(frozen=True)
class Facts:
    origin: Origin
    collected_at: str  # ISO 8601, UTC
    system: SystemFacts
    nvidia: NvidiaInfo
    accelerators: AcceleratorFacts
    packages: PackageFacts
    torch: TorchRuntime
    toolkit: ToolkitInfo
    probe_seconds: Mapping[str, float] = field(default_factory=dict)  # wall time of each probe
    deep: Optional[tuple[DeepResult, ...]] = None  # `check --deep` results; None when not run
