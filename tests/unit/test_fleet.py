"""`envdoctor fleet` on a fleet derived from real documents of the development VM: one slow node, one mismatched
driver, and the same fleet underived.

Each node is one real launch of `bench` on the VM plus the VM's real `check --json` (tests/fixtures/README.md, check/
and results/): `cpu-tiny-2rounds.json` and its rerun ran every cell twice, a process per round, so they hold four
launches. Node N's results are launch N alone (the cell's steps of that round; samples/s = batch / their median,
as bench computes it), so that the nodes differ as launches of the same command on one machine really do. Copies of
one document would not do: identical peers have a MAD of 0, which judges nothing (test below).

mlp/amp/cpu is left out of the fleet: its four real launches hold a real outlier (test below), and the fleet's
underived form must have none. The derived fleet: node02 takes every step twice as long (tests.helpers.scaled,
factor 2: throughput halved); node03 reports driver 590.48.01, the driver of the real H200 capture
tests/fixtures/nvidia_smi/text_h200_590.48.01.txt, where the VM (and so its three peers) has none.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Optional

import pytest

from envdoctor.cli import main
from envdoctor.commands.fleet import fleet_report
from envdoctor.results.robust import spread
from tests.helpers import FIXTURES, scaled

CHECK = FIXTURES / "check" / "vm-cpu-torch2.14.1-cu130.json"
RUNS = (FIXTURES / "results" / "cpu-tiny-2rounds.json", FIXTURES / "results" / "cpu-tiny-2rounds-rerun.json")
H200_DRIVER = "590.48.01"  # text_h200_590.48.01.txt: "Driver Version: 590.48.01"
LEFT_OUT = ("mlp/amp/cpu",)


def launch(document: dict[str, Any], index: int, host: str, keep: Optional[tuple[str, ...]] = None) -> dict[str, Any]:
    """The results of one launch (round `index`) of a real run, as that host's; figures computed over every round
    that this derivation does not recompute are dropped rather than left stale."""
    result = copy.deepcopy(document)
    result["fingerprint"]["volatile"]["hostname"] = host
    result["config"]["repeat"] = 1
    cells = []
    for cell in result["cells"]:
        if (keep is None and cell["key"] in LEFT_OUT) or (keep is not None and cell["key"] not in keep):
            continue
        start = sum(cell["round_step_counts"][:index])
        steps = cell["step_times_s"][start:start + cell["round_step_counts"][index]]
        median = cell["round_medians_s"][index]
        cell.update(step_times_s=steps, round_step_counts=[len(steps)], round_medians_s=[median],
                    window_s=[cell["window_s"][index]], samples_per_s=cell["batch_size"] / median, stats=None,
                    window_samples_per_s=None, tokens_per_s=None, achieved_tflops=None, mfu=None,
                    speedup_vs_eager=None, memory_ratio_vs_eager=None)
        cells.append(cell)
    result["cells"] = cells
    return result


def check_as(host: str, driver: Optional[str] = None) -> dict[str, Any]:
    document = json.loads(CHECK.read_text())
    document["facts"]["origin"]["hostname"] = host
    if driver is not None:
        document["facts"]["nvidia"]["driver_version"] = driver
        del document["facts"]["nvidia"]["unknown"]["driver_version"]
    return document


def write_fleet(directory: Path, derived: bool, keep: Optional[tuple[str, ...]] = None) -> Path:
    """node01..node04: launches 1 and 2 of the run, then of its rerun; derived: node02 slow, node03's driver."""
    runs = [json.loads(path.read_text()) for path in RUNS]
    for number, (run, index) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)], start=1):
        host = f"node{number:02d}"
        results = launch(runs[run], index, host, keep)
        if derived and host == "node02":
            results = scaled(results, 2.0)
        check = check_as(host, H200_DRIVER if derived and host == "node03" else None)
        (directory / f"{host}.bench.json").write_text(json.dumps(results))
        (directory / f"{host}.check.json").write_text(json.dumps(check))
    return directory


def oddities(directory: Path) -> set[tuple[str, str, str]]:
    report = fleet_report(sorted(directory.glob("*.json")))
    return {(o.host, o.check, o.subject) for o in report.oddities}


