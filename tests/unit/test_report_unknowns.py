"""Unknown is not absent: what a report does not say never becomes a finding, and a fix never gives up a GPU.

Every case starts from a real report in tests/fixtures/collect_env/ (cut where a case needs it: a cut report is
still that machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.diagnose.findings import Severity
from envdoctor.diagnose.report import run_diagnosis
from envdoctor.diagnose.rules import diagnose
from envdoctor.importers import read_facts
from envdoctor.importers.collect_env import facts_from_report
from envdoctor.knowledge import knowledge

CASES = Path(__file__).parent.parent / "fixtures" / "collect_env"
RTX_5090D = CASES / "20_rtx5090d-sm120-vs-cu126-wheel-torch260.txt"  # torch 2.6.0+cu126, driver 570.124.04
KB = knowledge()


def cut(path: Path, after: str, tmp_path: Path) -> str:
    """The report up to and including the first line starting with `after`."""
    lines = path.read_text().splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if line.startswith(after)) + 1
    target = tmp_path / f"cut-{path.name}"
    target.write_text("".join(lines[:end]))
    return str(target)


def ids(path: str) -> set[str]:
    return {f.id for f in run_diagnosis(read_facts(path), KB).findings}


def test_a_report_cut_after_cuda_available_does_not_claim_there_is_no_gpu(tmp_path: Path) -> None:
    path = cut(RTX_5090D, "Is CUDA available: True", tmp_path)
    diagnosis = run_diagnosis(read_facts(path), KB)
    assert "cuda-wheel-without-gpu" not in {f.id for f in diagnosis.findings}
    for _, advice in diagnosis.advice:
        assert advice.plan is None  # not the CPU wheel
        assert advice.not_planned is not None and "'Nvidia driver version'" in advice.not_planned
    assert any("whether there is an NVIDIA driver" in note for note in diagnosis.not_checked)


def test_a_report_cut_before_cuda_available_does_not_either(tmp_path: Path) -> None:
    path = cut(RTX_5090D, "CUDA used to build PyTorch", tmp_path)
    assert "cuda-wheel-without-gpu" not in ids(path)
    assert all(advice.plan is None for _, advice in run_diagnosis(read_facts(path), KB).advice)


def test_no_cuda_is_an_answer_where_could_not_collect_is_not() -> None:
    # 09: a Mac whose report says "Nvidia driver version: No CUDA"; 22: the driver line is a version
    facts = read_facts(str(CASES / "09_macos1221-below-mps-minimum-123.txt"))
    assert facts.nvidia.presence_unknown is None and facts.nvidia.driver_version is None
    facts = read_facts(str(CASES / "22_cpuonly-torch181-on-2x-rtx3090.txt"))
    assert facts.nvidia.presence_unknown is None and facts.nvidia.driver_version == "470.182.03"


def test_could_not_collect_the_driver_is_unknown(tmp_path: Path) -> None:
    text = RTX_5090D.read_text().replace("Nvidia driver version: 570.124.04",
                                         "Nvidia driver version: Could not collect")
    path = tmp_path / "report.txt"
    path.write_text(text)
    facts = read_facts(str(path))
    assert facts.nvidia.presence_unknown == "collect_env could not collect the NVIDIA driver version"
    assert "driver-too-old" not in ids(str(path))


def test_the_fix_for_an_unsupported_gpu_keeps_the_gpu() -> None:
    (finding,) = [f for f in run_diagnosis(read_facts(str(RTX_5090D)), KB).findings
                  if f.id == "gpu-arch-unsupported"]
    # Before: "pip install torch==2.6.0+cpu" (the same release's CPU wheel). The driver, 570.124.04, runs CUDA
    # 12.8 (cu130 needs 580): the newest release with an sm_120 wheel it runs is 2.11's cu128.
    assert finding.command is not None and "+cpu" not in finding.command
    assert finding.command.startswith("python -m pip install torch==2.11.0+cu128 ")
    assert "sm_120" in finding.fix


def test_an_untagged_companion_in_a_report_is_not_called_a_cpu_build() -> None:
    from dataclasses import replace

    from envdoctor.facts import Origin
    from tests.helpers import facts_for

    # Windows: PyPI's torchvision is a CPU build, but conda's and the PyTorch index's are not, untagged or not
    probed = facts_for(torch="2.7.0+cu126", system="Windows", glibc=None, companions={"torchvision": "0.22.0"})
    reported = replace(probed, origin=Origin(kind="file", hostname=None, path="report.txt"))
    assert "companion-mismatch" in {f.id for f in diagnose(probed, KB)}  # where the probe saw pip's own record
    assert "companion-mismatch" not in {f.id for f in diagnose(reported, KB)}


def test_jetson_is_sent_to_nvidias_wheels_and_rosetta_to_a_native_python() -> None:
    jetson = run_diagnosis(read_facts(str(CASES / "23_jetson-orin-nv2302-torch200-cuda-available.txt")), KB)
    assert not {f.id for f in jetson.findings}
    assert all(a.plan is None and "JetPack" in (a.not_planned or "") for _, a in jetson.advice)
    rosetta = run_diagnosis(read_facts(str(CASES / "24_rosetta-x86_64-python-on-m2pro-torch260-macos153.txt")), KB)
    assert [f.id for f in rosetta.findings] == ["rosetta"]  # not os-unsupported's "Intel Mac"
    newest = rosetta.advice[0][1].plan
    assert newest is not None and newest.variant == "pypi" and newest.torch.startswith("2.15")  # arm64's wheels


def test_torchs_warning_names_the_drivers_cuda_when_the_report_does_not() -> None:
    report = CASES / "25_driver470-vs-cu121-wheel-torch210-found-11040.txt"
    (finding,) = [f for f in run_diagnosis(read_facts(str(report)), KB).findings if f.id == "driver-too-old"]
    assert dict(finding.evidence)["driver"] == ("version unknown; supports CUDA 11.4 (torch's warning: found "
                                                "version 11040)")
    assert "found version 11040" in dict(finding.evidence)["torch warned"]


# A later line can only add knowledge: where the Rosetta report is cut before "CPU: Apple M2 Pro", its x86_64
# interpreter has no wheels (os-unsupported); the whole report shows why (rosetta).
SAME_CAUSE = {"os-unsupported": "rosetta"}


@pytest.mark.parametrize("report", sorted(CASES.glob("*.txt")), ids=lambda p: p.stem[:30])
def test_no_finding_rests_on_what_a_cut_report_leaves_out(report: Path) -> None:
    """Cut at every line, a report never gets an error or warning that the whole report does not."""
    text = report.read_text()
    whole = {f.id for f in diagnose(facts_from_report(text, "whole"), KB) if f.severity >= Severity.WARNING}
    lines = text.splitlines(keepends=True)
    for end in range(1, len(lines)):
        try:
            facts = facts_from_report("".join(lines[:end]), "cut")
        except ValueError:  # too little left to be a report
            continue
        cut = {f.id for f in diagnose(facts, KB) if f.severity >= Severity.WARNING}
        extra = {i for i in cut - whole if SAME_CAUSE.get(i) not in whole}
        assert not extra, f"cut after line {end}: {extra}"


@pytest.mark.parametrize("report", sorted(CASES.glob("*.txt")), ids=lambda p: p.stem[:30])
def test_the_report_has_no_placeholders(report: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown says "unknown" and why, never "None", "?" or an empty slot."""
    from envdoctor.cli import main

    main(["check", "--from", str(report)])
    text = capsys.readouterr().out.replace("torch.version.cuda is None", "")  # the attribute's value, quoted
    assert "None" not in text and "?" not in text.replace("(cut short?)", "")
    assert "unknown model" not in text and "no pip" not in text
