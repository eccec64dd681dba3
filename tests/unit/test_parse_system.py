"""Parsers of kernel, CPU, OS-release and ROCm outputs, on real captured text (tests/fixtures/README.md)."""

from __future__ import annotations

import pytest

from envdoctor.parse.kernel import (
    NvidiaKernelModule,
    parse_nvidia_proc_version,
    parse_sys_module_version,
    wsl_generation,
)
from envdoctor.parse.lscpu import parse_lscpu
from envdoctor.parse.os_release import parse_os_release
from envdoctor.parse.rocminfo import RocmAgent, parse_rocminfo
from tests.helpers import fixture_text


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("proprietary_x86_64_384.98.txt", NvidiaKernelModule("384.98", "proprietary")),
        ("open_x86_64_525.60.11_arch.txt", NvidiaKernelModule("525.60.11", "open")),
        ("open_x86_64_565.57.01_ubuntu2404.txt", NvidiaKernelModule("565.57.01", "open")),
        ("open_aarch64_jetson_l4t_35.3.1.txt", NvidiaKernelModule("35.3.1", "open")),
    ],
)
def test_proc_driver_version(name: str, expected: NvidiaKernelModule) -> None:
    assert parse_nvidia_proc_version(fixture_text(f"proc_driver_version/{name}")) == expected


def test_proc_driver_version_rejects_other_text() -> None:
    assert parse_nvidia_proc_version("GCC version:  gcc version 12.2.0 (GCC)\n") is None


@pytest.mark.parametrize(("text", "expected"), [("550.54.14\n", "550.54.14"), ("  535.104.05", "535.104.05"),
                                                ("", None), ("garbage", None)])
def test_sys_module_version(text: str, expected: str | None) -> None:
    assert parse_sys_module_version(text) == expected


@pytest.mark.parametrize(
    ("name", "generation"),
    [
        ("wsl2_5.4.72-microsoft-standard-WSL2.txt", 2),
        ("wsl2_custom_4.19.104-microsoft-standard.txt", 2),
        ("wsl1_3.4.0-Microsoft.txt", 1),
        ("linux_debian10_4.19.0-9-amd64.txt", None),
        ("linux_rhcos417_el9_5.14.0-427.txt", None),
        ("linux_ubuntu2204_5.15.0-130-generic.txt", None),
        ("linux_ubuntu2404_6.8.0-50-generic.txt", None),
    ],
)
def test_wsl_generation(name: str, generation: int | None) -> None:
    assert wsl_generation(fixture_text(f"proc_version/{name}")) == generation


def test_lscpu_sapphire_rapids_has_amx() -> None:
    info = parse_lscpu(fixture_text("lscpu/lscpu_x86_64_xeon_8488c_sapphire_rapids_m7i.txt"))
    assert info.model_name == "Intel(R) Xeon(R) Platinum 8488C"
    assert info.cpus == 8
    assert info.flags is not None
    assert {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"} <= info.flags


def test_lscpu_epyc_two_sockets() -> None:
    info = parse_lscpu(fixture_text("lscpu/lscpu_x86_64_amd_epyc7451_2s_utillinux.txt"))
    assert info.model_name == "AMD EPYC 7451 24-Core Processor"
    assert (info.cpus, info.threads_per_core, info.cores) == (96, 2, 48)
    assert info.flags is not None and "avx2" in info.flags and "avx512f" not in info.flags


def test_lscpu_nested_layout_on_grace() -> None:
    info = parse_lscpu(fixture_text("lscpu/lscpu_aarch64_grace_neoverse-v2_gh200.txt"))
    assert (info.model_name, info.cpus, info.cores) == ("Neoverse-V2", 72, 72)
    assert info.flags is not None and {"asimd", "sve2"} <= info.flags


def test_lscpu_flat_arm_runner() -> None:
    info = parse_lscpu(fixture_text("lscpu/lscpu_aarch64_neoverse-n2_github_runner.txt"))
    assert (info.architecture, info.model_name, info.cores) == ("aarch64", "Neoverse-N2", 4)


def test_lscpu_old_format_without_flags_or_model() -> None:
    info = parse_lscpu(fixture_text("lscpu/lscpu_x86_64_old_format_no_flags_dellr710_utillinux.txt"))
    assert info.flags is None and info.model_name is None
    assert (info.cpus, info.cores) == (16, 8)  # "CPU socket(s): 2" x "Core(s) per socket: 4"


@pytest.mark.parametrize(
    ("name", "distro", "version", "pretty"),
    [
        ("ubuntu_22.04.2_jammy.txt", "ubuntu", "22.04", "Ubuntu 22.04.2 LTS"),
        ("ubuntu_20.04.6_focal.txt", "ubuntu", "20.04", "Ubuntu 20.04.6 LTS"),
        ("debian_12_bookworm.txt", "debian", "12", "Debian GNU/Linux 12 (bookworm)"),
        ("rhel_8.7_ubi8.txt", "rhel", "8.7", "Red Hat Enterprise Linux 8.7 (Ootpa)"),
        ("rocky_9.5.txt", "rocky", "9.5", "Rocky Linux 9.5 (Blue Onyx)"),
        ("alpine_3.19.8.txt", "alpine", "3.19.8", "Alpine Linux v3.19"),
        ("amazon_linux_2023.txt", "amzn", "2023", "Amazon Linux 2023"),
        ("amazon_linux_2.txt", "amzn", "2", "Amazon Linux 2"),
        ("centos_7.txt", "centos", "7", "CentOS Linux 7 (Core)"),
    ],
)
def test_os_release(name: str, distro: str, version: str, pretty: str) -> None:
    values = parse_os_release(fixture_text(f"os_release/{name}"))
    assert (values["ID"], values["VERSION_ID"], values["PRETTY_NAME"]) == (distro, version, pretty)


def test_os_release_skips_broken_lines() -> None:
    assert parse_os_release('ID=ubuntu\nNAME="unterminated\n# comment\nnot a pair\n') == {"ID": "ubuntu"}


def test_rocminfo_four_mi210() -> None:
    agents = parse_rocminfo(fixture_text("rocminfo/rocminfo_gfx90a_4xmi210_rocm5.7.1.txt"))
    assert agents == (RocmAgent("gfx90a", "AMD Instinct MI210"),) * 4  # the two EPYC CPU agents are left out


def test_rocminfo_consumer_gpu() -> None:
    agents = parse_rocminfo(fixture_text("rocminfo/rocminfo_gfx1100_rx7900xtx_rocm6.2.2.txt"))
    assert agents == (RocmAgent("gfx1100", "Radeon RX 7900 XTX"),)
