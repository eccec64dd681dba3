"""Facts about the installed PyTorch family, read from package metadata without importing torch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Distribution:
    """One installed distribution (a `*.dist-info` directory)."""

    name: str  # normalised: "torch", "nvidia-cudnn-cu12"
    version: str  # as installed, with any local tag: "2.4.1+cu121"
    local: Optional[str]  # the local version tag: "cu121", "cpu", "rocm6.1"; None when untagged
    location: str  # the directory that holds the dist-info


@dataclass(frozen=True)
class ModuleConflict:
    """More than one installed distribution provides the same importable module."""

    module: str
    distributions: tuple[str, ...]  # "name version" of each provider


@dataclass(frozen=True)
class CondaPackage:
    """A package recorded in a conda environment's `conda-meta`."""

    name: str
    version: str
    build: str
    channel: Optional[str]


@dataclass(frozen=True)
class PackageFacts:
    distributions: tuple[Distribution, ...]  # the torch family, triton, nvidia-* wheels, pynvml providers
    conflicts: tuple[ModuleConflict, ...]
    conda_prefix: Optional[str]
    conda_packages: tuple[CondaPackage, ...]  # torch-related packages of that conda environment
    torch_origin: Optional[str]  # where `import torch` would load from, found without importing it
    unknown: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> tuple[Distribution, ...]:
        """Every installed distribution called `name` (more than one when copies are stacked on sys.path)."""
        return tuple(d for d in self.distributions if d.name == name)
