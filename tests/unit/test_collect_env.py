"""`check --from`: real collect_env reports (tests/fixtures/collect_env/README.md) and envdoctor's own JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from envdoctor.cli import main
from envdoctor.diagnose.findings import Severity
from envdoctor.diagnose.rules import diagnose
from envdoctor.importers import read_facts
from envdoctor.importers.check_json import facts_from_document
from envdoctor.knowledge import knowledge
from envdoctor.parse.collect_env import parse_collect_env
from envdoctor.render.json_doc import check_document, dumps
from tests.helpers import FIXTURES, sample_facts

CASES = sorted((FIXTURES / "collect_env").glob("*.txt"))
KB = knowledge()
# Cases the tool gets wrong today, and what it gets wrong; a fix flips them (strict xfail).
KNOWN_WRONG = {
    "32_rocm63-nightly-on-rx5700xt-gfx1010-joined-first-line":
        "has no ROCm GPU architecture check (gfx1010 is not in ROCm 6.3's list)",
}


def expected(case: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(case.with_suffix(".json").read_text())
    return data


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[c.stem]))
                                  if c.stem in KNOWN_WRONG else c for c in CASES], ids=[c.stem for c in CASES])
def test_case_gets_its_diagnosis(case: Path) -> None:
    findings = diagnose(read_facts(str(case)), KB)
    ids = {f.id for f in findings}
    wanted = set(expected(case)["expected_ids"])  # type: ignore[arg-type]
    assert wanted <= ids, f"missing {wanted - ids}"
    unexpected_errors = {f.id for f in findings if f.severity == Severity.ERROR} - wanted
    assert not unexpected_errors, f"unexpected errors {unexpected_errors}"
    if expected(case)["healthy"]:  # a healthy machine gets no warning either
        assert not {f.id for f in findings if f.severity >= Severity.WARNING}


def test_there_are_healthy_and_broken_cases() -> None:
    healthy = [c for c in CASES if not expected(c)["expected_ids"]]
    assert healthy and len(CASES) - len(healthy) >= 5


def test_fields_of_an_old_report() -> None:
    report = parse_collect_env((FIXTURES / "collect_env" / "02_driver418-vs-cu102-wheel-v100.txt").read_text())
    assert report.value("PyTorch version") == "1.6.0"
    assert report.value("CUDA runtime version") is None  # "Could not collect"
    assert report.continuation["GPU models and configuration"] == ("GPU 0: Tesla V100-PCIE-16GB",
                                                                    "GPU 1: Tesla V100-PCIE-16GB")
    assert ("torch", "1.6.0") in report.pip


def test_facts_of_an_indented_report() -> None:
    facts = read_facts(str(FIXTURES / "collect_env" / "05_cpu-only-torch131-on-rtx2080ti.txt"))
    assert facts.origin.kind == "file"
    assert (facts.torch.version, facts.torch.cuda, facts.torch.cuda_available) == ("1.3.1", None, False)
    assert facts.nvidia.driver_version == "430.64"
    assert [g.name for g in facts.nvidia.gpus] == ["GeForce RTX 2080 Ti"]
    assert facts.toolkit.nvcc_version == "10.1.105"  # collect_env's "CUDA runtime version" is nvcc's
    assert facts.system.python.version == "3.7"


def test_facts_of_a_macos_report() -> None:
    facts = read_facts(str(FIXTURES / "collect_env" / "09_macos1221-below-mps-minimum-123.txt"))
    assert (facts.system.os.system, facts.system.os.arch, facts.system.os.version) == ("Darwin", "arm64", "12.2.1")
    assert facts.accelerators.apple is not None and facts.accelerators.apple.apple_silicon
    assert facts.nvidia.driver_version is None and facts.nvidia.gpus == ()


@pytest.mark.parametrize("wrap", ["fence", "indent", "crlf", "fullwidth"])
def test_paste_styles_parse_alike(wrap: str) -> None:
    text = (FIXTURES / "collect_env" / "15_healthy_debug-build-flag-misreported-torch170.txt").read_text()
    pasted = {
        "fence": f"```\n{text}\n```\n",
        "indent": "\n".join("    " + line for line in text.splitlines()),
        "crlf": text.replace("\n", "\r\n"),
        "fullwidth": text.replace("PyTorch version:", "PyTorch version\uff1a"),
    }[wrap]
    assert parse_collect_env(pasted).fields == parse_collect_env(text).fields


def test_gpu_capability_is_derived_from_the_name_and_said_so() -> None:
    facts = read_facts(str(FIXTURES / "collect_env" / "20_rtx5090d-sm120-vs-cu126-wheel-torch260.txt"))
    (finding,) = [f for f in diagnose(facts, KB) if f.id == "gpu-arch-unsupported"]
    assert "12.0 (from the knowledge base's GPU table)" in dict(finding.evidence)["GPU"]


def test_saved_json_reads_back_to_the_same_facts(tmp_path: Path) -> None:
    facts = sample_facts()
    saved = tmp_path / "check.json"
    saved.write_text(dumps(check_document(facts)))
    back = read_facts(str(saved))
    assert back.origin.kind == "file" and back.origin.path == str(saved)
    assert replace(back, origin=facts.origin) == facts


def test_saved_json_keeps_gpu_and_torch_device_identities() -> None:
    facts = sample_facts()
    gpu = replace(facts.nvidia.gpus[0], pci_bus_id="00000000:01:00.0")
    device = replace(facts.torch.devices[0], uuid="513536b6-7d19-9063-b049-1e69664bb298",
                     pci_bus_id="00000000:01:00.0")
    facts = replace(facts, nvidia=replace(facts.nvidia, gpus=(gpu, *facts.nvidia.gpus[1:])),
                    torch=replace(facts.torch, devices=(device,)))
    document = json.loads(dumps(check_document(facts)))
    assert document["facts"]["nvidia"]["gpus"][0]["pci_bus_id"] == "00000000:01:00.0"
    assert document["facts"]["torch"]["devices"][0]["uuid"] == "513536b6-7d19-9063-b049-1e69664bb298"
    assert document["facts"]["torch"]["devices"][0]["pci_bus_id"] == "00000000:01:00.0"
    back = facts_from_document(document, "x.json")
    assert back.nvidia.gpus[0] == gpu and back.torch.devices == (device,)
    document["facts"]["torch"]["devices"][0]["pci_bus_id"] = 1
    with pytest.raises(ValueError, match=r"facts.torch.devices\[0\].pci_bus_id should be str, not int"):
        facts_from_document(document, "x.json")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"schema": "something.else"}, "not an envdoctor check document"),
        ({"schema": "envdoctor.check", "schema_version": 99, "facts": {}}, "schema version 99"),
        ({"schema": "envdoctor.check", "schema_version": 1, "facts": {"origin": {}}}, "facts.origin.kind is missing"),
    ],
)
def test_foreign_json_is_refused(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        facts_from_document(document, "x.json")


def test_wrong_field_type_is_named() -> None:
    document = json.loads(dumps(check_document(sample_facts())))
    document["facts"]["nvidia"]["gpus"][0]["index"] = "zero"
    with pytest.raises(ValueError, match=r"facts.nvidia.gpus\[0\].index should be int, not str"):
        facts_from_document(document, "x.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"   \n\n", "is empty"),
        (b"\x7fELF\x02\x01\x01\x00\x00", "is a binary file"),
        (b"Collecting environment information...\nPyTorch version: 2.1.0\n", "not a collect_env report"),
        (b"hello, this is a bug report about my model\n", "not a collect_env report"),
        (b'{"weights": [1, 2, 3]}', "not an envdoctor check document"),
        (b'{"schema": "envdoctor.check", ', "not valid JSON"),
        (b"[1, 2]", "not an envdoctor check document"),
    ],
)
def test_bad_files_are_one_line_and_exit_2(tmp_path: Path, content: bytes, message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(content)
    assert main(["check", "--from", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_missing_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--from", "/nonexistent/report.txt"]) == 2
    assert "cannot read /nonexistent/report.txt" in capsys.readouterr().err


def test_report_from_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import sys

    text = (FIXTURES / "collect_env" / "02_driver418-vs-cu102-wheel-v100.txt").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert main(["check", "--from", "-", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [f["id"] for f in document["findings"]] == ["driver-too-old"]
    assert document["facts"]["origin"] == {"kind": "file", "hostname": None, "path": "-", "interpreter": None}
    assert any("architecture is not known" in n for n in document["not_checked"])


def test_deep_cannot_read_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--from", "x.txt", "--deep"]) == 2
    assert "--deep runs torch on this machine" in capsys.readouterr().err


def test_text_report_says_where_the_facts_came_from(capsys: pytest.CaptureFixture[str]) -> None:
    case = FIXTURES / "collect_env" / "21_geforce210-win7-torch120-cu100-driver342.txt"
    assert main(["check", "--from", str(case)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"Facts read from {case}, not probed on this machine")
    assert "Not checked" in out and "gpu-arch-unsupported" in out and "driver-too-old" in out
