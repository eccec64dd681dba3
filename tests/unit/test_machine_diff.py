"""`envdoctor diff`: pairs of real collect_env reports (tests/fixtures/collect_env/README.md names their sources),
a check document beside a report, and facts built to show the rules for unknowns, libraries and variables.

Every expected value below was read off the reports by hand, with the knowledge it rests on named beside it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from envdoctor.cli import main
from envdoctor.diagnose.diff_process import compare_environment
from envdoctor.diagnose.differences import Collector, Difference, Group, MachineDiff, Rank, version_step
from envdoctor.diagnose.machine_diff import diff_facts
from envdoctor.diagnose.report import run_diagnosis
from envdoctor.facts import Facts, LoadedLibrary, TorchRuntime
from envdoctor.facts.torch import cudnn_release
from envdoctor.importers import read_facts
from envdoctor.importers.check_json import facts_from_document
from envdoctor.knowledge import knowledge
from envdoctor.knowledge.environment import WATCHED, watched
from envdoctor.render.differences import render_diff
from envdoctor.render.json_doc import check_document, diff_document, dumps
from tests.helpers import FIXTURES, sample_facts
from tests.machines import check_document as machine_document

KB = knowledge()
REPORTS = FIXTURES / "collect_env"
WSL_4070 = REPORTS / "29_healthy_wsl2-rtx4070-laptop-torch240-cu121.txt"  # torch 2.4.0+cu121, driver 551.88
A100_460 = REPORTS / "26_a100-driver460-vs-cu121-torch210.txt"  # torch 2.1.0 (CUDA 12.1), driver 460.32.03
H100_CU117 = REPORTS / "27_h100-sm90-vs-cu117-wheel-torch201.txt"  # torch 2.0.1+cu117, H100 PCIe, 535.104.12
V100_418 = REPORTS / "02_driver418-vs-cu102-wheel-v100.txt"  # torch 1.6.0 (CUDA 10.2), 2x V100, 418.67
CHECK_VM = FIXTURES / "check" / "vm-cpu-torch2.14.1-cu130.json"
CHECK_VM_NO_IMPORT = FIXTURES / "check" / "vm-cpu-no-import.json"
H200_CHECK = FIXTURES / "check" / "h200-torch2.11.0-cu130.json"  # driver 580.159.04, torch 2.11.0+cu130
H200_DEEP = FIXTURES / "check" / "h200-torch2.11.0-cu130-deep.json"
H200_COLLECT_ENV = FIXTURES / "check" / "h200-torch2.11.0-cu130.collect_env.txt"
P100_410 = REPORTS / "33_colonless-torch-version-p100-driver410-vs-cu102-torch150.txt"  # 1.5.0, 4x P100, 410.104


def diff(a: Path, b: Path) -> MachineDiff:
    return diff_facts(read_facts(str(a)), read_facts(str(b)), KB)


def row(result: MachineDiff, fact: str) -> Difference:
    (found,) = [d for d in result.differences if d.fact == fact]
    return found


def facts_of(result: MachineDiff) -> list[str]:
    return [d.fact for d in result.differences]


def test_a_driver_below_the_other_wheels_floor_ranks_first() -> None:
    result = diff(WSL_4070, A100_460)
    driver = result.differences[0]
    assert (driver.group, driver.fact, driver.a, driver.b, driver.rank) == (
        Group.DRIVER, "driver", "551.88", "460.32.03", Rank.BREAKS)
    # NVIDIA's CUDA 12.x driver floor on Linux is 525.60.13; A's wheel is cu121
    assert driver.why == ("B's driver 460.32.03 is below the 525.60.13 floor that A's torch 2.4.0+cu121 (CUDA 12.1) "
                          "needs")
    finding = row(result, "finding driver-too-old")
    assert (finding.a, finding.b, finding.rank) == (None, "error", Rank.BREAKS)
    gpus = row(result, "GPUs")
    assert (gpus.a, gpus.b, gpus.rank) == ("NVIDIA GeForce RTX 4070 Laptop GPU", "A100-PCIE-40GB", Rank.HIGH)
    assert "8.9 vs 8.0" in gpus.why
    torch = row(result, "torch")
    assert (torch.group, torch.a, torch.b, torch.rank) == (Group.TORCH, "2.4.0", "2.1.0", Rank.HIGH)
    assert (row(result, "CUDA available").a, row(result, "CUDA available").b) == ("yes", "no")
    # torch 2.1 has wheels for Python 3.8 to 3.11 (torch_releases.json): A's 3.12 cannot run B's torch
    python = row(result, "Python")
    assert (python.group, python.a, python.b, python.rank) == (Group.PLATFORM, "3.12.3", "3.8.18", Rank.BREAKS)
    assert python.why == "B's torch 2.1 has no wheels for A's Python 3.12 (it supports 3.8 to 3.11)"
    assert (row(result, "glibc").a, row(result, "glibc").b, row(result, "glibc").rank) == ("2.35", "2.27", Rank.LOW)
    assert "CUDA build" not in facts_of(result)  # both were built with CUDA 12.1
    assert result.matters and result.worst() is Rank.BREAKS
    groups = [d.group for d in result.differences]
    assert groups == sorted(groups, key=list(Group).index)  # grouped in the documented order


def test_a_gpu_one_wheel_has_no_code_for_breaks() -> None:
    result = diff(H100_CU117, WSL_4070)
    # torch's own warning in report 27: the cu117 wheel supports sm_37 ... sm_86; the 2.4 cu121 wheel has sm_90
    code = row(result, "wheel code for NVIDIA H100 PCIe (sm_90)")
    assert (code.group, code.a, code.b, code.rank) == (Group.DRIVER, "no", "yes", Rank.BREAKS)
    assert code.why.startswith("A's torch 2.0.1+cu117 has no code for sm_90") and code.why.endswith("on A")
    assert row(result, "finding gpu-arch-unsupported").a == "error"
    assert (row(result, "CUDA build").a, row(result, "CUDA build").b, row(result, "CUDA build").rank) == (
        "cu117", "cu121", Rank.HIGH)
    # 535.104.12 and 551.88 both clear every floor here: another branch, not a break
    assert (row(result, "driver").a, row(result, "driver").b, row(result, "driver").rank) == (
        "535.104.12", "551.88", Rank.MEDIUM)
    assert row(result, "Python").rank is Rank.BREAKS  # torch 2.0 has no wheels for B's Python 3.12
    # no code row for the RTX 4070 Laptop (sm_89): both wheels run it (cu117 through its sm_86 code)
    assert not any("4070" in fact for fact in facts_of(result) if fact.startswith("wheel code"))


def test_two_broken_cu102_machines_differ_in_gpus_torch_and_python() -> None:
    result = diff(V100_418, P100_410)
    # CUDA 10.2 needs driver 440.33: both drivers are below it
    driver = row(result, "driver")
    assert (driver.a, driver.b, driver.rank) == ("418.67", "410.104", Rank.BREAKS)
    gpus = row(result, "GPUs")  # report 33 pastes its four GPU lines with full-width colons
    assert (gpus.a, gpus.b, gpus.rank) == ("2x Tesla V100-PCIE-16GB", "4x Tesla P100-PCIE-16GB", Rank.HIGH)
    assert (row(result, "torch").a, row(result, "torch").b, row(result, "torch").rank) == ("1.6.0", "1.5.0", Rank.HIGH)
    vision = row(result, "torchvision")  # report 02 lists torch alone; 33 has torchvision 0.6.0
    assert (vision.a, vision.b, vision.rank) == (None, "0.6.0", Rank.MEDIUM)
    assert "torchvision 0.6.0 pairs with torch 1.5.0" in vision.why
    assert (row(result, "Python").a, row(result, "Python").b, row(result, "Python").rank) == ("3.7", "3.6", Rank.MEDIUM)
    assert "finding driver-too-old" not in facts_of(result)  # both have it: not a difference
    assert not [f for f in facts_of(result) if f.startswith("wheel code")]  # both wheels have sm_60 and sm_70


def test_a_real_check_document_beside_a_real_report() -> None:
    # tests/fixtures/check: envdoctor's own check of a VM with no GPU and no driver, torch 2.14.1+cu130 from PyPI
    result = diff(CHECK_VM, WSL_4070)
    driver = row(result, "driver")  # CUDA 13.x needs driver 580 or newer (NVIDIA's CUDA 13 release notes)
    assert (driver.a, driver.b, driver.rank) == (None, "551.88", Rank.BREAKS)
    assert driver.why == "B's driver 551.88 is below the 580 floor that A's torch 2.14.1+cu130 (CUDA 13.0) needs"
    assert (row(result, "GPUs").a, row(result, "GPUs").rank) == (None, Rank.HIGH)
    # B's 551.88 below A's floor is what makes the driver row break; with no CUDA wheel to judge it by, a driver on
    # one side only ranks high
    cpu_wheel = replace(read_facts(str(CHECK_VM)), torch=TorchRuntime(status="not_installed"),
                        packages=replace(read_facts(str(CHECK_VM)).packages, distributions=()))
    no_wheel = row(diff_facts(cpu_wheel, read_facts(str(WSL_4070)), KB), "driver")
    assert (no_wheel.a, no_wheel.b, no_wheel.rank) == (None, "551.88", Rank.HIGH)
    assert (row(result, "CUDA build").a, row(result, "CUDA build").b) == ("cu130", "cu121")
    assert (row(result, "CUDA available").a, row(result, "CUDA available").b) == ("no", "yes")
    warning = row(result, "finding cuda-wheel-without-gpu")
    assert (warning.a, warning.b, warning.rank) == ("warning", None, Rank.MEDIUM)
    unknown = {n.fact: (n.known_on, n.value) for n in result.not_comparable}
    assert unknown["cuDNN"] == ("A", "9.24.0") and unknown["environment variables"] == ("A", "PYTHONPATH=.")


def test_one_machine_checked_with_and_without_importing_torch_does_not_differ() -> None:
    # Both documents come from the same VM, the second made with --no-import: torch's run-time facts are unknown
    # there, not absent; the installed version (PyPI's wheel, no local tag) is the imported one
    result = diff(CHECK_VM, CHECK_VM_NO_IMPORT)
    assert result.differences == () and not result.matters
    assert {n.fact: n.unknown_on for n in result.not_comparable} == {
        "cuDNN": "B", "arch list": "B", "CUDA available": "B"}


def test_a_check_document_and_collect_env_of_one_machine_do_not_differ() -> None:
    # tests/fixtures/check: one H200 machine's check --json and collect_env report, made within a minute. collect_env
    # names the system's cuDNN 9.14.0; torch loaded its wheel's 9.19.0.56: a report's cuDNN is unknown, not 9.14.0
    result = diff(H200_CHECK, H200_COLLECT_ENV)
    assert result.differences == () and not result.matters
    unknown = {n.fact: (n.known_on, n.value, n.reason) for n in result.not_comparable}
    assert unknown["cuDNN"] == ("A", "9.19.0", "not in a collect_env report")
    assert unknown["NCCL"][:2] == ("A", "2.28.9")
    assert unknown["loaded libraries"][0] == "A" and "libcudnn 9.19.0.56" in str(unknown["loaded libraries"][1])
    assert unknown["environment variables"][0] == "A"


def test_libraries_loaded_at_cuda_initialisation_are_not_comparable_without_deep() -> None:
    # The same H200 checked with --deep and straight after without: CUDA's lazily loaded cuDNN engines are listed
    # only by the first, and libcudnn itself (loaded at import) is the wheel's 9.19.0.56 in both
    result = diff(H200_CHECK, H200_DEEP)
    assert result.differences == ()
    lazy = {n.fact for n in result.not_comparable if n.unknown_on == "A"}
    assert {"libcudnn_graph", "libcudnn_heuristic", "libcudnn_engines_precompiled"} <= lazy
    assert all("import only" in n.reason for n in result.not_comparable)


def test_identical_reports_have_no_difference() -> None:
    result = diff(WSL_4070, WSL_4070)
    assert result.differences == () and result.not_comparable == () and not result.matters


def test_a_check_document_of_a_report_matches_the_report(tmp_path: Path) -> None:
    facts = read_facts(str(A100_460))
    document = tmp_path / "a100.json"
    document.write_text(dumps(check_document(facts, run_diagnosis(facts, KB))))
    result = diff(document, A100_460)
    assert result.differences == () and result.not_comparable == ()


def test_a_check_document_beside_another_machines_report(tmp_path: Path) -> None:
    # tests/machines: the T4 of telegraf's capture (515.105.01) with torch 2.7.1+cu118, as `check --json` gives it
    document = tmp_path / "t4.json"
    document.write_text(json.dumps(machine_document("t4")))
    result = diff(document, WSL_4070)
    driver = row(result, "driver")
    assert (driver.a, driver.b, driver.rank) == ("515.105.01", "551.88", Rank.BREAKS)
    assert driver.why.startswith("A's driver 515.105.01 is below the 525.60.13 floor that B's torch 2.4.0+cu121")
    assert (row(result, "CUDA build").a, row(result, "CUDA build").b) == ("cu118", "cu121")
    unknown = {n.fact: n for n in result.not_comparable}
    assert unknown["environment variables"].unknown_on == "B"
    # report 29 gives CUDA_MODULE_LOADING alone ("set to: LAZY"); A's machine sets no variable at all
    assert (unknown["environment variables"].value, unknown["environment variables"].known_on) == ("none set", "A")
    assert unknown["environment variables"].reason.startswith("a collect_env report lists no environment variable")
    module_loading = row(result, "CUDA_MODULE_LOADING")
    assert (module_loading.a, module_loading.b, module_loading.rank) == (None, "LAZY", Rank.LOW)


def _with(facts: Facts, **torch: object) -> Facts:
    return replace(facts, torch=replace(facts.torch, **torch))  # type: ignore[arg-type]


def test_unknown_on_one_side_is_not_a_difference() -> None:
    a = sample_facts()
    b = _with(a, cudnn=None, nccl=None, unknown={"cudnn": "not read", "nccl": "not read"})
    b = replace(b, system=replace(b.system, environment={}, unknown={"environment": "not probed"}))
    a = replace(a, system=replace(a.system, environment={"CUDA_VISIBLE_DEVICES": ""}))
    result = diff_facts(a, b, KB)
    assert result.differences == () and not result.matters
    unknown = {n.fact: (n.known_on, n.value, n.unknown_on, n.reason) for n in result.not_comparable}
    assert unknown == {"cuDNN": ("A", "9.1.0", "B", "not read"), "NCCL": ("A", "2.20.5", "B", "not read"),
                       "environment variables": ("A", "CUDA_VISIBLE_DEVICES=", "B", "not probed")}


def test_nccl_is_not_read_where_cuda_is_not_available() -> None:
    a = sample_facts()
    # B as a document saved before the torch probe gave its reason: reading it back supplies the reason
    b = facts_from_document(json.loads(dumps(check_document(_with(a, cuda_available=False, nccl=None)))), "b.json")
    result = diff_facts(a, b, KB)
    assert (row(result, "CUDA available").b, row(result, "CUDA available").rank) == ("no", Rank.HIGH)
    (nccl,) = [n for n in result.not_comparable if n.fact == "NCCL"]
    assert nccl.reason == "not read: torch reports NCCL's version only where CUDA is available"


def test_a_finding_the_other_side_could_not_check_is_not_comparable() -> None:
    a = sample_facts()  # LD_LIBRARY_PATH holds a CUDA 11.8 libcublas: library-shadowing
    toolkit = replace(a.toolkit, library_dirs=(), unknown={"library_dirs": "not read"})
    result = diff_facts(a, replace(a, toolkit=toolkit), KB)
    assert "finding library-shadowing" not in facts_of(result)
    (note,) = [n for n in result.not_comparable if n.fact == "finding library-shadowing"]
    assert (note.known_on, note.value, note.group) == ("A", "warning", Group.LIBRARIES)
    assert note.reason == "library-shadowing: LD_LIBRARY_PATH is not known"
    shadowed = diff_facts(a, replace(a, toolkit=replace(toolkit, unknown={})), KB)  # known: no such directory
    assert row(shadowed, "finding library-shadowing").rank is Rank.MEDIUM  # a warning on one side


def _lib(name: str, version: str, origin: str, stage: str = "import") -> LoadedLibrary:
    return LoadedLibrary(name, f"/somewhere/{name}.so", version, "file name", origin, stage)


def test_a_system_library_in_place_of_the_wheels_ranks_high() -> None:
    wheel = (_lib("libcudnn", "9.1.0", "torch-wheel"), _lib("libcublas", "12.1.3", "torch-wheel"),
             _lib("libnccl", "2.20.5", "torch-wheel", "cuda-init"))
    system = (_lib("libcudnn", "8.9.2", "system"), _lib("libcublas", "12.1.0", "torch-wheel"))
    result = diff_facts(_with(sample_facts(), loaded_libraries=wheel), _with(sample_facts(), loaded_libraries=system),
                        KB)
    cudnn = row(result, "libcudnn")
    assert (cudnn.group, cudnn.a, cudnn.b, cudnn.rank) == (
        Group.LIBRARIES, "9.1.0 (torch-wheel)", "8.9.2 (system)", Rank.HIGH)
    assert cudnn.why.startswith("from torch-wheel on A, system on B: cuDNN")
    assert row(result, "libcublas").rank is Rank.LOW  # 12.1.3 and 12.1.0: a patch apart
    # B listed its libraries at import only, so whether it would load NCCL at CUDA initialisation is not known
    (nccl,) = [n for n in result.not_comparable if n.fact == "libnccl"]
    assert (nccl.known_on, nccl.unknown_on) == ("A", "B") and "import only" in nccl.reason
    blind = _with(sample_facts(), loaded_libraries=None, unknown={"loaded_libraries": "not listed on macOS"})
    (note,) = diff_facts(_with(sample_facts(), loaded_libraries=wheel), blind, KB).not_comparable
    assert (note.fact, note.reason) == ("loaded libraries", "not listed on macOS")


def test_foot_gun_variables_rank_above_the_rest() -> None:
    a = {"CUDA_VISIBLE_DEVICES": "0", "OMP_NUM_THREADS": "8", "VIRTUAL_ENV": "/a", "NCCL_DEBUG": "INFO"}
    b = {"CUDA_VISIBLE_DEVICES": "", "VIRTUAL_ENV": "/b", "LD_PRELOAD": "/opt/libfoo.so", "NCCL_IB_DISABLE": "1"}
    base = sample_facts()
    collector = Collector(dict(KB.fact_notes))
    compare_environment(collector, replace(base, system=replace(base.system, environment=a)),
                        replace(base, system=replace(base.system, environment=b)))
    ranks = {d.fact: (d.a, d.b, d.rank) for d in collector.result("A", "B", "").differences}
    assert ranks == {
        "CUDA_VISIBLE_DEVICES": ("0", "", Rank.HIGH), "LD_PRELOAD": (None, "/opt/libfoo.so", Rank.HIGH),
        "NCCL_IB_DISABLE": (None, "1", Rank.HIGH), "NCCL_DEBUG": ("INFO", None, Rank.MEDIUM),
        "OMP_NUM_THREADS": ("8", None, Rank.MEDIUM), "VIRTUAL_ENV": ("/a", "/b", Rank.LOW)}
    order = [d.rank for d in collector.result("A", "B", "").differences]
    assert order == sorted(order, reverse=True)


def test_a_hostname_never_matters() -> None:
    a = sample_facts()
    result = diff_facts(a, replace(a, origin=replace(a.origin, hostname="gpu-node-8"),
                                   collected_at="2026-12-01T00:00:00+00:00", probe_seconds={"torch": 9.0}), KB)
    (host,) = result.differences
    assert (host.fact, host.a, host.b, host.rank) == ("hostname", "gpu-node-7", "gpu-node-8", Rank.NOISE)
    assert not result.matters


def test_every_watched_variable_has_a_rank_and_the_foot_guns_rank_high() -> None:
    assert {row.rank for row in WATCHED} <= {r.label for r in Rank}
    foot_guns = ("CUDA_VISIBLE_DEVICES", "CUDA_LAUNCH_BLOCKING", "NCCL_P2P_DISABLE", "NCCL_IB_DISABLE", "LD_PRELOAD",
                 "LD_LIBRARY_PATH")
    assert {name: getattr(watched(name), "rank", None) for name in foot_guns} == dict.fromkeys(foot_guns, "high")
    assert all(row.rank != "high" for row in WATCHED if row.name not in foot_guns)


@pytest.mark.parametrize(("a", "b", "step"), [("2.4.0", "1.4.0", 0), ("2.4.0+cu121", "2.1.0", 1),
                                              ("2.4.1", "2.4.0", 2), ("2.4.0+cu121", "2.4.0+cu124", 3),
                                              ("12", "12.4.127", 1), ("N/A", "2.4", 0)])
def test_version_step(a: str, b: str, step: int) -> None:
    assert version_step(a, b) == step


@pytest.mark.parametrize(("number", "text"), [(90100, "9.1.0"), (8907, "8.9.7"), (7605, "7.6.5")])
def test_cudnn_release(number: int, text: str) -> None:
    assert cudnn_release(number) == text


def test_the_report_shows_the_verdict_each_group_and_the_unknowns() -> None:
    out = io.StringIO()
    render_diff(Console(file=out, width=160, color_system=None), diff(WSL_4070, A100_460))
    text = out.getvalue()
    assert "6 differences that matter (worst: breaks), 4 minor, 2 not comparable" in text
    assert text.index("driver and GPUs") < text.index("torch and companions") < text.index("Python and OS")
    assert "nvcc: unknown on B because the report names no nvcc; A: 12.4.131" in text
    # report 29 says "CUDA_MODULE_LOADING set to: LAZY", report 26 "N/A"
    assert "environment variables: unknown on B because" in text and "A: CUDA_MODULE_LOADING=LAZY" in text


def test_the_json_document_is_versioned() -> None:
    document = diff_document(diff(WSL_4070, A100_460))
    assert (document["schema"], document["schema_version"], document["matters"], document["worst"]) == (
        "envdoctor.diff", 1, True, "breaks")
    assert document["differences"][0] == {
        "group": "driver and GPUs", "fact": "driver", "a": "551.88", "b": "460.32.03", "rank": "breaks",
        "why": "B's driver 460.32.03 is below the 525.60.13 floor that A's torch 2.4.0+cu121 (CUDA 12.1) needs"}


@pytest.mark.parametrize(("args", "message"), [
    (["/nonexistent/a.json", str(WSL_4070)], "cannot read /nonexistent/a.json"),
    ([str(WSL_4070), str(FIXTURES / "os_release" / "ubuntu_22.04.2_jammy.txt")],
     "not a collect_env report or envdoctor JSON"),
    ([str(FIXTURES / "results" / "cpu-tiny-2rounds.json"), str(WSL_4070)], "not an envdoctor check document"),
    (["-", "-"], "only one of A and B can be read from standard input"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("envdoctor: error: ") and message in err


def test_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(WSL_4070), str(WSL_4070)]) == 0
    assert main(["diff", str(WSL_4070), str(A100_460), "--json"]) == 1
    capsys.readouterr()


@pytest.mark.slow
def test_diff_through_the_command_line_with_one_side_on_standard_input() -> None:
    result = subprocess.run([sys.executable, "-m", "envdoctor", "diff", str(WSL_4070), "-"], input=A100_460.read_text(),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert "B: standard input" in result.stdout and "breaks" in result.stdout and result.stderr == ""

