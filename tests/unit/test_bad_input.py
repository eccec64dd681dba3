"""Every bad input issue 11 found gives one line on stderr and a documented exit code, never a traceback."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cli import main
from envdoctor.importers import decode, read_facts
from envdoctor.probe.torch_child import MARKER
from envdoctor.probe.torch_runtime import probe_torch_runtime

FIXTURES = Path(__file__).parent.parent / "fixtures"
RESULTS = FIXTURES / "results" / "cpu-tiny-2rounds.json"
REPORT = FIXTURES / "collect_env" / "05_cpu-only-torch131-on-rtx2080ti.txt"


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 2) -> str:
    """Run envdoctor in-process, expect `code` and exactly one line on stderr; return that line."""
    assert main(list(argv)) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("envdoctor: error: "), err
    return err


def results(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(RESULTS.read_text())
    return {**document, **changes}


def with_cell(**changes: Any) -> dict[str, Any]:
    document = results()
    document["cells"] = copy.deepcopy(document["cells"])
    document["cells"][0].update(changes)
    return document


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_deep_nesting_is_refused_before_parsing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = write(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000)
    assert "nested more than 64 levels deep" in one_line_error(capsys, "check", "--from", deep)
    assert "nested more than 64 levels deep" in one_line_error(capsys, "compare", deep, str(RESULTS))
    # the depth counter skips brackets inside strings
    braces = write(tmp_path, "braces.json", json.dumps(results(note="[" * 100)))
    assert main(["compare", str(RESULTS), braces, "--gate", "samples_per_s:100%"]) == 0


@pytest.mark.parametrize("argv", [
    ["check", "--timeout", "inf"], ["check", "--timeout", "1e308"], ["check", "--timeout", "nan"],
    ["bench", "--timeout", "inf", "--dry-run"], ["bench", "--timeout", "1e308", "--dry-run"],
    ["bench", "--min-time", "nan", "--dry-run"], ["bench", "--min-time", "-1", "--dry-run"],
])
def test_timeouts_are_finite_and_bounded(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    message = one_line_error(capsys, *argv)
    assert "86400" in message or "3600" in message


@pytest.mark.parametrize(("document", "message"), [
    (results(fingerprint=["a", "b"]), "fingerprint should be an object, not list"),
    (results(config="tiny"), "config should be an object, not str"),
    (with_cell(round_step_counts=["a"]), "cells[0].round_step_counts[0] should be int, not str"),
    (with_cell(step_times_s=[0.0, 0.0], round_step_counts=[2]), "a step time is 0 or negative"),
    (with_cell(round_step_counts=[1, 1]), "do not split the"),
    (with_cell(batch_size=True), "cells[0].batch_size should be int, not bool"),
    (with_cell(samples_per_s=-3.0), "samples_per_s -3.0 is negative"),
    (with_cell(status="fine"), "status 'fine' is not one of"),
    (with_cell(stats={"steps": 1}), "cells[0].stats.median_s is missing"),
])
def test_compare_type_checks_every_field(document: dict[str, Any], message: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.json", json.dumps(document))
    assert message in one_line_error(capsys, "compare", str(RESULTS), bad)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_step_times_are_refused(constant: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(with_cell(step_times_s=[0.001, 12345.0], round_step_counts=[2])).replace("12345.0", constant)
    bad = write(tmp_path, "nan.json", text)
    message = one_line_error(capsys, "compare", str(RESULTS), bad)
    assert "is not a number JSON allows" in message or "should be a finite number" in message


def test_outputs_go_into_directories_that_do_not_exist_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "runner" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    markdown = tmp_path / "new" / "report.md"
    assert main(["compare", str(RESULTS), str(RESULTS), "--markdown", str(markdown)]) == 0
    assert markdown.read_text().startswith("## envdoctor: no regression")
    assert summary.read_text().startswith("## envdoctor: no regression")


def test_an_output_whose_parent_is_a_file_is_refused_before_any_work(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    message = one_line_error(capsys, "compare", str(RESULTS), str(RESULTS), "--markdown",
                             str(tmp_path / "file" / "report.md"))
    assert message.endswith("file/report.md: Not a directory\n") and "--markdown" in message


def test_a_chart_name_must_say_png_or_svg(capsys: pytest.CaptureFixture[str]) -> None:
    assert "the chart is drawn as .png or .svg" in one_line_error(
        capsys, "compare", str(RESULTS), str(RESULTS), "--plot", "chart.xyz")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_on_standard_output_is_one_line_and_exit_3() -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "envdoctor", "check", "--no-import", "--json"],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    assert result.returncode == 3
    assert result.stderr.splitlines() == ["envdoctor: error: cannot write the output: No space left on device"]


def test_a_torch_child_printing_its_marker_then_garbage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "shadow" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        f"__version__ = '2.4.1'\nfrom . import version\nprint({MARKER!r} + '{{not json')\n")
    (package / "version.py").write_text("cuda = None\nhip = None\n")
    monkeypatch.setenv("PYTHONPATH", str(package.parent))
    runtime = probe_torch_runtime(timeout_s=30)
    assert runtime.status == "import_failed"
    assert runtime.error is not None and "the torch probe's result is unreadable" in runtime.error


@pytest.mark.parametrize(("codec", "bom"), [
    ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-16-le", b""), ("utf-16-be", b""),
    ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff"), ("utf-8", b"\xef\xbb\xbf"),
])
def test_reports_in_every_encoding_windows_writes(codec: str, bom: bytes, tmp_path: Path) -> None:
    text = REPORT.read_text(encoding="utf-8")
    encoded = tmp_path / "report.txt"
    encoded.write_bytes(bom + text.encode(codec))
    assert read_facts(str(encoded)).torch == read_facts(str(REPORT)).torch
    assert read_facts(str(encoded)).torch.version == "1.3.1"


def test_latin1_is_the_last_resort_and_binary_is_refused() -> None:
    assert decode("Caf\xe9".encode("latin-1")) == "Caf\xe9"
    assert decode(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00") is None


def test_capabilities_outside_the_knowledge_base_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    message = one_line_error(capsys, "advise", "--driver", "550.54.14", "--gpu", "99.9", "--python", "3.11",
                             "--os", "linux")
    assert "compute capability 99.9 is outside the range" in message
    assert main(["advise", "--driver", "550.54.14", "--gpu", "12.1", "--python", "3.11", "--os", "linux"]) == 0


def test_a_check_document_with_an_impossible_capability(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.machines import check_document

    document = check_document("rtx-4090")
    document["facts"]["torch"]["devices"][0]["capability"] = [99, 9]
    bad = write(tmp_path, "check.json", json.dumps(document))
    assert "facts.torch.devices[0]: compute capability 99.9" in one_line_error(capsys, "check", "--from", bad)


@pytest.mark.parametrize("gate", ["samples_per_s:1000%", "samples_per_s:0%", "peak_memory:100.5%"])
def test_gate_thresholds_lie_between_0_and_100_percent(gate: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert "above 0% and at most 100%" in one_line_error(capsys, "compare", str(RESULTS), str(RESULTS),
                                                         "--gate", gate)


@pytest.mark.parametrize("command", [["check", "--no-import"], ["bench", "--dry-run"]])
def test_every_command_refuses_the_same_bad_driver_override(command: list[str], monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENVDOCTOR_CUDA_DRIVER_VERSION", "latest")
    assert one_line_error(capsys, *command) == (
        "envdoctor: error: ENVDOCTOR_CUDA_DRIVER_VERSION='latest' is not a driver version like 550.54.14\n")


def test_an_unparseable_torch_version_still_gets_a_fix_command(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    report = write(tmp_path, "report.txt", REPORT.read_text().replace("PyTorch version: 1.3.1",
                                                                       "PyTorch version: banana"))
    assert main(["check", "--from", report, "--json"]) == 1
    findings = {f["id"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert findings["cpu-wheel-on-gpu-host"]["evidence"][0]["value"].startswith("banana")
    assert "pip install torch==" in findings["cpu-wheel-on-gpu-host"]["command"]


def test_markdown_without_a_baseline_is_an_impossible_combination(capsys: pytest.CaptureFixture[str]) -> None:
    assert "need --baseline" in one_line_error(capsys, "bench", "--markdown", "report.md")


def test_a_directory_as_output_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert f"--output {tmp_path} is a directory" in one_line_error(
        capsys, "bench", "--device", "cpu", "--output", str(tmp_path))

