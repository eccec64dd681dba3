"""Tests generated from the knowledge tables: every variant's driver floor, every listed architecture."""

from __future__ import annotations

from dataclasses import replace

import pytest
from packaging.version import Version

from envdoctor.diagnose.archs import parse_arch, runs_on
from envdoctor.diagnose.rules import context, driver_too_old, gpu_arch_unsupported
from envdoctor.knowledge import knowledge
from tests.helpers import facts_for

KB = knowledge()
CUDA_VARIANTS = [(r.series, r.latest, v) for r in KB.releases for v in r.cuda]


def one_step_below(version: Version) -> str:
    parts = list(version.release)
    parts[-1] -= 1
    return ".".join(map(str, parts))


def test_every_release_has_patches_python_and_a_torchvision_pairing() -> None:
    assert len(KB.releases) >= 29 and KB.releases[0].series == "2.14"
    for release in KB.releases:
        assert release.patches and release.python, release.series
        assert all(p in release.torchvision for p in release.patches), release.series


@pytest.mark.parametrize(("series", "patch", "variant"), CUDA_VARIANTS, ids=[f"{s}-{v.variant}" for s, _, v in
                                                                            CUDA_VARIANTS])
@pytest.mark.parametrize("system", ["Linux", "Windows"])
def test_minimum_driver_is_accepted_at_the_boundary_and_refused_below(series: str, patch: str, variant,  # type: ignore[no-untyped-def]
                                                                       system: str) -> None:
    os_name = system.lower()
    needed = KB.minimum_driver(variant.cuda, os_name)
    if needed is None:
        pytest.skip(f"no {os_name} driver floor known for CUDA {variant.cuda}")
    torch = f"{patch}+{variant.variant}"
    at = facts_for(torch=torch, driver=str(needed), system=system, gpus=(("GPU", None),))
    below = facts_for(torch=torch, driver=one_step_below(needed), system=system, gpus=(("GPU", None),))
    assert driver_too_old(context(at, KB)) == []
    (finding,) = driver_too_old(context(below, KB))
    assert finding.id == "driver-too-old" and str(needed) in finding.title


ARCH_ROWS = [(row, arch) for row in KB.wheel_archs for arch in row.archs if parse_arch(arch)]


@pytest.mark.parametrize(("row", "arch"), ARCH_ROWS,
                         ids=[f"{r.distribution}-{r.torch}-{r.variant}-{r.platform}-{a}" for r, a in ARCH_ROWS])
def test_every_listed_architecture_runs_its_own_device(row, arch: str) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_arch(arch)
    assert parsed is not None
    assert runs_on(row.archs, parsed[1], KB.exact_arch_devices)


def test_binary_compatibility_runs_forward_within_a_major_only() -> None:
    assert runs_on(["sm_86"], (8, 9), KB.exact_arch_devices)  # Ampere code on Ada
    assert not runs_on(["sm_89"], (8, 6), KB.exact_arch_devices)  # not backwards
    assert not runs_on(["sm_90"], (10, 0), KB.exact_arch_devices)  # not across a major
    assert runs_on(["compute_90"], (10, 0), KB.exact_arch_devices)  # PTX is compiled by the driver
    assert not runs_on(["sm_80", "sm_86"], (8, 7), KB.exact_arch_devices)  # Jetson Orin needs its own
    assert not runs_on(["sm_90a"], (9, 1), KB.exact_arch_devices)  # arch-specific code: that device only


def test_rtx_5090_on_a_cu126_wheel_is_too_new_and_pascal_on_cu128_too_old() -> None:
    blackwell = facts_for(torch="2.7.1+cu126", driver="575.51.03", gpus=(("NVIDIA GeForce RTX 5090", (12, 0)),))
    (new,) = gpu_arch_unsupported(context(blackwell, KB))
    assert "too new" in new.title and "sm_120" in new.title
    pascal = facts_for(torch="2.8.0+cu128", driver="575.51.03", gpus=(("NVIDIA GeForce GTX 1080", (6, 1)),))
    (old,) = gpu_arch_unsupported(context(pascal, KB))
    assert "too old" in old.title
    assert old.command is not None and "cu126" in old.command  # torch 2.8 in the variant that still has Pascal


def test_runtime_arch_list_wins_over_the_table() -> None:
    facts = facts_for(torch="2.4.1+cu121", gpus=(("NVIDIA H100", (9, 0)),), arch_list=("sm_80",))
    (finding,) = gpu_arch_unsupported(context(facts, KB))
    assert "torch._C._cuda_getArchFlags()" in dict(finding.evidence)["wheel architectures"]


@pytest.mark.parametrize(
    ("name", "capability"),
    [("NVIDIA GeForce GTX 1080 Ti", (6, 1)), ("Tesla V100-PCIE-16GB", (7, 0)), ("NVIDIA A100-SXM4-80GB", (8, 0)),
     ("NVIDIA A10", (8, 6)), ("NVIDIA A10G", (8, 6)), ("GeForce RTX 2080 Ti", (7, 5)), ("Tesla T4", (7, 5)),
     ("NVIDIA H100 80GB HBM3", (9, 0)), ("NVIDIA GeForce RTX 4090", (8, 9)), ("NVIDIA GeForce RTX 5090", (12, 0))],
)
def test_gpu_names_resolve_to_capabilities(name: str, capability: tuple[int, int]) -> None:
    model = KB.gpu_capability(name)
    assert model is not None and model.capability == capability


def test_valid_as_of_is_a_date() -> None:
    assert KB.valid_as_of.startswith("2026-")


def test_dev_builds_fall_inside_their_series() -> None:
    release = KB.release("1.13.0.dev20220525")
    assert release is not None and release.series == "1.13"
    assert replace(release).series == "1.13"
