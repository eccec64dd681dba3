"""The torch child process: a failing, crashing, hanging or absent torch is a fact, never a crash of `check`."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from envdoctor.probe.torch_child import MARKER
from envdoctor.probe.torch_runtime import parse_child_output, probe_torch_runtime


@pytest.fixture
def fake_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Write a `torch` package whose __init__ runs the given code, first on the child's import path."""

    def make(body: str) -> None:
        package = tmp_path / "shadow" / "torch"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(body)
        monkeypatch.setenv("PYTHONPATH", str(package.parent))

    return make


def test_companion_import_errors_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shadow = tmp_path / "shadow"
    (shadow / "torch").mkdir(parents=True)
    (shadow / "torch" / "__init__.py").write_text("__version__ = '2.4.1+cu121'\nfrom . import version\n")
    (shadow / "torch" / "version.py").write_text("cuda = '12.1'\nhip = None\n")
    (shadow / "torchvision").mkdir()
    (shadow / "torchvision" / "__init__.py").write_text(
        "raise RuntimeError('operator torchvision::nms does not exist')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    runtime = probe_torch_runtime(timeout_s=30, companions=True)
    assert runtime.status == "ok" and runtime.version == "2.4.1+cu121" and runtime.cuda == "12.1"
    assert "operator torchvision::nms does not exist" in runtime.companion_errors["torchvision"]
    assert "cudnn" in runtime.unknown  # this stand-in has no torch.backends: a reason, not a crash
    assert probe_torch_runtime(timeout_s=30).companion_errors == {}  # companions only when asked


def test_import_error_text_is_kept(fake_torch) -> None:  # type: ignore[no-untyped-def]
    fake_torch("raise OSError('libcudnn.so.9: cannot open shared object file: No such file or directory')\n")
    runtime = probe_torch_runtime(timeout_s=30)
    assert runtime.status == "import_failed"
    assert runtime.error is not None and "libcudnn.so.9: cannot open shared object file" in runtime.error
    assert "Traceback" in runtime.error


def test_crash_by_signal(fake_torch) -> None:  # type: ignore[no-untyped-def]
    fake_torch("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    runtime = probe_torch_runtime(timeout_s=30)
    assert (runtime.status, runtime.exit_signal) == ("crashed", "SIGSEGV")


def test_hang_times_out(fake_torch) -> None:  # type: ignore[no-untyped-def]
    fake_torch("import time\ntime.sleep(60)\n")
    runtime = probe_torch_runtime(timeout_s=1.5)
    assert runtime.status == "timeout" and runtime.error is not None and "1.5 s" in runtime.error


def test_not_installed(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    runtime = probe_torch_runtime(python=str(tmp_path / "bare" / "bin" / "python"))
    assert runtime.status == "not_installed"


def test_unstartable_python() -> None:
    runtime = probe_torch_runtime(python="/nonexistent/python")
    assert runtime.status == "import_failed" and runtime.error is not None and "could not start" in runtime.error


def test_child_output_for_a_gpu_machine() -> None:
    line = MARKER + json.dumps({
        "status": "ok", "version": "2.5.1+cu124", "cuda": "12.4", "hip": None, "cudnn": 90100, "nccl": "2.21.5",
        "cuda_available": True, "device_count": 1, "arch_list": ["sm_50", "sm_90"], "origin": "/x/torch/__init__.py",
        "devices": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": [9, 0], "total_memory_bytes": 1}],
        "mps_available": False, "import_seconds": 1.25, "warnings": ["a warning"], "unknown": {},
    })
    runtime = parse_child_output(f"noise printed by a sitecustomize\n{line}\n", 9.9)
    assert runtime is not None
    assert (runtime.version, runtime.cudnn, runtime.nccl, runtime.import_seconds) == ("2.5.1+cu124", 90100,
                                                                                     "2.21.5", 1.25)
    assert runtime.devices[0].capability == (9, 0) and runtime.arch_list == ("sm_50", "sm_90")
    assert runtime.warnings == ("a warning",)


@pytest.mark.slow
def test_real_torch_imports() -> None:
    try:
        installed = metadata.version("torch")
    except metadata.PackageNotFoundError:
        pytest.skip("torch is not installed in this environment")
    runtime = probe_torch_runtime()
    assert runtime.status == "ok", runtime.error
    assert runtime.version is not None and runtime.version.split("+")[0] == installed.split("+")[0]
    assert runtime.import_seconds is not None and runtime.import_seconds > 0
    assert runtime.cuda_available is False or runtime.device_count


# A stand-in torch whose two CUDA devices answer as torch's _CudaDeviceProperties do: device 0 as a torch
# with uuid and the pci_* fields (str(props.uuid) has no "GPU-" prefix), device 1 as an older torch without them.
# Device 0's identity is the A100 of tests/fixtures/nvidia_smi/xml_a100-sxm4-80gb-mig_535.54.03.xml.
_TORCH_WITH_DEVICE_IDS = '''
__version__ = "2.14.1+cu130"
from . import version, cuda, backends

class _CUuuid:
    def __str__(self):
        return "513536b6-7d19-9063-b049-1e69664bb298"

class _New:
    name, major, minor, total_memory = "NVIDIA A100-SXM4-80GB", 8, 0, 85899345920
    uuid, pci_domain_id, pci_bus_id, pci_device_id = _CUuuid(), 0, 0x1, 0x0

class _Old:
    name, major, minor, total_memory = "NVIDIA A100-SXM4-80GB", 8, 0, 85899345920
'''


def test_child_reports_each_devices_uuid_and_bus_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "shadow" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(_TORCH_WITH_DEVICE_IDS)
    (package / "version.py").write_text("cuda = '13.0'\nhip = None\n")
    (package / "backends.py").write_text("class cudnn:\n    version = staticmethod(lambda: 91002)\n")
    (package / "cuda.py").write_text(
        "import torch\n"
        "is_available = lambda: True\n"
        "device_count = lambda: 2\n"
        "get_device_properties = lambda i: torch._New() if i == 0 else torch._Old()\n"
        "class nccl:\n    version = staticmethod(lambda: (2, 27, 5))\n")
    monkeypatch.setenv("PYTHONPATH", str(package.parent))
    runtime = probe_torch_runtime(timeout_s=30)
    assert runtime.status == "ok", runtime.error
    new, old = runtime.devices
    assert (new.uuid, new.pci_bus_id) == ("513536b6-7d19-9063-b049-1e69664bb298", "00000000:01:00.0")
    assert (old.uuid, old.pci_bus_id) == (None, None)
    assert "no uuid" in runtime.unknown["devices[1].uuid"]
    assert "no pci_domain_id" in runtime.unknown["devices[1].pci_bus_id"]
    assert "devices[0].uuid" not in runtime.unknown
