"""Facts about torch as it behaves when imported, gathered in a child process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional


def cudnn_release(number: int) -> str:
    """torch's cuDNN integer as a version: 90100 is 9.1.0 (cuDNN 9: major*10000), 8902 is 8.9.2 (cuDNN 8: *1000)."""
    major, rest = (number // 10000, number % 10000) if number >= 10000 else (number // 1000, number % 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


@dataclass(frozen=True)
class TorchDevice:
    index: int
    name: str
    capability: tuple[int, int]
    total_memory_bytes: int
    uuid: Optional[str] = None  # CUDA's device UUID, without NVML's "GPU-"/"MIG-" prefix; a MIG slice has its own
    pci_bus_id: Optional[str] = None  # "00000000:07:00.0", NVML's spelling; a MIG slice shares its GPU's


@dataclass(frozen=True)
class LoadedLibrary:
    """A CUDA or torch library mapped into the torch child's process: the one that really runs, wherever the
    loader found it."""

    name: str  # the family, "libcudnn", "libcudnn_graph", "libcublasLt", "libnccl", "libtorch_cuda"
    path: str  # as mapped: the file itself, symlinks resolved by the loader
    version: Optional[str]  # "9.10.2", or "12" when only the SONAME's major is known
    version_source: Optional[str]  # "file name", "SONAME", or the owning wheel, "wheel nvidia-cudnn-cu12"
    origin: str  # "torch-wheel" (inside torch or its nvidia-* wheels), "wheel" (another package's), "conda", "system"
    stage: str  # "import" (mapped once torch was imported) or "cuda-init" (only after CUDA ran, --deep)
    # For one loaded from elsewhere: the copy of the same library in torch's nvidia-* wheels, and that wheel
    wheel_copy: Optional[str] = None
    wheel_copy_owner: Optional[str] = None  # "nvidia-cudnn-cu13 9.24.0.43"


@dataclass(frozen=True)
class TorchRuntime:
    """torch at run time. On any status but "ok" only `status`, `error` and the timings are filled in."""

    status: str  # ok, not_installed, import_failed, crashed, timeout, skipped
    version: Optional[str] = None  # torch.__version__
    cuda: Optional[str] = None  # torch.version.cuda: the CUDA torch was built with
    hip: Optional[str] = None  # torch.version.hip
    cudnn: Optional[int] = None  # torch.backends.cudnn.version(), e.g. 90100
    nccl: Optional[str] = None  # "2.21.5"
    cuda_available: Optional[bool] = None
    device_count: Optional[int] = None
    arch_list: Optional[tuple[str, ...]] = None  # the wheel's compiled architectures: "sm_80", "compute_90"
    devices: tuple[TorchDevice, ...] = ()
    mps_available: Optional[bool] = None
    origin: Optional[str] = None  # torch.__file__
    import_seconds: Optional[float] = None
    warnings: tuple[str, ...] = ()  # warnings torch raised while importing and initialising CUDA
    companions: Mapping[str, str] = field(default_factory=dict)  # torchvision/torchaudio → version imported
    companion_errors: Mapping[str, str] = field(default_factory=dict)  # torchvision/torchaudio → import error
    error: Optional[str] = None  # the child's error text: a traceback, or why it produced nothing
    exit_signal: Optional[str] = None  # "SIGSEGV" when the child was killed by a signal
    # The CUDA and torch libraries in the child's address space; None with unknown["loaded_libraries"] saying why
    loaded_libraries: Optional[tuple[LoadedLibrary, ...]] = None
    unknown: Mapping[str, str] = field(default_factory=dict)
