"""The command line as a user meets it: help, one-line errors, exit codes, real runs of `check`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from envdoctor.cli import main

ENTRY_POINT = Path(sys.executable).parent / "envdoctor"


def run_cli(*args: str, env: dict[str, str] | None = None,
            python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "envdoctor", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, check=False)


def test_help_from_both_entry_points() -> None:
    module = run_cli("--help")
    assert module.returncode == 0 and "exit codes:" in module.stdout and "check" in module.stdout
    if ENTRY_POINT.exists():  # installed as a console script
        script = subprocess.run([str(ENTRY_POINT), "--help"], capture_output=True, text=True, check=False)
        assert script.returncode == 0 and script.stdout == module.stdout


def test_check_help_documents_exit_codes_and_the_override() -> None:
    result = run_cli("check", "--help")
    assert result.returncode == 0
    assert "exit codes:" in result.stdout and "ENVDOCTOR_CUDA_DRIVER_VERSION" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "--bogus"], "unrecognized arguments: --bogus"),
        (["nonsense"], "invalid choice: 'nonsense'"),
        ([], "a command is required"),
        (["check", "--timeout", "soon"], "not a number of seconds"),
        (["check", "--timeout", "0"], "must be above 0 and at most 86400 seconds"),
        (["check", "--torch", "9.9"], "--torch 9.9: not a torch release in the knowledge base"),
        (["check", "--deep", "--no-import"], "--deep runs torch"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("envdoctor: error: ") and message in err


def test_bad_driver_override_is_one_line() -> None:
    result = run_cli("check", "--no-import", env={"ENVDOCTOR_CUDA_DRIVER_VERSION": "latest"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "envdoctor: error: ENVDOCTOR_CUDA_DRIVER_VERSION='latest' is not a driver version like 550.54.14"]


def test_driver_override_is_reported() -> None:
    result = run_cli("check", "--no-import", "--json", env={"ENVDOCTOR_CUDA_DRIVER_VERSION": "550.54.14"})
    nvidia = json.loads(result.stdout)["facts"]["nvidia"]
    assert (nvidia["driver_version"], nvidia["driver_source"]) == ("550.54.14", "env:ENVDOCTOR_CUDA_DRIVER_VERSION")


def test_an_error_finding_exits_1_and_names_its_id() -> None:
    result = run_cli("check", "--no-import", "--json", env={"ENVDOCTOR_CUDA_DRIVER_VERSION": "418.67"})
    document = json.loads(result.stdout)
    ids = {f["id"]: f for f in document["findings"]}
    torch_is_cuda_build = "cuda-wheel-without-gpu" in ids or "driver-too-old" in ids
    if not torch_is_cuda_build:
        pytest.skip("needs a CUDA build of torch installed")
    assert result.returncode == 1
    assert ids["driver-too-old"]["severity"] == "error" and ids["driver-too-old"]["command"]
    assert document["knowledge_valid_as_of"] and document["advice"][0]["plan"]


def test_strict_fails_on_warnings_only_when_there_are_some() -> None:
    relaxed = run_cli("check", "--no-import", "--json")
    strict = run_cli("check", "--no-import", "--json", "--strict")
    severities = {f["severity"] for f in json.loads(relaxed.stdout)["findings"]}
    assert relaxed.returncode == (1 if "error" in severities else 0)
    assert strict.returncode == (1 if severities & {"error", "warning"} else 0)


def test_no_import_report_on_a_pipe_has_no_escape_codes() -> None:
    result = run_cli("check", "--no-import", env={"TERM": "xterm-256color"})
    assert result.returncode == 0, result.stderr
    for section in ("Findings", "System", "Accelerators", "PyTorch", "Toolkit"):
        assert section in result.stdout
    assert "\x1b[" not in result.stdout and result.stderr == ""


def test_no_color_is_honoured_when_colour_is_forced() -> None:
    forced = run_cli("check", "--no-import", env={"FORCE_COLOR": "1"})
    assert "\x1b[36m" in forced.stdout  # cyan labels: colour does reach a forced terminal
    plain = run_cli("check", "--no-import", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[36m" not in plain.stdout


@pytest.mark.slow
def test_real_check_json() -> None:
    result = run_cli("check", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    facts = document["facts"]
    assert document["schema"] == "envdoctor.check" and facts["origin"]["kind"] == "probe"
    assert facts["system"]["python"]["executable"] == sys.executable
    torch_installed = any(d["name"] == "torch" for d in facts["packages"]["distributions"])
    assert facts["torch"]["status"] == ("ok" if torch_installed else "not_installed")
    assert set(facts["probe_seconds"]) >= {"nvidia", "packages", "torch", "cpu"}


def _venv_without_torch(target: Path) -> Path:
    """A fresh virtual environment holding envdoctor and its dependencies only, linked from this one (offline)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    needed = ["rich", "psutil", "nvidia-ml-py", "packaging", "pygments", "markdown-it-py", "mdurl"]
    for name in needed:
        dist = metadata.distribution(name)
        tops = {f.parts[0] for f in dist.files or () if f.parts and f.parts[0] not in ("..", "__pycache__")}
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    (site / "envdoctor").symlink_to(Path(__file__).resolve().parent.parent / "envdoctor")
    return python


@pytest.mark.slow
def test_check_in_a_fresh_venv_without_torch(tmp_path: Path) -> None:
    python = _venv_without_torch(tmp_path / "venv")
    result = run_cli("check", "--json", python=str(python))
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)["facts"]
    assert facts["torch"]["status"] == "not_installed"
    assert not any(d["name"] == "torch" for d in facts["packages"]["distributions"])
    assert [f["id"] for f in json.loads(result.stdout)["findings"]] == ["torch-missing"]
    assert facts["system"]["python"]["env_kind"] == "venv"
    text = run_cli("check", python=str(python))
    assert text.returncode == 0 and "not installed" in text.stdout
