"""The libraries torch really loaded: the child's raw list as facts, and library-shadowing judged from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from envdoctor.diagnose.findings import Severity
from envdoctor.diagnose.rules import diagnose
from envdoctor.facts import LibraryDir, LoadedLibrary
from envdoctor.importers import read_facts
from envdoctor.knowledge import knowledge
from envdoctor.parse.libraries import loaded_library
from tests.unit.test_rules import healthy, with_env, with_toolkit, with_torch

KB = knowledge()
FIXTURES = Path(__file__).parents[1] / "fixtures"
SITE = "/opt/venv/lib/python3.11/site-packages"


def raw(path: str, **fields: Any) -> dict[str, Any]:
    return {"path": path, "soname": None, "stage": "import", "site_packages": None, "in_torch_site": False,
            "in_torch": False, "owner": None, "conda_prefix": None, "wheel_copy": None, **fields}


@pytest.mark.parametrize(("entry", "expected"), [
    # A distribution's full file name carries the whole version; the SONAME only the major.
    (raw("/usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.7", soname="libcudnn.so.8"),
     ("libcudnn", "8.9.7", "file name", "system")),
    (raw("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14", soname="libcuda.so.1"),
     ("libcuda", "550.54.14", "file name", "system")),
    (raw(f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9", soname="libcudnn.so.9", site_packages=SITE, in_torch_site=True,
         owner="nvidia-cudnn-cu12 9.1.0.70"), ("libcudnn", "9.1.0.70", "wheel nvidia-cudnn-cu12", "torch-wheel")),
    (raw(f"{SITE}/torch/lib/libtorch_cuda.so", soname="libtorch_cuda.so", site_packages=SITE, in_torch_site=True,
         in_torch=True), ("libtorch_cuda", "2.5.1+cu124", "wheel torch", "torch-wheel")),
    (raw("/opt/conda/envs/x/lib/libnccl.so", soname="libnccl.so.2", conda_prefix="/opt/conda/envs/x"),
     ("libnccl", "2", "SONAME", "conda")),
    (raw("/home/u/.local/lib/python3.11/site-packages/tensorflow/libcublasLt.so.12", soname="libcublasLt.so.12",
         site_packages="/home/u/.local/lib/python3.11/site-packages"), ("libcublasLt", "12", "SONAME", "wheel")),
    (raw("C:\\Python311\\Lib\\site-packages\\torch\\lib\\cudnn64_9.dll", in_torch=True),
     ("libcudnn", "2.5.1+cu124", "wheel torch", "torch-wheel")),
    (raw("C:\\CUDA\\v12.4\\bin\\cublasLt64_12.dll"), ("libcublasLt", "12", "file name", "system")),
    (raw("/unreadable/libcudart.so"), ("libcudart", None, None, "system")),
    # torchvision's own copy, renamed by auditwheel, as an H200's check --deep listed it
    (raw(f"{SITE}/torchvision.libs/libcudart.faf08d9a.so.13", soname="libcudart.so.13", site_packages=SITE,
         in_torch_site=True), ("libcudart", "13", "SONAME", "wheel")),
])
def test_a_library_s_family_version_and_origin(entry: dict[str, Any], expected: tuple[Any, ...]) -> None:
    lib = loaded_library(entry, "2.5.1+cu124")
    assert (lib.name, lib.version, lib.version_source, lib.origin) == expected


WHEEL_CUDNN = f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9"


def loaded(version: str, owner: str = "nvidia-cudnn-cu12 9.1.0.70") -> tuple[LoadedLibrary, ...]:
    return (LoadedLibrary("libtorch_cuda", f"{SITE}/torch/lib/libtorch_cuda.so", "2.5.1+cu124", "wheel torch",
                          "torch-wheel", "import"),
            LoadedLibrary("libcudnn", f"/usr/lib/x86_64-linux-gnu/libcudnn.so.{version}", version, "file name",
                          "system", "import", WHEEL_CUDNN, owner))


def shadowing(facts: Any) -> Any:
    return next((f for f in diagnose(facts, KB) if f.id == "library-shadowing"), None)


def test_a_system_cudnn_of_another_release_loaded_ahead_of_the_wheel_s_is_an_error() -> None:
    facts = with_env(with_torch(healthy(), loaded_libraries=loaded("9.0.0")), LD_PRELOAD="/usr/lib/libcudnn.so.9")
    finding = shadowing(facts)
    assert finding is not None and finding.severity == Severity.ERROR
    evidence = dict(finding.evidence)
    assert evidence["loaded"] == "/usr/lib/x86_64-linux-gnu/libcudnn.so.9.0.0 (9.0.0, system)"
    assert evidence["instead of"] == f"{WHEEL_CUDNN} (nvidia-cudnn-cu12 9.1.0.70)"
    assert evidence["LD_PRELOAD"] == "/usr/lib/libcudnn.so.9"


def test_the_same_release_from_the_system_is_a_warning() -> None:
    finding = shadowing(with_torch(healthy(), loaded_libraries=loaded("9.1.0")))
    assert finding is not None and finding.severity == Severity.WARNING


def test_libraries_on_the_search_path_that_torch_did_not_load_are_not_shadowing() -> None:
    wheel_only = (loaded("9.1.0")[0], LoadedLibrary("libcudnn", WHEEL_CUDNN, "9.1.0.70", "wheel nvidia-cudnn-cu12",
                                                    "torch-wheel", "import"))
    facts = with_toolkit(with_torch(healthy(), loaded_libraries=wheel_only),
                         library_dirs=(LibraryDir("/usr/local/cuda-12.1/lib64", ("libcudnn.so.8",)),))
    assert shadowing(facts) is None


def test_the_search_path_is_judged_when_what_was_loaded_is_unknown() -> None:
    facts = with_toolkit(with_torch(healthy(), loaded_libraries=None,
                                    unknown={"loaded_libraries": "the report does not list them"}),
                         library_dirs=(LibraryDir("/usr/local/cuda-12.1/lib64", ("libcudnn.so.8",)),))
    finding = shadowing(facts)
    assert finding is not None and finding.severity == Severity.WARNING
    assert dict(finding.evidence)["LD_LIBRARY_PATH"] == "/usr/local/cuda-12.1/lib64: libcudnn.so.8"


def test_a_real_h200_s_libraries_are_its_wheels_and_its_driver() -> None:
    """check --deep on an H200 (torch 2.11.0+cu130 from PyPI): every CUDA library from torch's wheels, the driver's
    libcuda from the container's mount, cuDNN's engines mapped only once CUDA ran; no shadowing."""
    facts = read_facts(str(FIXTURES / "check" / "h200-torch2.11.0-cu130-deep.json"))
    libraries = facts.torch.loaded_libraries
    assert libraries is not None
    by_name = {lib.name: lib for lib in libraries}
    assert (by_name["libcudnn"].version, by_name["libcudnn"].origin) == ("9.19.0.56", "torch-wheel")
    assert (by_name["libcuda"].version, by_name["libcuda"].path) == (
        "580.159.04", "/usr/local/nvidia/lib64/libcuda.so.580.159.04")
    assert by_name["libcudnn_engines_precompiled"].stage == "cuda-init"
    assert by_name["libcudnn"].stage == "import"
    assert shadowing(facts) is None
