"""`envdoctor history`: real results documents over "time", a simulated 3x slowdown marked where it happens, and
an environment change annotated where it happens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.cli import main
from tests.helpers import THREE_ROUNDS, scaled


def runs(tmp_path: Path) -> list[str]:
    """The recorded 3-round run twice, then 3x slower on a new torch."""
    real = json.loads(THREE_ROUNDS.read_text())
    slower = scaled(real, 3.0)
    slower["fingerprint"]["torch"] = "2.15.0+cu130"
    paths = []
    for index, document in enumerate((real, real, slower), start=1):
        path = tmp_path / f"run{index}.json"
        path.write_text(json.dumps(document))
        paths.append(str(path))
    return paths


def test_a_change_point_and_an_environment_change_are_marked(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", *runs(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    ((key, points),) = result["cells"]
    assert key == "mlp/eager/cpu"
    assert [p["change"] for p in points] == ["", "", "regressed"]
    assert points[2]["value"] == pytest.approx(points[0]["value"] / 3, rel=1e-6)
    assert result["env_changes"] == [[2, ["torch: 2.14.1+cu130 -> 2.15.0+cu130"]]]


def test_markdown_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    markdown = tmp_path / "history.md"
    assert main(["history", *runs(tmp_path), "--markdown", str(markdown)]) == 0
    out = capsys.readouterr().out
    assert "environment changed at #3: torch: 2.14.1+cu130 -> 2.15.0+cu130" in out and " v" in out
    text = markdown.read_text()
    assert text.startswith("## envdoctor history: samples_per_s, 3 runs, samples_per_s:5%")
    assert "**regressed**" in text


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", str(THREE_ROUNDS)]) == 2
    assert "at least two results documents" in capsys.readouterr().err
    assert main(["history", str(THREE_ROUNDS), str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.startswith("envdoctor: error: cannot read")