def test_the_slow_node_and_the_mismatched_driver_are_the_odd_ones(tmp_path: Path) -> None:
    # mlp/eager/cpu samples/s, by hand from the launches' round medians (64 / median step):
    #   node01 34832.8, node02 30943.8 / 2 = 15471.9, node03 33650.2, node04 39041.4
    #   median (33650.2 + 34832.8) / 2 = 34241.5; |deviations| 591.3, 18769.6, 591.3, 4799.9 → MAD 2695.6
    #   node02: 0.6745 * -18769.6 / 2695.6 = -4.70 (an outlier); node04: +1.20.
    # transformer/eager/cpu: node02 943.5 / 2 = 471.8 against 950.2, 1234.2, 1123.3: median 1036.7, MAD 142.0,
    #   z = -2.68; transformer/amp/cpu: z = -1.38. The VM's launches differ by up to 30% in those cells, too much
    #   for a halving to stand out among four nodes there.
    # driver: node03's 590.48.01 against none on the other three nodes with no GPU.
    assert oddities(write_fleet(tmp_path, derived=True)) == {("node02", "throughput", "mlp/eager/cpu"),
                                                             ("node03", "driver", "node")}
    report = fleet_report(sorted(tmp_path.glob("*.json")))
    (mlp,) = [c for c in report.cells if c.key == "mlp/eager/cpu"]
    assert mlp.median == pytest.approx(34241.5, abs=0.1) and mlp.mad == pytest.approx(2695.6, abs=0.1)
    assert {s.host: round(s.z or 0, 2) for s in mlp.scores} == {"node01": 0.15, "node02": -4.70, "node03": -0.15,
                                                                "node04": 1.20}
    (driver,) = [o for o in report.oddities if o.check == "driver"]
    assert driver.detail == "driver 590.48.01, where 3 of 4 nodes with no GPU have none"
    assert [len(g.hosts) for g in report.groups] == [3, 1]  # node03's driver makes its own configuration


def test_the_underived_fleet_has_no_odd_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = write_fleet(tmp_path, derived=False)
    assert oddities(directory) == set()
    assert main(["fleet", str(directory)]) == 0
    assert "no odd one out among 4 nodes, 1 configuration" in capsys.readouterr().out


def test_exit_1_and_the_json_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", str(write_fleet(tmp_path, derived=True)), "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "envdoctor.fleet" and document["schema_version"] == 1
    assert document["odd_one_out"] is True and document["odd_hosts"] == ["node02", "node03"]
    assert [n["host"] for n in document["nodes"]] == ["node01", "node02", "node03", "node04"]
    assert document["nodes"][0]["config"]["torch"] == {"value": "2.14.1+cu130", "unknown": None, "source": "check"}
    # The VM's torch is a CUDA build without CUDA: its probe reads no NCCL version, which is unknown, not none.
    assert document["nodes"][0]["config"]["nccl"]["value"] is None
    assert document["nodes"][0]["config"]["nccl"]["unknown"].startswith("not read: torch reports NCCL's version")


def test_the_real_launches_of_mlp_amp_hold_a_real_outlier(tmp_path: Path) -> None:
    # mlp/amp/cpu, 64 / each launch's median step: 54846.1, 6067.4, 17256.9, 17416.7 samples/s. Median 17336.8;
    # |deviations| 37509.3, 11269.4, 79.9, 79.9 → MAD 5674.6; node01: 0.6745 * 37509.3 / 5674.6 = +4.46.
    write_fleet(tmp_path, derived=False, keep=("mlp/amp/cpu",))
    report = fleet_report(sorted(tmp_path.glob("*.json")))
    (cell,) = report.cells
    assert {s.host: round(s.z or 0, 2) for s in cell.scores} == {"node01": 4.46, "node02": -1.34, "node03": -0.01,
                                                                 "node04": 0.01}
    assert [(o.host, o.check) for o in report.oddities] == [("node01", "throughput")]
    assert "above the median 17,336.8 of 4 nodes" in report.oddities[0].detail


def test_identical_peers_judge_nothing(tmp_path: Path) -> None:
    # Four copies of launch 1, one of them twice as slow: three of four values equal the median, MAD = 0.
    run = json.loads(RUNS[0].read_text())
    for number in range(1, 5):
        results = launch(run, 0, f"copy{number}", keep=("mlp/eager/cpu",))
        (tmp_path / f"copy{number}.json").write_text(json.dumps(scaled(results, 2.0) if number == 4 else results))
    report = fleet_report(sorted(tmp_path.glob("*.json")))
    (cell,) = report.cells
    assert cell.mad == 0 and all(s.z is None for s in cell.scores)
    assert cell.not_judged is not None and cell.not_judged.startswith("the median absolute deviation is 0")
    assert report.oddities == ()


def test_two_nodes_are_too_few_to_judge(tmp_path: Path) -> None:
    run = json.loads(RUNS[0].read_text())
    (tmp_path / "a.json").write_text(json.dumps(launch(run, 0, "a", keep=("mlp/eager/cpu",))))
    (tmp_path / "b.json").write_text(json.dumps(scaled(launch(run, 1, "b", keep=("mlp/eager/cpu",)), 4.0)))
    report = fleet_report(sorted(tmp_path.glob("*.json")))
    (cell,) = report.cells
    assert cell.not_judged == "too few peers to judge (2; at least 3 needed)" and report.oddities == ()


