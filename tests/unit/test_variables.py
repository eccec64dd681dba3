"""The environment variables torch heeds: probed (with secrets masked), imported, judged, round-tripped."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Optional

import pytest

from envdoctor.cli import main
from envdoctor.diagnose.rules import context, diagnose, unchecked
from envdoctor.diagnose.variables import hides_every_gpu, strtol
from envdoctor.facts import Facts
from envdoctor.importers.collect_env import facts_from_report
from envdoctor.knowledge import knowledge
from envdoctor.probe.system import probe_environment
from tests.helpers import FIXTURES, facts_for, fixture_text, make_host, sample_facts

KB = knowledge()
A100 = ("NVIDIA A100-SXM4-80GB", (8, 0))
REPORTS = FIXTURES / "collect_env"


def with_env(facts: Facts, **env: str) -> Facts:
    return replace(facts, system=replace(facts.system, environment=env))


def ids(facts: Facts) -> dict[str, list[str]]:
    """Each finding's id → the severities it fired with."""
    found: dict[str, list[str]] = {}
    for finding in diagnose(facts, KB):
        found.setdefault(finding.id, []).append(finding.severity.label)
    return found


# --- the probe -------------------------------------------------------------------------------------------------

def test_the_probe_keeps_watched_names_and_prefixes_and_nothing_else(fake_root: Path) -> None:
    env = {"CUDA_VISIBLE_DEVICES": "0,1", "CUDA_LAUNCH_BLOCKING": "1", "NCCL_SOCKET_IFNAME": "=eth0",
           "NCCL_IB_PKEY": "0x8001", "TORCH_NCCL_BLOCKING_WAIT": "1",
           "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True", "OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "8",
           "LD_PRELOAD": "/usr/lib/libjemalloc.so.2",
           "HOME": "/root", "PATH": "/usr/bin", "TORCHINDUCTOR_CACHE_DIR": "/tmp/x", "MY_NCCL_THING": "1"}
    found = probe_environment(make_host(fake_root, env=env))
    assert found == {name: value for name, value in env.items()
                     if name not in ("HOME", "PATH", "TORCHINDUCTOR_CACHE_DIR", "MY_NCCL_THING")}
    assert list(found) == sorted(found)  # by name: two probes of one machine compare line by line


def test_the_probe_masks_what_may_be_a_credential_and_keeps_the_name(fake_root: Path) -> None:
    env = {"TORCH_HUB_TOKEN": "hf_abcdefgh", "NCCL_NET_PASSWORD": "hunter2", "PYTORCH_API_KEY": "sk-123",
           "TORCH_SECRET": "s3cr3t", "PYTORCH_KERNEL_CACHE_PATH": "/cache",
           "TORCH_DISTRIBUTED_STORE": "https://alice:hunter3@store.example:8080/x"}
    found = probe_environment(make_host(fake_root, env=env))
    assert set(found) == set(env)
    for name in ("TORCH_HUB_TOKEN", "NCCL_NET_PASSWORD", "PYTORCH_API_KEY", "TORCH_SECRET"):
        assert found[name] == "<masked>"
    assert found["PYTORCH_KERNEL_CACHE_PATH"] == "/cache"  # KERNEL is no KEY
    assert found["TORCH_DISTRIBUTED_STORE"] == "https://alice:<masked>@store.example:8080/x"
    assert not any(secret in value for value in found.values()
                   for secret in ("hf_abcdefgh", "hunter2", "sk-123", "s3cr3t", "hunter3"))


# --- CUDA_VISIBLE_DEVICES ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "hidden"), [
    ("", True),  # CUDA: "set to an empty string, no GPU devices are visible"
    ("-1", True),
    ("0,2,-1,1", False),  # CUDA's own example: devices 0 and 2 stay visible
    ("-1,0", True),  # the first invalid entry ends the list
    ("2", True),  # this machine has GPUs 0 and 1
    ("1", False),
    ("NoDevFiles", True),  # what Slurm sets for a job given no GPU
    ("GPU-513536b6", False),  # the start of the first GPU's UUID
    ("GPU-deadbeef", True),
    ("MIG-GPU-513536b6-7d19-9063-b049-1e69664bb298/1/0", None),  # MIG instances are not among the facts
])
def test_cuda_visible_devices_by_cudas_rule(value: str, hidden: Optional[bool]) -> None:
    gpus = sample_facts().nvidia.gpus
    gpus = (gpus[0], replace(gpus[1], uuid="GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"))
    why = hides_every_gpu(value, gpus, count_known=True)
    assert (why is not None) == bool(hidden)


