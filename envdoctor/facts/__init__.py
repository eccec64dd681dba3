"""Facts: what the probes found, as frozen dataclasses. Nothing here does I/O.

Convention for unknowns: a value that could not be found is `None`, and the dataclass's `unknown` mapping
holds the reason under the field's name. A `None` with no reason means "not present" (no GPU, not WSL).
"""

from __future__ import annotations

import dataclasses

from envdoctor.facts.accelerators import AcceleratorFacts, AppleInfo, IntelGpuInfo, PciGpu, RocmInfo
from envdoctor.facts.deep import DeepResult
from envdoctor.facts.nvidia import GpuInfo, NvidiaInfo
from envdoctor.facts.packages import CondaPackage, Distribution, ModuleConflict, PackageFacts
from envdoctor.facts.report import Facts, Origin
from envdoctor.facts.system import CpuInfo, MemoryInfo, OsInfo, PythonInfo, SystemFacts
from envdoctor.facts.toolkit import LibraryDir, ToolkitInfo
from envdoctor.facts.torch import LoadedLibrary, TorchDevice, TorchRuntime

__all__ = [
    "AcceleratorFacts",
    "AppleInfo",
    "CondaPackage",
    "CpuInfo",
    "DeepResult",
    "Distribution",
    "Facts",
    "GpuInfo",
    "IntelGpuInfo",
    "LibraryDir",
    "LoadedLibrary",
    "MemoryInfo",
    "ModuleConflict",
    "NvidiaInfo",
    "Origin",
    "OsInfo",
    "PackageFacts",
    "PciGpu",
    "PythonInfo",
    "RocmInfo",
    "SystemFacts",
    "ToolkitInfo",
    "TorchDevice",
    "TorchRuntime",
    "none_fields",
]


def none_fields(facts: object) -> list[str]:
    """The names of a facts dataclass's fields whose value is None."""
    return [f.name for f in dataclasses.fields(facts) if getattr(facts, f.name) is None]  # type: ignore[arg-type]