def test_the_modified_z_score_by_hand() -> None:
    # [1, 2, 3, 4, 100]: median 3, |deviations| 2, 1, 0, 1, 97 → MAD 1; z = 0.6745 * (x - 3).
    judged = spread([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (judged.median, judged.mad) == (3.0, 1.0)
    assert [round(z or 0, 4) for z in judged.scores] == [-1.349, -0.6745, 0.0, 0.6745, 65.4265]
    assert judged.outliers() == [4]


def test_unknown_software_is_never_an_outlier(tmp_path: Path) -> None:
    # The VM's real `check --json --no-import`: torch was not imported, so without bench results torch is unknown.
    for number in range(1, 4):
        document = json.loads((FIXTURES / "check" / "vm-cpu-no-import.json").read_text())
        document["facts"]["origin"]["hostname"] = f"n{number}"
        (tmp_path / f"n{number}.json").write_text(json.dumps(document))
    report = fleet_report(sorted(tmp_path.glob("*.json")))
    assert report.oddities == ()
    assert report.groups[0].config["torch"] == "unknown"
    assert any(n.host == "n1" and n.text == "torch unknown: torch was not imported (skipped: skipped by --no-import)"
               for n in report.notes)


def test_a_bad_file_is_listed_and_the_rest_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = write_fleet(tmp_path, derived=False)
    (directory / "node05.check.json").write_text('{"schema": "envdoctor.check", "schema_vers')
    (directory / "notes.json").write_text('{"hello": 1}')
    (directory / "deep.json").write_text("[" * 100_000)
    (directory / "binary.json").write_bytes(b"\xff\xfe\x00\x81")
    assert main(["fleet", str(directory), "--json"]) == 1
    output = capsys.readouterr()
    document = json.loads(output.out)
    assert document["odd_hosts"] == [] and len(document["nodes"]) == 4
    reasons = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in document["skipped"]}
    assert reasons == {"binary.json": "not a text file", "deep.json": "nested more than 64 levels deep",
                       "node05.check.json": reasons["node05.check.json"],
                       "notes.json": "not an envdoctor check or bench document (its \"schema\" is None)"}
    assert reasons["node05.check.json"].endswith("not valid JSON: Unterminated string starting at at line 1")
    assert output.err.count("envdoctor: warning: skipped ") == 4


def test_a_second_document_for_one_host_is_skipped(tmp_path: Path) -> None:
    directory = write_fleet(tmp_path, derived=False)
    (directory / "zz-again.check.json").write_text(json.dumps(check_as("node01")))
    report = fleet_report(sorted(directory.glob("*.json")))
    (skipped,) = report.skipped
    assert skipped.path.endswith("zz-again.check.json") and "a second check document for host node01" in skipped.reason


def test_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in ((["fleet", "no/such/dir"], "no/such/dir: no such file or directory"),
                          (["fleet", str(tmp_path)], f"{tmp_path} holds no *.json file"),
                          (["fleet", str(tmp_path), "--json", "--markdown"],
                           "--json and --markdown without a FILE both print to standard output; give --markdown a "
                           "FILE")):
        assert main(argv) == 2
        assert capsys.readouterr().err == f"envdoctor: error: {message}\n"


def test_nothing_readable_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.json").write_text("[]")
    assert main(["fleet", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("envdoctor: error: none of the 1 files is an envdoctor check or bench")


def test_markdown_to_stdout_and_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "fleet"
    directory.mkdir()
    write_fleet(directory, derived=True)
    assert main(["fleet", str(directory), "--markdown"]) == 1
    printed = capsys.readouterr().out
    assert printed.startswith("## envdoctor fleet: 2 odd ones out among 4 nodes (node02, node03), 2 configurations")
    assert "| node03 | driver | node | driver 590.48.01, where 3 of 4 nodes with no GPU have none |" in printed
    assert main(["fleet", str(directory), "--markdown", str(tmp_path / "fleet.md")]) == 1
    assert (tmp_path / "fleet.md").read_text() == printed


@pytest.mark.slow
def test_python_m_envdoctor_fleet(tmp_path: Path) -> None:
    import subprocess
    import sys

    directory = write_fleet(tmp_path, derived=True)
    result = subprocess.run([sys.executable, "-m", "envdoctor", "fleet", str(directory)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert "2 odd ones out among 4 nodes (node02, node03)" in result.stdout
