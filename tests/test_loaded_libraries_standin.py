"""A system cuDNN loaded ahead of the one torch's wheel bundles, caught from what the torch child really mapped.

The stand-in is built here with gcc: a libcudnn.so.9.1.0 whose SONAME is libcudnn.so.9 and whose symbols carry
that version node, as NVIDIA's do, so the loader takes it for libtorch_cuda's libcudnn.so.9. It is put ahead of
the wheel's by LD_PRELOAD (torch's libraries find their own through RPATH, which LD_LIBRARY_PATH cannot beat).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from envdoctor.diagnose.findings import Finding, Severity
from envdoctor.diagnose.rules import diagnose
from envdoctor.facts import TorchRuntime
from envdoctor.knowledge import knowledge
from envdoctor.probe.torch_runtime import probe_torch_runtime
from tests.unit.test_rules import healthy, with_env

pytestmark = pytest.mark.slow


def _wheel_file(relative: str) -> Path:
    for entry in sys.path:
        if (Path(entry) / relative).is_file():
            return Path(entry) / relative
    pytest.skip(f"this torch has no {relative} (not a CUDA wheel with nvidia-cudnn)")


def _cudnn_symbols() -> list[str]:
    """The cuDNN functions torch's libraries import, each under the libcudnn.so.9 version node."""
    if shutil.which("gcc") is None or shutil.which("readelf") is None:
        pytest.skip("building the stand-in needs gcc and readelf")
    _wheel_file("nvidia/cudnn/lib/libcudnn.so.9")
    torch_lib = _wheel_file("torch/lib/libtorch_cuda.so").parent
    symbols = set()
    for library in torch_lib.glob("*.so"):
        table = subprocess.run(["readelf", "--dyn-syms", "-W", str(library)], capture_output=True, text=True).stdout
        symbols.update(line.split()[7].split("@")[0] for line in table.splitlines()
                       if len(line.split()) >= 8 and line.split()[6] == "UND" and "@libcudnn.so.9" in line)
    return sorted(symbols)


def _stand_in(root: Path, symbols: list[str]) -> Path:
    """/usr/lib/libcudnn.so.9.1.0 under `root`: cuDNN 9.1.0 by cudnnGetProperty, every other function a no-op."""
    lib = root / "usr" / "lib"
    lib.mkdir(parents=True)
    bodies = ["int cudnnGetProperty(int kind, int *value) { *value = kind == 0 ? 9 : kind == 1 ? 1 : 0; return 0; }",
              "long cudnnGetVersion(void) { return 90100; }"]
    bodies += [f"int {name}(void) {{ return 0; }}" for name in symbols
               if name not in ("cudnnGetProperty", "cudnnGetVersion")]
    (root / "stand_in.c").write_text("\n".join(bodies) + "\n")
    exported = "; ".join(sorted({*symbols, "cudnnGetProperty", "cudnnGetVersion"}))
    (root / "version.map").write_text(f"libcudnn.so.9 {{ global: {exported}; local: *; }};\n")
    target = lib / "libcudnn.so.9.1.0"
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libcudnn.so.9", f"-Wl,--version-script={root}/version.map",
                    "-o", str(target), str(root / "stand_in.c")], check=True)
    (lib / "libcudnn.so.9").symlink_to(target.name)
    return lib / "libcudnn.so.9"


def _shadowing(runtime: TorchRuntime, preload: Path) -> Finding:
    facts = replace(with_env(healthy(), LD_PRELOAD=str(preload)), torch=runtime)
    return next(f for f in diagnose(facts, knowledge()) if f.id == "library-shadowing")


def test_a_system_cudnn_loaded_ahead_of_the_wheel_s_is_caught(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    preload = _stand_in(tmp_path, _cudnn_symbols())
    monkeypatch.setenv("LD_PRELOAD", str(preload))
    runtime = probe_torch_runtime(timeout_s=120)
    assert runtime.status == "ok", runtime.error
    assert runtime.loaded_libraries is not None
    cudnn = {lib.path: lib for lib in runtime.loaded_libraries if lib.name == "libcudnn"}
    system = cudnn[str(tmp_path / "usr" / "lib" / "libcudnn.so.9.1.0")]
    assert (system.version, system.version_source, system.origin) == ("9.1.0", "file name", "system")
    assert system.wheel_copy == str(_wheel_file("nvidia/cudnn/lib/libcudnn.so.9"))
    assert system.wheel_copy_owner is not None and system.wheel_copy_owner.startswith("nvidia-cudnn-cu")
    # torch itself noticed: cuDNN 9.1.0 answered where it was built against a newer one
    assert "cuDNN version incompatibility" in runtime.unknown["cudnn"] and "(9, 1, 0)" in runtime.unknown["cudnn"]

    finding = _shadowing(runtime, preload)
    assert finding.severity == Severity.ERROR
    assert ("loaded", f"{system.path} (9.1.0, system)") in finding.evidence


def test_a_stand_in_that_breaks_the_import_is_still_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    preload = _stand_in(tmp_path, _cudnn_symbols()[:1])  # one function: the loader finds the rest missing
    monkeypatch.setenv("LD_PRELOAD", str(preload))
    runtime = probe_torch_runtime(timeout_s=120)
    assert runtime.status == "import_failed"
    assert runtime.error is not None and "version libcudnn.so.9" in runtime.error
    assert runtime.loaded_libraries is not None
    system = [lib for lib in runtime.loaded_libraries if lib.name == "libcudnn" and lib.origin == "system"]
    assert [lib.wheel_copy for lib in system] == [str(_wheel_file("nvidia/cudnn/lib/libcudnn.so.9"))]
    finding = _shadowing(runtime, preload)
    assert finding.severity == Severity.ERROR
    assert "version libcudnn.so.9" in dict(finding.evidence)["torch import error"]


def test_this_torch_s_own_libraries_and_an_unread_nccl_s_reason() -> None:
    runtime = probe_torch_runtime(timeout_s=120)
    assert runtime.status == "ok" and runtime.loaded_libraries is not None
    cpu = [lib for lib in runtime.loaded_libraries if lib.name == "libtorch_cpu"]
    assert [(lib.origin, lib.version, lib.version_source) for lib in cpu] == [("torch-wheel", runtime.version,
                                                                               "wheel torch")]
    if runtime.cuda is None or runtime.cuda_available:
        pytest.skip("NCCL's version is unread only in a CUDA build without a usable GPU")
    assert runtime.nccl is None and "only where CUDA is available" in runtime.unknown["nccl"]