def test_what_cannot_be_known_is_not_judged() -> None:
    gpus = sample_facts().nvidia.gpus  # GPU 1's UUID is unknown
    assert hides_every_gpu("GPU-deadbeef", gpus, count_known=True) is None
    assert hides_every_gpu("5", gpus, count_known=False) is None
    assert hides_every_gpu("-1", gpus, count_known=False) is not None


def test_hidden_gpus_are_one_finding_not_two() -> None:
    facts = with_env(sample_facts(), CUDA_VISIBLE_DEVICES="-1")
    facts = replace(facts, torch=replace(facts.torch, cuda_available=False, device_count=0, devices=()))
    found = ids(facts)
    assert found["gpus-hidden"] == ["error"] and "cuda-unavailable" not in found
    (finding,) = [f for f in diagnose(facts, KB) if f.id == "gpus-hidden"]
    assert dict(finding.evidence)["CUDA_VISIBLE_DEVICES"] == "'-1'" and finding.command == "unset CUDA_VISIBLE_DEVICES"


def test_torch_seeing_a_device_outweighs_the_rule() -> None:
    # sample_facts: torch saw 2 devices, so whatever the value, the GPUs were not all hidden from it
    assert "gpus-hidden" not in ids(with_env(sample_facts(), CUDA_VISIBLE_DEVICES="GPU-deadbeef"))


# --- CUDA_LAUNCH_BLOCKING, NCCL ----------------------------------------------------------------------------------

def test_launch_blocking_matters_only_with_an_nvidia_gpu() -> None:
    assert ids(with_env(facts_for(), CUDA_LAUNCH_BLOCKING="1"))["cuda-launch-blocking"] == ["warning"]
    assert "cuda-launch-blocking" not in ids(with_env(facts_for(torch="2.4.1+cpu", driver=None),
                                                      CUDA_LAUNCH_BLOCKING="1"))


@pytest.mark.parametrize(("text", "number"), [
    ("1", 1), ("0", 0), ("0x1", 1), (" 010", 8), ("1abc", 1), ("-3", -3), ("true", 0), ("", 0), ("08", 0),
])
def test_strtol_reads_as_c_does(text: str, number: int) -> None:
    assert strtol(text) == number


@pytest.mark.parametrize(("env", "gpus", "expected"), [
    ({"NCCL_P2P_DISABLE": "1"}, (A100, A100), ["warning"]),
    ({"NCCL_P2P_DISABLE": "0x1"}, (A100, A100), ["warning"]),
    ({"NCCL_P2P_DISABLE": "2"}, (A100, A100), None),  # NCCL's ncclGetLevel disables P2P on exactly 1
    ({"NCCL_P2P_DISABLE": "true"}, (A100, A100), None),  # strtol reads 0
    ({"NCCL_P2P_DISABLE": "1"}, (A100,), None),  # one GPU: no peer to talk to
    ({"NCCL_IB_DISABLE": "1"}, (A100,), ["info"]),  # across machines only
    ({"NCCL_IB_DISABLE": "2", "NCCL_P2P_DISABLE": "1"}, (A100, A100), ["warning"]),
    ({"NCCL_IB_DISABLE": "1"}, (), None),  # no NVIDIA GPU: no NCCL
])
def test_nccl_transports(env: dict[str, str], gpus: tuple[tuple[str, tuple[int, int]], ...],
                         expected: Optional[list[str]]) -> None:
    facts = facts_for(gpus=gpus) if gpus else facts_for(torch="2.4.1+cpu", driver=None)
    assert ids(with_env(facts, **env)).get("nccl-transport-disabled") == expected


# --- threads -----------------------------------------------------------------------------------------------------

def with_cpu(facts: Facts, **changes: object) -> Facts:
    return replace(facts, system=replace(facts.system, cpu=replace(facts.system.cpu, **changes)))  # type: ignore[arg-type]


