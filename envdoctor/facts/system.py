"""Facts about the operating system, the Python interpreter, the CPU and memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class OsInfo:
    """The operating system and what it runs inside."""

    system: str  # platform.system(): "Linux", "Windows", "Darwin"
    arch: str  # platform.machine(): "x86_64", "aarch64", "arm64", "AMD64"
    name: Optional[str]  # "Ubuntu 22.04.4 LTS", "macOS 14.5", "Windows 10"
    distro_id: Optional[str]  # os-release ID ("ubuntu", "rhel"); "macos" or "windows" elsewhere
    version: Optional[str]  # os-release VERSION_ID, the macOS or Windows version
    kernel: Optional[str]
    glibc: Optional[str]  # "2.35"; None with a reason on musl, macOS, Windows
    wsl: Optional[int]  # 1 or 2 under Windows Subsystem for Linux, None otherwise
    container: Optional[str]  # "docker", "podman", "kubernetes", "containerd", "lxc"; None when none seen
    container_evidence: Optional[str]  # what showed the container: "/.dockerenv", "KUBERNETES_SERVICE_HOST"
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PythonInfo:
    """The interpreter envdoctor runs in: the environment `check` judges."""

    version: str  # "3.11.7"
    implementation: str  # "CPython", "PyPy"
    executable: str
    bits: int  # 64 or 32
    free_threaded: bool  # a 3.13t-style build without the GIL
    env_kind: str  # "venv", "conda", "system"
    env_path: Optional[str]  # sys.prefix of a venv or conda environment
    pip_version: Optional[str]
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CpuInfo:
    """The processor, and the instruction-set features PyTorch's CPU kernels dispatch on."""

    model: Optional[str]
    cores: Optional[int]  # physical
    threads: Optional[int]  # logical
    usable_threads: Optional[int]  # the CPUs this process may run on (affinity, cpuset)
    isa: Optional[tuple[str, ...]]  # present features among ISA_FEATURES, e.g. ("avx2", "avx512f")
    source: Optional[str]  # "lscpu", "/proc/cpuinfo", "sysctl", "platform"
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MemoryInfo:
    """RAM and the shared-memory file system DataLoader workers and NCCL use."""

    total_bytes: Optional[int]
    available_bytes: Optional[int]
    shm_total_bytes: Optional[int]  # size of /dev/shm; None off Linux
    shm_free_bytes: Optional[int]
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SystemFacts:
    os: OsInfo
    python: PythonInfo
    cpu: CpuInfo
    memory: MemoryInfo
    # The set variables envdoctor/knowledge/environment.py watches, by name; a credential's value masked.
    environment: Mapping[str, str] = field(default_factory=dict)
    # "environment": why the variables were not read. Then a name missing from `environment` is unknown, not unset
    # (a collect_env report gives CUDA_MODULE_LOADING alone).
    unknown: Mapping[str, str] = field(default_factory=dict)
