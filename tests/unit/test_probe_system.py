"""System, CPU and memory probes against a fake file system and recorded command outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from envdoctor.probe.cpu import probe_cpu
from envdoctor.probe.host import CommandResult
from envdoctor.probe.system import probe_memory, probe_os, probe_python
from tests.helpers import fixture_text, make_host


def test_os_from_os_release_in_wsl2(fake_root: Path) -> None:
    host = make_host(fake_root, files={
        "/etc/os-release": fixture_text("os_release/ubuntu_22.04.2_jammy.txt"),
        "/proc/version": fixture_text("proc_version/wsl2_5.4.72-microsoft-standard-WSL2.txt"),
    })
    info = probe_os(host)
    assert (info.name, info.distro_id, info.version, info.wsl) == ("Ubuntu 22.04.2 LTS", "ubuntu", "22.04", 2)
    assert info.container is None and info.container_evidence is None


def test_os_without_os_release_says_why(fake_root: Path) -> None:
    info = probe_os(make_host(fake_root, files={"/proc/version": "Linux version 6.8.0 (x) #1 SMP"}))
    assert info.name is None and info.unknown["name"] == "no /etc/os-release"
    assert info.wsl is None


@pytest.mark.parametrize(
    ("files", "env", "container", "evidence"),
    [
        ({"/.dockerenv": ""}, {}, "docker", "/.dockerenv"),
        ({"/run/.containerenv": ""}, {}, "podman", "/run/.containerenv"),
        ({}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "kubernetes", "KUBERNETES_SERVICE_HOST is set"),
        ({"/proc/1/cgroup": "0::/kubepods/burstable/pod1/abc\n"}, {}, "kubernetes", "/proc/1/cgroup mentions kubepods"),
        ({"/proc/1/cgroup": "0::/init.scope\n"}, {}, None, None),
    ],
)
def test_container_detection(fake_root: Path, files: dict[str, str], env: dict[str, str],
                             container: str | None, evidence: str | None) -> None:
    info = probe_os(make_host(fake_root, files=files, env=env))
    assert (info.container, info.container_evidence) == (container, evidence)


def test_glibc_is_not_applicable_off_linux(fake_root: Path) -> None:
    info = probe_os(make_host(fake_root, system="Windows"))
    assert info.glibc is None and "Windows" in info.unknown["glibc"]
    assert info.distro_id == "windows" and info.container is None


def test_python_describes_this_interpreter() -> None:
    info = probe_python()
    assert info.executable == sys.executable
    assert info.version == ".".join(map(str, sys.version_info[:3]))
    assert info.bits in (32, 64)
    assert info.env_kind in ("venv", "conda", "system")


def test_memory_reads_shm_size(fake_root: Path) -> None:
    (fake_root / "dev" / "shm").mkdir(parents=True)
    info = probe_memory(make_host(fake_root))
    assert info.total_bytes and info.total_bytes > 0
    assert info.shm_total_bytes and info.shm_total_bytes > 0  # the fake /dev/shm is on the test's disk


def test_memory_without_shm_says_why(fake_root: Path) -> None:
    info = probe_memory(make_host(fake_root))
    assert info.shm_total_bytes is None and "/dev/shm" in info.unknown["shm_total_bytes"]


def test_cpu_features_from_lscpu(fake_root: Path) -> None:
    host = make_host(fake_root, answers={
        ("lscpu",): fixture_text("lscpu/lscpu_x86_64_xeon_8488c_sapphire_rapids_m7i.txt")})
    info = probe_cpu(host)
    assert info.source == "lscpu" and info.model == "Intel(R) Xeon(R) Platinum 8488C"
    assert info.isa is not None
    assert {"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"} <= set(info.isa)


def test_cpu_arm_features(fake_root: Path) -> None:
    host = make_host(fake_root, answers={("lscpu",): fixture_text("lscpu/lscpu_aarch64_grace_neoverse-v2_gh200.txt")})
    info = probe_cpu(host)
    assert info.isa is not None and {"asimd", "sve2"} <= set(info.isa) and "avx2" not in info.isa


def test_cpu_without_lscpu_says_why(fake_root: Path) -> None:
    host = make_host(fake_root, answers={("lscpu",): CommandResult(("lscpu",), None, "", "", "not found")})
    info = probe_cpu(host)
    assert info.isa is None and info.unknown["isa"] == "lscpu: not found"
    assert info.threads  # psutil still counts the CPUs


def test_cpu_old_lscpu_without_flags(fake_root: Path) -> None:
    host = make_host(fake_root, answers={
        ("lscpu",): fixture_text("lscpu/lscpu_x86_64_old_format_no_flags_dellr710_utillinux.txt")})
    info = probe_cpu(host)
    assert info.isa is None and "no Flags line" in info.unknown["isa"]
