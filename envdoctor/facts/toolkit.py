"""Facts about a local CUDA toolkit and CUDA libraries outside torch's wheels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class LibraryDir:
    """A directory on the library search path that holds CUDA libraries the dynamic loader would prefer."""

    path: str
    libraries: tuple[str, ...]  # file names: "libcudnn.so.8", "libnvJitLink.so.12"


@dataclass(frozen=True)
class ToolkitInfo:
    nvcc_path: Optional[str]
    nvcc_version: Optional[str]  # "12.4.131"; the toolkit's CUDA release is its major.minor
    cuda_home: Optional[str]
    cuda_home_source: Optional[str]  # "CUDA_HOME", "CUDA_PATH", "nvcc", "/usr/local/cuda"
    library_path_var: str  # "LD_LIBRARY_PATH", or "PATH" on Windows
    library_dirs: tuple[LibraryDir, ...]
    unknown: Mapping[str, str] = field(default_factory=dict)
