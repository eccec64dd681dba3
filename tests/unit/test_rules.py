"""Every finding id: a scenario that triggers it and one that does not."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import pytest

from envdoctor.diagnose.findings import Severity
from envdoctor.diagnose.report import run_diagnosis
from envdoctor.diagnose.rules import diagnose
from envdoctor.facts import AppleInfo, DeepResult, Distribution, Facts, LibraryDir, ModuleConflict, PciGpu, TorchRuntime
from envdoctor.knowledge import knowledge
from tests.helpers import facts_for

KB = knowledge()
SITE = "/opt/venv/lib/python3.11/site-packages"
HEALTHY = dict(torch="2.4.1+cu121", companions={"torchvision": "0.19.1+cu121", "torchaudio": "2.4.1+cu121"})
NVJITLINK_ERROR = ("Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n"
                   "ImportError: /opt/venv/lib/python3.11/site-packages/torch/lib/../../nvidia/cusparse/lib/"
                   "libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12")


def healthy(**changes: object) -> Facts:
    return facts_for(**{**HEALTHY, **changes})  # type: ignore[arg-type]


def mac(arch: str, rosetta: bool) -> Facts:
    """torch 2.2.2 on an Apple silicon Mac, from an interpreter of `arch` (x86_64 under Rosetta, or native)."""
    facts = facts_for(torch="2.2.2", companions={}, driver=None, gpus=(), system="Darwin", arch=arch, glibc=None)
    return replace(facts, accelerators=replace(facts.accelerators, apple=AppleInfo(True, "15.3", rosetta=rosetta)))


def with_torch(facts: Facts, **changes: object) -> Facts:
    return replace(facts, torch=replace(facts.torch, **changes))  # type: ignore[arg-type]


def with_toolkit(facts: Facts, **changes: object) -> Facts:
    return replace(facts, toolkit=replace(facts.toolkit, **changes))  # type: ignore[arg-type]


def with_packages(facts: Facts, **changes: object) -> Facts:
    return replace(facts, packages=replace(facts.packages, **changes))  # type: ignore[arg-type]


def with_shm(facts: Facts, size: int) -> Facts:
    return replace(facts, system=replace(facts.system, memory=replace(facts.system.memory, shm_total_bytes=size)))


def with_env(facts: Facts, **env: str) -> Facts:
    return replace(facts, system=replace(facts.system, environment=env))


TWO_A100 = (("NVIDIA A100-SXM4-80GB", (8, 0)), ("NVIDIA A100-SXM4-80GB", (8, 0)))
NVIDIA_ON_PCI = PciGpu("0000:01:00.0", "nvidia", "0x10de", "0x2684", None)

SCENARIOS: dict[str, tuple[Callable[[], Facts], Callable[[], Facts], Severity]] = {
    "torch-missing": (lambda: facts_for(torch=None), healthy, Severity.INFO),
    "torch-import-failed": (lambda: with_torch(healthy(), status="import_failed", error=NVJITLINK_ERROR, version=None),
                            healthy, Severity.ERROR),
    "driver-missing": (lambda: replace(healthy(driver=None), accelerators=replace(
                           healthy().accelerators, pci_gpus=(NVIDIA_ON_PCI,))), healthy, Severity.ERROR),
    "driver-too-old": (lambda: healthy(driver="470.82.01"), healthy, Severity.ERROR),
    "gpu-arch-unsupported": (lambda: healthy(torch="2.7.1+cu126", companions={}, driver="575.51.03",
                                             gpus=(("NVIDIA GeForce RTX 5090", (12, 0)),)),
                             lambda: healthy(torch="2.7.1+cu128", companions={}, driver="575.51.03",
                                             gpus=(("NVIDIA GeForce RTX 5090", (12, 0)),)), Severity.ERROR),
    "cpu-wheel-on-gpu-host": (lambda: healthy(torch="2.4.1+cpu", companions={}), healthy, Severity.ERROR),
    "cuda-wheel-without-gpu": (lambda: healthy(driver=None), lambda: healthy(torch="2.4.1+cpu", companions={},
                                                                              driver=None), Severity.WARNING),
    "companion-mismatch": (lambda: healthy(companions={"torchvision": "0.20.1+cu124"}), healthy, Severity.ERROR),
    "python-unsupported": (lambda: healthy(python="3.13.1"), healthy, Severity.WARNING),
    "rosetta": (lambda: mac(arch="x86_64", rosetta=True), lambda: mac(arch="arm64", rosetta=False), Severity.WARNING),
    # torch that imports proves its glibc floor is met, so the glibc check judges torch not imported
    "os-unsupported": (lambda: healthy(torch="2.7.1+cu126", companions={}, glibc="2.17", imported=False),
                       lambda: healthy(torch="2.7.1+cu126", companions={}, glibc="2.28", imported=False),
                       Severity.ERROR),
    "library-shadowing": (lambda: with_toolkit(healthy(), library_dirs=(
                              LibraryDir("/usr/local/cuda-12.1/lib64", ("libnvJitLink.so.12",)),)),
                          healthy, Severity.WARNING),
    "toolkit-mismatch": (lambda: with_toolkit(healthy(), nvcc_version="11.8.89", nvcc_path="/usr/local/cuda/bin/nvcc"),
                         lambda: with_toolkit(healthy(), nvcc_version="12.4.131",
                                              nvcc_path="/usr/local/cuda/bin/nvcc"), Severity.WARNING),
    "duplicate-install": (lambda: with_packages(healthy(), distributions=(
                              *healthy().packages.distributions,
                              Distribution("torch", "2.1.0", None, "/root/.local/lib/python3.11/site-packages"))),
                          healthy, Severity.WARNING),
    "pynvml-conflict": (lambda: with_packages(healthy(), distributions=(
                            Distribution("pynvml", "11.5.0", None, SITE),
                            Distribution("nvidia-ml-py", "12.560.30", None, SITE)),
                            conflicts=(ModuleConflict("pynvml", ("pynvml 11.5.0", "nvidia-ml-py 12.560.30")),)),
                        healthy, Severity.WARNING),
    "cuda-unavailable": (lambda: with_env(with_torch(healthy(), cuda_available=False, device_count=0),
                                          CUDA_VISIBLE_DEVICES="0"), healthy, Severity.ERROR),
    "gpus-hidden": (lambda: with_env(with_torch(healthy(), cuda_available=False, device_count=0),
                                     CUDA_VISIBLE_DEVICES=""), lambda: with_env(healthy(), CUDA_VISIBLE_DEVICES="0"),
                    Severity.ERROR),
    "cuda-launch-blocking": (lambda: with_env(healthy(), CUDA_LAUNCH_BLOCKING="1"),
                             lambda: with_env(healthy(), CUDA_LAUNCH_BLOCKING="0"), Severity.WARNING),
    "nccl-transport-disabled": (lambda: with_env(healthy(gpus=TWO_A100), NCCL_P2P_DISABLE="1"),
                                lambda: with_env(healthy(gpus=TWO_A100), NCCL_P2P_DISABLE="0"), Severity.WARNING),
    # the sample host has 128 CPU threads, of which its affinity mask lets this process use 32
    "thread-oversubscription": (lambda: with_env(healthy(), OMP_NUM_THREADS="64"),
                                lambda: with_env(healthy(), OMP_NUM_THREADS="32"), Severity.WARNING),
    "shm-too-small": (lambda: with_shm(healthy(), 64 * 1024**2), healthy, Severity.WARNING),
    "deep-check-failed": (lambda: replace(healthy(), deep=(DeepResult(
                              "cuda:0", "matmul float16", False, 0.01,
                              "RuntimeError: CUDA error: no kernel image is available for execution on the device"),)),
                          lambda: replace(healthy(), deep=(
                              DeepResult("cuda:0", "matmul float16", True, 0.01, None),
                              # not run is not failed: a V100 computes no native bfloat16
                              DeepResult("cuda:0", "matmul bfloat16", False, None, None, skipped=(
                                  "cuda:0 has compute capability 7.0; native bfloat16 needs 8.0 (Ampere) or newer")),
                          )),
                          Severity.ERROR),
}


@pytest.mark.parametrize("finding_id", sorted(SCENARIOS))
def test_finding_fires_and_does_not(finding_id: str) -> None:
    triggering, calm, severity = SCENARIOS[finding_id]
    fired = [f for f in diagnose(triggering(), KB) if f.id == finding_id]
    assert fired, f"{finding_id} did not fire"
    assert fired[0].severity == severity and fired[0].evidence and fired[0].title
    assert not [f for f in diagnose(calm(), KB) if f.id == finding_id]


def test_every_documented_id_has_a_scenario() -> None:
    from pathlib import Path

    catalogue = (Path(__file__).parents[2] / "docs" / "findings.md").read_text()
    ids = {line.split("`")[1] for line in catalogue.splitlines() if line.startswith("| `")}
    assert ids == set(SCENARIOS)


def test_healthy_environment_has_no_findings() -> None:
    assert diagnose(healthy(), KB) == ()


def test_import_failure_is_classified_and_points_at_shadowing() -> None:
    facts = with_toolkit(with_torch(healthy(), status="import_failed", error=NVJITLINK_ERROR, version=None),
                         library_dirs=(LibraryDir("/usr/local/cuda-12.1/lib64", ("libnvJitLink.so.12",)),))
    findings = {f.id: f for f in diagnose(facts, KB)}
    cause = dict(findings["torch-import-failed"].evidence)["cause"]
    assert "LD_LIBRARY_PATH" in cause
    assert findings["library-shadowing"].severity == Severity.ERROR  # it broke the import


def test_companion_import_error_is_a_mismatch() -> None:
    error = "RuntimeError: operator torchvision::nms does not exist"
    facts = with_torch(healthy(), companion_errors={"torchvision": f"Traceback ...\n{error}"})
    (finding,) = [f for f in diagnose(facts, KB) if f.id == "companion-mismatch"]
    assert error in dict(finding.evidence)["torchvision"]


def test_cpu_wheel_fix_keeps_the_installed_version() -> None:
    (finding,) = [f for f in diagnose(healthy(torch="2.4.1+cpu", companions={}), KB)
                  if f.id == "cpu-wheel-on-gpu-host"]
    # cu124 was experimental in 2.4: the stable cu121 comes first
    assert finding.command == ("python -m pip install torch==2.4.1+cu121 torchvision==0.19.1+cu121 "
                               "torchaudio==2.4.1+cu121 --index-url https://download.pytorch.org/whl/cu121")


def test_mps_below_the_minimum_macos() -> None:
    mac = facts_for(torch="2.9.0", system="Darwin", arch="arm64", driver=None, glibc=None)
    mac = replace(mac, system=replace(mac.system, os=replace(mac.system.os, version="13.6", distro_id="macos")))
    (finding,) = [f for f in diagnose(mac, KB) if f.id == "os-unsupported"]
    assert "14.0" in finding.title


def test_run_diagnosis_advises_newest_and_installed() -> None:
    diagnosis = run_diagnosis(healthy(), KB)
    questions = [q for q, _ in diagnosis.advice]
    assert questions[0] == "The newest torch for this machine"
    assert questions[1].startswith("The installed torch 2.4.1")
    newest = diagnosis.advice[0][1].plan
    assert newest is not None and newest.torch.startswith("2.14")
    assert diagnosis.worst() is None


def test_runtime_not_known_uses_the_local_tag() -> None:
    facts = healthy(imported=False, driver="470.82.01")
    assert facts.torch.status == "skipped"
    (finding,) = [f for f in diagnose(facts, KB) if f.id == "driver-too-old"]
    assert "local tag +cu121" in dict(finding.evidence)["torch"]


def test_untagged_pypi_wheel_is_judged_as_pypi_default() -> None:
    facts = facts_for(torch="1.6.0", imported=False, driver="418.67", python="3.7.9",
                      gpus=(("Tesla V100-PCIE-16GB", None),))
    (finding,) = [f for f in diagnose(facts, KB) if f.id == "driver-too-old"]
    assert "PyPI's default for torch 1.6" in dict(finding.evidence)["torch"]
    assert finding.command is not None and "cu101" in finding.command


def test_broken_torch_without_runtime_is_not_missing() -> None:
    facts = with_torch(healthy(), status="crashed", exit_signal="SIGSEGV", error="", version=None)
    ids = {f.id for f in diagnose(facts, KB)}
    assert "torch-import-failed" in ids and "torch-missing" not in ids


def test_unknown_runtime_is_fine() -> None:
    facts = replace(healthy(), torch=TorchRuntime(status="skipped"))
    assert {f.id for f in diagnose(facts, KB)} == set()


def test_a_nightly_is_advised_as_the_release_it_precedes_everywhere() -> None:
    # Every fix command and the advice pin the same torch: a nightly of 2.5.0 maps to the 2.5.0 release.
    facts = facts_for(torch="2.5.0.dev20240801+cu124", imported=False, driver="470.82.01",
                      companions={"torchvision": "0.20.0.dev20240801+cu121"})
    diagnosis = run_diagnosis(facts, KB)
    commands = {f.id: f.command for f in diagnosis.findings if f.command}
    assert set(commands) >= {"driver-too-old", "companion-mismatch"}
    installed = [advice for title, advice in diagnosis.advice if title.startswith("The installed torch")]
    assert [a.plan.torch for a in installed if a.plan] == ["2.5.0"]
    for command in commands.values():
        assert "torch==2.5.0+" in command, command
