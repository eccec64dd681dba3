"""The toolkit probe: nvcc, CUDA_HOME as torch's extension builder finds it, and shadowing libraries."""

from __future__ import annotations

from pathlib import Path

from envdoctor.probe.toolkit import parse_nvcc_version, probe_toolkit
from tests.helpers import make_host

# `nvcc --version` of CUDA 12.4 Update 1, as printed in many public bug reports.
NVCC_12_4 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0
"""


def test_parse_nvcc_version() -> None:
    assert parse_nvcc_version(NVCC_12_4) == "12.4.131"
    assert parse_nvcc_version("nvcc: command not found") is None


def test_nvcc_on_path_and_cuda_home_from_it(fake_root: Path) -> None:
    host = make_host(fake_root, env={"PATH": "/usr/local/cuda-12.4/bin"},
                     executables=["/usr/local/cuda-12.4/bin/nvcc"], answers={("nvcc", "--version"): NVCC_12_4})
    info = probe_toolkit(host)
    assert (info.nvcc_path, info.nvcc_version) == ("/usr/local/cuda-12.4/bin/nvcc", "12.4.131")
    assert (info.cuda_home, info.cuda_home_source) == ("/usr/local/cuda-12.4", "nvcc")


def test_cuda_home_variable_wins(fake_root: Path) -> None:
    host = make_host(fake_root, env={"PATH": "/usr/bin", "CUDA_HOME": "/opt/cuda"},
                     executables=["/opt/cuda/bin/nvcc"], answers={("nvcc", "--version"): NVCC_12_4})
    info = probe_toolkit(host)
    assert info.nvcc_path == "/opt/cuda/bin/nvcc"  # found through $CUDA_HOME/bin, though not on PATH
    assert (info.cuda_home, info.cuda_home_source) == ("/opt/cuda", "CUDA_HOME")


def test_no_toolkit(fake_root: Path) -> None:
    info = probe_toolkit(make_host(fake_root, env={"PATH": "/usr/bin"}))
    assert info.nvcc_path is None and "nvcc_path" in info.unknown
    assert info.cuda_home is None and "cuda_home" in info.unknown


def test_shadowing_libraries_on_ld_library_path(fake_root: Path) -> None:
    lib = fake_root / "usr/local/cuda-12.1/lib64"
    lib.mkdir(parents=True)
    for name in ("libnvJitLink.so.12", "libcusparse.so.12", "libcudart.so.12", "libcupti.so"):
        (lib / name).write_text("")
    (fake_root / "opt/empty").mkdir(parents=True)
    env = {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/usr/local/cuda-12.1/lib64:/opt/empty:/missing"}
    info = probe_toolkit(make_host(fake_root, env=env))
    (found,) = info.library_dirs
    assert found.path == "/usr/local/cuda-12.1/lib64"
    assert found.libraries == ("libcusparse.so.12", "libnvJitLink.so.12")