@pytest.mark.parametrize(("env", "fired"), [
    ({"OMP_NUM_THREADS": "33"}, ["OMP_NUM_THREADS=33"]),  # 32 usable of 128
    ({"OMP_NUM_THREADS": "32"}, []),
    ({"OMP_NUM_THREADS": "64,2"}, ["OMP_NUM_THREADS=64"]),  # a nested list: the outermost level's count
    ({"MKL_NUM_THREADS": "128", "OMP_NUM_THREADS": "4"}, ["MKL_NUM_THREADS=128"]),
    ({"OMP_NUM_THREADS": "many"}, []),
])
def test_threads_above_the_usable_cpus(env: dict[str, str], fired: list[str]) -> None:
    findings = [f for f in diagnose(with_env(sample_facts(), **env), KB) if f.id == "thread-oversubscription"]
    assert [f.title.split(" ")[0] for f in findings] == fired


def test_threads_fall_back_to_all_threads_and_never_rest_on_unknown_cpus() -> None:
    no_affinity = with_cpu(with_env(sample_facts(), OMP_NUM_THREADS="64"), usable_threads=None)
    assert "thread-oversubscription" not in ids(no_affinity)  # 64 of 128
    unknown = with_cpu(with_env(sample_facts(), OMP_NUM_THREADS="64"), usable_threads=None, threads=None,
                       unknown={"cores": "lscpu: not found"})
    assert "thread-oversubscription" not in ids(unknown)
    assert any(n.startswith("thread-oversubscription") and "lscpu: not found" in n
               for n in unchecked(context(unknown, KB)))


# --- facts from files ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "environment", "why"), [
    ("20_rtx5090d-sm120-vs-cu126-wheel-torch260", {"CUDA_MODULE_LOADING": "LAZY"}, "torch sets LAZY"),
    ("27_h100-sm90-vs-cu117-wheel-torch201", {"CUDA_MODULE_LOADING": "EAGER"}, "torch sets LAZY"),
    ("22_cpuonly-torch181-on-2x-rtx3090", {}, "N/A: CUDA was not available"),
    ("02_driver418-vs-cu102-wheel-v100", {}, "has no such line"),
])
def test_a_report_gives_cuda_module_loading_alone(case: str, environment: dict[str, str], why: str) -> None:
    facts = facts_from_report(fixture_text(f"collect_env/{case}.txt"), case)
    assert dict(facts.system.environment) == environment
    reason = facts.system.unknown["environment"]
    assert reason.startswith("a collect_env report lists no environment variable but CUDA_MODULE_LOADING")
    assert why in reason
    notes = unchecked(context(facts, KB))
    assert any(n.startswith("gpus-hidden, cuda-launch-blocking") for n in notes)


def test_variables_round_trip_through_check_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "4096")
    monkeypatch.setenv("TORCH_HUB_TOKEN", "hf_abcdefgh")
    monkeypatch.setenv("NCCL_DEBUG", "INFO")
    main(["check", "--no-import", "--json"])
    saved = capsys.readouterr().out
    first = json.loads(saved)
    path = tmp_path / "check.json"
    path.write_text(saved)
    main(["check", "--from", str(path), "--json"])
    again = json.loads(capsys.readouterr().out)
    environment = first["facts"]["system"]["environment"]
    assert environment["OMP_NUM_THREADS"] == "4096" and environment["NCCL_DEBUG"] == "INFO"
    assert environment["TORCH_HUB_TOKEN"] == "<masked>" and "hf_abcdefgh" not in saved
    assert again["facts"]["system"]["environment"] == environment and again["facts"]["system"]["unknown"] == {}
    assert "thread-oversubscription" in [f["id"] for f in first["findings"]]
    assert [f["id"] for f in again["findings"]] == [f["id"] for f in first["findings"]]


def test_a_reports_unknown_variables_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "--from", str(REPORTS / "20_rtx5090d-sm120-vs-cu126-wheel-torch260.txt"), "--json"])
    saved = capsys.readouterr().out
    path = tmp_path / "report.json"
    path.write_text(saved)
    main(["check", "--from", str(path), "--json"])
    first, again = json.loads(saved), json.loads(capsys.readouterr().out)
    assert again["facts"]["system"]["unknown"] == first["facts"]["system"]["unknown"] != {}
    assert again["facts"]["system"]["environment"] == {"CUDA_MODULE_LOADING": "LAZY"}
    assert again["not_checked"] == first["not_checked"]
