"""`check --python PATH`: another interpreter's environment, probed in that interpreter, with nothing of envdoctor
installed there; an interpreter that cannot run the probes is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envdoctor.cli import main


def venv(tmp_path: Path) -> Path:
    """A bare virtual environment (no pip, no envdoctor) and its site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True)
    return tmp_path / "env"


def site_packages(env: Path) -> Path:
    (site,) = (env / "lib").glob("python*/site-packages")
    return site


def install_stand_in_torch(env: Path, version: str) -> None:
    """A `torch` module and its dist-info in `env` only: what the probes find proves they looked there."""
    site = site_packages(env)
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text(f"__version__ = {version!r}\nfrom . import version\n")
    (site / "torch" / "version.py").write_text("cuda = '12.1'\nhip = None\n")
    info = site / f"torch-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")
    (info / "top_level.txt").write_text("torch\n")


def check_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["check", "--json", *argv]) in (0, 1)
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


@pytest.mark.slow
def test_the_probes_run_in_the_other_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = venv(tmp_path)
    install_stand_in_torch(env, "2.4.1+cu121")
    facts = check_json(capsys, "--python", str(env / "bin" / "python"))["facts"]
    assert isinstance(facts, dict)
    python, torch, packages = facts["system"]["python"], facts["torch"], facts["packages"]
    assert python["executable"] == str(env / "bin" / "python") and python["env_kind"] == "venv"
    assert (torch["status"], torch["version"], torch["cuda"]) == ("ok", "2.4.1+cu121", "12.1")
    assert torch["origin"].startswith(str(site_packages(env)))
    assert [(d["name"], d["version"]) for d in packages["distributions"]] == [("torch", "2.4.1+cu121")]


@pytest.mark.slow
def test_an_interpreter_without_torch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = venv(tmp_path)
    document = check_json(capsys, "--python", str(env / "bin" / "python"), "--no-import")
    facts = document["facts"]
    assert isinstance(facts, dict) and facts["packages"]["distributions"] == []
    assert "pip_version" in facts["system"]["python"]["unknown"]  # a bare venv: no pip either
    # torch-missing's fix installs into that environment, not into whatever `python` is first on PATH
    missing = next(f for f in document["findings"] if f["id"] == "torch-missing")  # type: ignore[attr-defined]
    assert missing["command"].startswith(f"{env / 'bin' / 'python'} -m pip install torch==")
    assert all(a["plan"]["pip_command"].startswith(f"{env / 'bin' / 'python'} -m pip install ")
               for a in document["advice"] if a["plan"])  # type: ignore[attr-defined]


def test_what_cannot_run_the_probes_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "python2"
    # a stand-in at the boundary: an "interpreter" that answers as Python 2.7 would
    old.write_text('#!/bin/sh\necho \'{"version": "2.7.18", "implementation": "CPython", "executable": "x", '
                   '"bits": 64, "free_threaded": false, "prefix": "/", "base_prefix": "/", "path": []}\'\n')
    old.chmod(0o755)
    deep = tmp_path / "deep"
    deep.write_text("#!/bin/sh\nprintf '%0100000d' 0 | tr 0 '['\necho\n")  # JSON nested 100,000 deep
    deep.chmod(0o755)
    cases = [(str(deep), "not a Python that can run envdoctor's probes"),
             (str(old), "Python 2.7.18 is older than envdoctor's probes support (3.7 and newer)"),
             ("/bin/true", "not a Python that can run envdoctor's probes"),
             (str(tmp_path / "missing"), "cannot run it: No such file or directory")]
    for path, message in cases:
        assert main(["check", "--python", path]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert main(["check", "--python", sys.executable, "--from", str(old)]) == 2
    assert "choose one" in capsys.readouterr().err
