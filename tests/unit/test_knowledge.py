"""Tests generated from the knowledge tables: every variant's driver floor, every listed architecture."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

import pytest
from packaging.version import Version

from envdoctor.diagnose.archs import runs_on
from envdoctor.diagnose.rules import context, driver_too_old, gpu_arch_unsupported, wheel_archs
from envdoctor.knowledge import knowledge
from tests.helpers import facts_for

KB = knowledge()
CUDA_VARIANTS = [(r.series, r.latest, v) for r in KB.releases for v in r.cuda]


def one_step_below(version: Version) -> str:
    parts = list(version.release)
    parts[-1] -= 1
    return ".".join(map(str, parts))


def test_every_release_has_patches_python_and_a_torchvision_pairing() -> None:
    assert len(KB.releases) >= 30 and KB.releases[0].series == "2.15"
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


# Real GPUs on real builds, each verdict taken from a public report or PyTorch's own statements (code index file ids
# are this project's search index; GitHub threads are named). Checked through the rule `check` runs.
PLATFORMS = {"linux-x86_64": ("Linux", "x86_64"), "linux-aarch64": ("Linux", "aarch64"),
             "windows-x86_64": ("Windows", "AMD64")}


def arch_case(gpu: str, capability: tuple[int, int], torch: str, platform: str, supported: bool,
              xfail: Optional[str] = None) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    verdict = "runs" if supported else "refused"
    return pytest.param(gpu, capability, torch, platform, supported, marks=marks,
                        id=f"{gpu}-{torch}-{platform}-{verdict}")


REAL_ARCH_CASES = [
    # Kepler and Maxwell
    # nerfstudio CUDA 11.3 container on a K40m: "Found GPU0 Tesla K40m which is of cuda capability 3.5. PyTorch no
    # longer supports this GPU because it is too old. The minimum cuda capability supported by this library is 3.7"
    # (code index file 29174416178; 1.x cu11x builds start at sm_37)
    arch_case("Tesla K40m", (3, 5), "1.12.1+cu113", "linux-x86_64", False),
    # torch.cuda.get_arch_list() of 1.12.1+cu116 printed in a public repo: ['sm_37', 'sm_50', ...] (16782211796)
    arch_case("Tesla K80", (3, 7), "1.12.1+cu116", "linux-x86_64", True),
    # get_arch_list() of 2.2.1+cu121: ['sm_50', 'sm_60', 'sm_70', 'sm_75', 'sm_80', 'sm_86', 'sm_90'] (54042796877)
    arch_case("Tesla K80", (3, 7), "2.2.1+cu121", "linux-x86_64", False),
    # PyTorch 2.8.0 release notes (quoted in easydiffusion/torchruntime#22): "Removed support for Maxwell, Pascal,
    # and Volta architectures with CUDA 12.8 and 12.9 builds ... please utilize CUDA 12.6 instead"
    arch_case("NVIDIA GeForce GTX 970", (5, 2), "2.8.0+cu128", "linux-x86_64", False),
    # get_arch_list() of 2.9.1+cu126 starts at 'sm_50' (68991851328); sm_50 code runs on 5.2 (torch/cuda/__init__.py
    # DEVICE_REQUIREMENT: same major, minor at least the code's)
    arch_case("NVIDIA GeForce GTX 970", (5, 2), "2.9.1+cu126", "linux-x86_64", True),
    # Pascal
    # "The GTX 1060 (CUDA capability sm_61/Pascal) is not supported by PyTorch 2.8.0+cu128 ... supports CUDA
    # capabilities sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 ... no kernel image" (70938293343)
    arch_case("NVIDIA GeForce GTX 1060 3GB", (6, 1), "2.8.0+cu128", "linux-x86_64", False),
    # 2.8.0 release notes: for sm50-sm70 "please utilize CUDA 12.6 instead" (easydiffusion/torchruntime#22)
    arch_case("NVIDIA GeForce GTX 1080 Ti", (6, 1), "2.8.0+cu126", "linux-x86_64", True),
    # "torch 2.11.0+cu128 ships kernels for sm_75 and up only ... GTX 1080 Ti ... no kernel image" (69719298712)
    arch_case("NVIDIA GeForce GTX 1080 Ti", (6, 1), "2.11.0+cu128", "linux-x86_64", False),
    # Windows: "torch 2.13.0+cu130 does NOT support SM 6.1 ... supports CUDA capabilities sm_75 sm_80 sm_86 sm_90
    # sm_100 sm_120. NVIDIA GeForce GTX 1060 ... is not compatible" (61416863003, E:\ paths, win_amd64 wheels)
    arch_case("NVIDIA GeForce GTX 1060", (6, 1), "2.13.0+cu130", "windows-x86_64", False),
    # Windows cu126 wheels list sm_61: .ci/pytorch/windows/cuda126.bat '5.0;6.0;6.1;7.0;...' and a cu126 wheel's
    # get_arch_list() with 'sm_61' (58803867391)
    arch_case("NVIDIA GeForce GTX 1060", (6, 1), "2.8.0+cu126", "windows-x86_64", True),
    # Volta
    # pytorch/pytorch#144071, malfet: "2.6.0+cu124 ['sm_50', 'sm_60', 'sm_70', 'sm_75', 'sm_80', 'sm_86', 'sm_90']"
    arch_case("Tesla V100-SXM2-32GB", (7, 0), "2.6.0+cu124", "linux-x86_64", True),
    # EutropicAI/vs-playground#59: "torch 2.7.1+cu128 not support sm_70, so bump version to 2.8.0+cu128"
    arch_case("Tesla V100-SXM2-32GB", (7, 0), "2.7.1+cu128", "linux-x86_64", False),
    # the same PR's fix; and 2.8.0+cu128's measured list starts at sm_70 (70938293343), although the 2.8.0 release
    # notes say Volta left the 12.8 builds (pytorch/pytorch#157517 kept it)
    arch_case("Tesla V100-SXM2-32GB", (7, 0), "2.8.0+cu128", "linux-x86_64", True),
    # FlashML-org/FreeToken#253: "torch 2.10.0+cu128 is the last 2.x line that ships sm_70 cubins"
    arch_case("Tesla V100-SXM2-32GB", (7, 0), "2.10.0+cu128", "linux-x86_64", True),
    # RFC pytorch/pytorch#172352: Volta removed from the CUDA 12.8 build in 2.11; "Users with sm70 will use CUDA
    # 12.6 wheel build"
    arch_case("Tesla V100-SXM2-32GB", (7, 0), "2.11.0+cu128", "linux-x86_64", False),
    arch_case("Tesla V100-SXM2-32GB", (7, 0), "2.11.0+cu126", "linux-x86_64", True),
    # unslothai/unsloth#5876: "PyTorch's cu130 (CUDA 13) wheels dropped Volta (sm_70) ... no kernel image"
    arch_case("Tesla V100-SXM2-32GB", (7, 0), "2.9.0+cu130", "linux-x86_64", False),
    # Turing: unsloth#5876's table keeps a T4 (7.5) on cu130; RELEASE.md's 13.0 row starts at Turing(7.5)
    arch_case("Tesla T4", (7, 5), "2.9.0+cu130", "linux-x86_64", True),
    # Ampere
    # pytorch/pytorch#52736: 1.7.1 with CUDA 10.2 on an RTX 3070: "supports CUDA capabilities sm_37 sm_50 sm_60 sm_70
    # sm_75" then "no kernel image is available"
    arch_case("GeForce RTX 3070", (8, 6), "1.7.1+cu102", "linux-x86_64", False),
    # fix for "RTX 3090 with CUDA capability sm_86 is not compatible": "pip install torch==1.8.0+cu111" (33432658059)
    arch_case("NVIDIA GeForce RTX 3090", (8, 6), "1.8.0+cu111", "linux-x86_64", True),
    # 1.9.0+cu111: _CudaDeviceProperties(name='NVIDIA A100-PCIE-40GB' ...) then tensor([0.1014], device='cuda:0')
    # (14004674982)
    arch_case("NVIDIA A100-PCIE-40GB", (8, 0), "1.9.0+cu111", "linux-x86_64", True),
    # Ada: Isaac Lab live smoke "passed" with Torch 2.7.0+cu128 on an NVIDIA GeForce RTX 4090 (63095544281)
    arch_case("NVIDIA GeForce RTX 4090", (8, 9), "2.7.0+cu128", "linux-x86_64", True),
    # Hopper
    # torch 1.11.0+cu113: "NVIDIA H20 with CUDA capability sm_90 is not compatible" (53342583657)
    arch_case("NVIDIA H20", (9, 0), "1.11.0+cu113", "linux-x86_64", False),
    # CUDA 11.7 + PyTorch 1.13.1: "NVIDIA H800 with CUDA capability sm_90 is not compatible" (19051219255)
    arch_case("NVIDIA H800", (9, 0), "1.13.1+cu117", "linux-x86_64", False),
    # 2.0.1+cu117: "NVIDIA H100 PCIe with CUDA capability sm_90 is not compatible" (33356850601)
    arch_case("NVIDIA H100 PCIe", (9, 0), "2.0.1+cu117", "linux-x86_64", False),
    # --index-url .../cu118 -> 2.0.1+cu118, H100 80GB HBM3, tensor([-0.9087], device='cuda:0') (16920867219)
    arch_case("NVIDIA H100 80GB HBM3", (9, 0), "2.0.1+cu118", "linux-x86_64", True),
    # Blackwell
    # HybridRobotics/berkeley-humanoid-lite#49: torch 2.5.1 on the cu121 index, RTX 5090: "no kernel image"
    arch_case("NVIDIA GeForce RTX 5090", (12, 0), "2.5.1+cu121", "linux-x86_64", False),
    # "PyTorch 2.6.0 (stable) cu124 | sm_120 not supported" on an RTX 5090 (23964377755)
    arch_case("NVIDIA GeForce RTX 5090", (12, 0), "2.6.0+cu124", "linux-x86_64", False),
    # vllm-project/vllm#21488: "Installed Torch: 2.7.0+cu126 ... ['sm_50', ..., 'sm_90']" on an RTX 5070 (sm_120)
    arch_case("NVIDIA GeForce RTX 5070", (12, 0), "2.7.0+cu126", "linux-x86_64", False),
    # pytorch/pytorch#153928, malfet: "sm_120 is not supported by CUDA-12.1. You'll need to use 12.8 + PyTorch-2.7.0"
    arch_case("NVIDIA GeForce RTX 5070 Ti", (12, 0), "2.7.0+cu128", "linux-x86_64", True),
    # "Version: 2.9.1+cu128 ... RTX 5090 (sm_120) is FULLY SUPPORTED" (22695730845)
    arch_case("NVIDIA GeForce RTX 5090", (12, 0), "2.9.1+cu128", "linux-x86_64", True),
    # torch 2.7.0+cu128: DDP and NCCL collectives pass on two RTX PRO 6000 Blackwell Server Edition (60914896031)
    arch_case("NVIDIA RTX PRO 6000 Blackwell Server Edition", (12, 0), "2.7.0+cu128", "linux-x86_64", True),
    # "PyTorch: 2.7.0+cu126 ... NVIDIA B200 ... sm_100 is not compatible ... no kernel image" (39985177836)
    arch_case("NVIDIA B200", (10, 0), "2.7.0+cu126", "linux-x86_64", False),
    # "Blackwell compatibility required upgrading ... to torch/torchaudio 2.7.0+cu128 ... Run 4 relaunched on B200
    # and is actively processing" (53180102216)
    arch_case("NVIDIA B200", (10, 0), "2.7.0+cu128", "linux-x86_64", True),
    # Linux aarch64
    # vllm-project/vllm#14636: collect_env on a GH200 480GB, 2.7.0.dev20250121+cu126 aarch64, CUDA available, a
    # KV-cache bug report (the GPU ran)
    arch_case("NVIDIA GH200 480GB", (9, 0), "2.7.0.dev20250121+cu126", "linux-aarch64", True),
    # Jetson AGX Orin, SBSA cu130 torch 2.9.1: "Orin with CUDA capability sm_87 is not compatible ... no kernel
    # image" (58627128354)
    arch_case("Orin", (8, 7), "2.9.1+cu130", "linux-aarch64", False),
    # RELEASE.md support matrix, Linux aarch64 13.0: 8.0, 9.0, 10.0, 11.0, 12.0+PTX (Jetson Thor is 11.0)
    arch_case("NVIDIA Thor", (11, 0), "2.10.0+cu130", "linux-aarch64", True),
    # DGX Spark: torch 2.10.0+cu130, GB10 capability 12.1, "PYTORCH CUDA VALIDATION: PASS" (56941121771)
    arch_case("NVIDIA GB10", (12, 1), "2.10.0+cu130", "linux-aarch64", True),
    # GB10 with torch 2.9.1 cu128 aarch64: "sm_120 code runs on sm_121 ... bf16 matmul ... succeed" (62294542180)
    arch_case("NVIDIA GB10", (12, 1), "2.9.1+cu128", "linux-aarch64", True),
    # AWS g5g's T4G (7.5) on a Graviton: the aarch64 cu128 wheel of 2.9.1 has no sm_75 (62294542180 and 61977007932
    # measure 'sm_80 sm_90 sm_100 sm_120' on a GB10); was a strict xfail while the table fell back to x86's list
    arch_case("T4G (AWS g5g)", (7, 5), "2.9.1+cu128", "linux-aarch64", False),
    # the same measured aarch64 list has sm_90: a GH200 (9.0) runs it
    arch_case("NVIDIA GH200 480GB", (9, 0), "2.9.1+cu128", "linux-aarch64", True),
    # Jetson Thor (11.0) on 2.15.0+cu130 aarch64: build_env_setup.py's 13.0 aarch64 set {80, 90, 100, 110, 120}
    arch_case("NVIDIA Thor", (11, 0), "2.15.0+cu130", "linux-aarch64", True),
    # Windows
    # nikopueringer/CorridorKey#141 measured 2.7.1 cu128 on Windows: ['sm_50', 'sm_60', 'sm_61', 'sm_70', 'sm_75',
    # 'sm_80', 'sm_86', 'sm_90', 'sm_100', 'sm_120'] (Linux's has no Pascal); the PR moved to 2.7.1 for GTX 10xx cards
    arch_case("NVIDIA GeForce GTX 1080", (6, 1), "2.7.1+cu128", "windows-x86_64", True),
    arch_case("NVIDIA GeForce GTX 1080", (6, 1), "2.7.1+cu128", "linux-x86_64", False),
    # the same PR: 2.10 cu128 on Windows is ['sm_70', ..., 'sm_120'], as on Linux (PR #164470 aligned them)
    arch_case("NVIDIA GeForce GTX 1080", (6, 1), "2.10.0+cu128", "windows-x86_64", False),
    # torch 2.15
    # RFC pytorch/pytorch#190385 and the cu126 notice: 2.15 has no CUDA 12.x wheel, CUDA 13 starts at Turing(7.5)
    arch_case("Tesla V100-SXM2-32GB", (7, 0), "2.15.0+cu130", "linux-x86_64", False),
    arch_case("Tesla T4", (7, 5), "2.15.0+cu132", "linux-x86_64", True),
    # build_env_setup.py 13.2 x86_64 {75, 80, 86, 90, 100, 120}: sm_120 cubins for an RTX 5090, sm_100 for GB300 (10.3)
    arch_case("NVIDIA GeForce RTX 5090", (12, 0), "2.15.0+cu132", "linux-x86_64", True),
    arch_case("NVIDIA GB300", (10, 3), "2.15.0+cu132", "linux-x86_64", True),
]


@pytest.mark.parametrize(("gpu", "capability", "torch", "platform", "supported"), REAL_ARCH_CASES)
def test_real_gpus_on_real_builds(gpu: str, capability: tuple[int, int], torch: str, platform: str,
                                  supported: bool) -> None:
    system, arch = PLATFORMS[platform]
    facts = facts_for(torch=torch, driver="580.65.06", gpus=((gpu, capability),), system=system, arch=arch,
                      glibc="2.35" if system == "Linux" else None)
    ctx = context(facts, KB)
    assert ctx.build is not None and ctx.build.cuda is not None, torch
    archs, _ = wheel_archs(ctx)
    assert archs is not None, f"no wheel architecture list for {torch} on {platform}"  # else no verdict at all
    refused = gpu_arch_unsupported(ctx)
    assert not refused if supported else [f.id for f in refused] == ["gpu-arch-unsupported"]


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
     ("NVIDIA H100 80GB HBM3", (9, 0)), ("NVIDIA GeForce RTX 4090", (8, 9)), ("NVIDIA GeForce RTX 5090", (12, 0)),
     # developer.nvidia.com/cuda-gpus (2026 copy, code index file 20341149265): GB300 10.3, RTX PRO 2000 Blackwell 12.0
     # (also measured cc 12.0, 57480216701), Jetson T5000 / T4000 11.0, GB10 12.1
     ("NVIDIA GB300", (10, 3)), ("NVIDIA RTX PRO 2000 Blackwell", (12, 0)), ("NVIDIA Jetson T5000", (11, 0)),
     ("NVIDIA Jetson T4000", (11, 0)), ("NVIDIA GB10", (12, 1))],
)
def test_gpu_names_resolve_to_capabilities(name: str, capability: tuple[int, int]) -> None:
    model = KB.gpu_capability(name)
    assert model is not None and model.capability == capability


# Arch lists written out from their sources, each checked against the table row for that exact platform (no fallback).
ARCH_ROWS = [
    # measured PyPI 2.14.0+cu130 on Linux: ['sm_75', 'sm_80', 'sm_86', 'sm_90', 'sm_100', 'sm_120'] (code index file
    # 66871394163); release builds strip +PTX (pytorch/pytorch #175567 for 2.11, #188914 / #188925 for 2.13 on)
    ("2.14.0", "cu130", "linux-x86_64", ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")),
    # 2.11.0+cu130 libtorch measured 'sm_75/80/86/90/100/120' (wheel_archs.json MEAS); PR #175567 is the 2.11 strip
    ("2.11.0", "cu130", "linux-x86_64", ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")),
    # build_cuda.sh at v2.9.0: 13.0 '7.5;8.0;8.6;9.0;10.0;12.0+PTX' (unchanged by this update)
    ("2.9.1", "cu130", "linux-x86_64", ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120")),
    # build_env_setup.py TORCH_CUDA_ARCH_LIST_TABLE '13.2': x86_64 {75, 80, 86, 90, 100, 120}, aarch64 {80, 90, 100,
    # 110, 120}; release builds without +PTX (#188914)
    ("2.15.0", "cu132", "linux-x86_64", ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")),
    ("2.15.0", "cu130", "linux-x86_64", ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")),
    ("2.15.0", "cu130", "linux-aarch64", ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120")),
    ("2.15.0", "cu132", "linux-aarch64", ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120")),
    # GB10 docs (62294542180, 61977007932), aarch64 torch 2.9.1: cu128 'sm_80 sm_90 sm_100 sm_120', cu130 'sm_80 sm_90
    # sm_100 sm_110 sm_120 compute_120'
    ("2.9.1", "cu128", "linux-aarch64", ("sm_80", "sm_90", "sm_100", "sm_120")),
    ("2.9.1", "cu130", "linux-aarch64", ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120", "compute_120")),
    # nikopueringer/CorridorKey#141, Windows get_arch_list() of 2.7.1 cu128 and 2.10 cu128
    ("2.7.1", "cu128", "windows-x86_64",
     ("sm_50", "sm_60", "sm_61", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")),
    ("2.10.0", "cu128", "windows-x86_64", ("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")),
]


@pytest.mark.parametrize(("torch", "variant", "platform", "archs"), ARCH_ROWS)
def test_arch_rows_match_their_sources(torch: str, variant: str, platform: str, archs: tuple[str, ...]) -> None:
    row = KB.archs(torch, variant, platform)
    assert row is not None and row.platform == platform and row.archs == archs


def test_rtx_50_on_214_cu130_runs_on_its_cubin_not_on_ptx() -> None:
    # 2.14.0+cu130 measured without compute_120 (66871394163): an RTX 5090 (12.0) runs the sm_120 cubin, and a device of
    # a later major gets nothing from these wheels (with the old compute_120 entry it would have been JIT-compiled)
    row = KB.archs("2.14.0+cu130", "cu130", "linux-x86_64")
    assert row is not None and "compute_120" not in row.archs
    assert runs_on(["sm_120"], (12, 0), KB.exact_arch_devices)
    assert runs_on(list(row.archs), (12, 0), KB.exact_arch_devices)
    assert not runs_on(list(row.archs), (13, 0), KB.exact_arch_devices)
    facts = facts_for(torch="2.14.0+cu130", driver="580.65.06", gpus=(("NVIDIA GeForce RTX 5090", (12, 0)),))
    assert not gpu_arch_unsupported(context(facts, KB))


def test_pascal_on_windows_271_cu128_is_accepted() -> None:
    # CorridorKey#141: the Windows 2.7.1 cu128 wheel has sm_61; before this row the check used Linux's list (sm_75+)
    facts = facts_for(torch="2.7.1+cu128", driver="576.02", gpus=(("NVIDIA GeForce GTX 1080 Ti", (6, 1)),),
                      system="Windows", arch="AMD64", glibc=None)
    assert not gpu_arch_unsupported(context(facts, KB))


def test_torch_215_release_facts() -> None:
    # PyPI torch 2.15.0 (first upload 2026-10-28): requires-python >=3.11, cp311-cp315 wheels for manylinux_2_28
    # x86_64/aarch64, win_amd64, macosx_14_0_arm64; the x86_64 and aarch64 wheels' Requires-Dist
    # 'cuda-toolkit[...]==13.2.2' and 'nvidia-cudnn-cu13==9.26.0.51'; no cu126 (dev-discuss notice, PR #196249);
    # torchvision 0.29.2 'Requires-Dist: torch (>=2.14.0)', torchaudio 2.11.1 'torch>=2.11', both uploaded the same day
    release = KB.release("2.15.0+cu132")
    assert release is not None and release.series == "2.15" and release.latest == "2.15.0"
    assert release.python == ("3.11", "3.12", "3.13", "3.14", "3.15")
    assert [(v.variant, v.cuda, v.cudnn, v.stable) for v in release.cuda] == [
        ("cu130", "13.0", None, True), ("cu132", "13.2", "9.26.0.51", True)]
    assert release.pypi_default == "cu132"
    assert release.platforms == ("linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64")
    assert release.torchvision == {"2.15.0": "0.29.2"} and release.torchaudio == {"2.15.0": "2.11.1"}
    assert KB.ranged(KB.linux_glibc, "2.15.0+cu132", "x86_64") == "2.28"
    assert KB.ranged(KB.linux_glibc, "2.15.0+cu130", "aarch64") == "2.28"
    assert KB.ranged(KB.macos, "2.15.0", "arm64") == "14.0"
    # the 2.14.1 wheel's Requires-Dist 'cuda-toolkit[...]==13.0.3': PyPI's 2.14 stayed on CUDA 13.0
    previous = KB.release("2.14.1")
    assert previous is not None and previous.pypi_default == "cu130"


def test_r610_driver_branch_runs_cuda_13_wheels() -> None:
    # NVIDIA Data Center Drivers (r615 edition) Table 2: R610 New Feature Branch, EOL August 2026, CUDA 13; the
    # CUDA 13.3 toolkit driver is 610.43.02; CUDA 13.x minor-version compatibility needs >= 580
    branch = KB.driver_branch("610.43.02")
    assert branch is not None and (branch.designation, branch.eol, branch.cuda_major) == (
        "New Feature Branch", "2026-08", 13)
    lts = KB.driver_branch("620.10.01")
    assert lts is not None and (lts.designation, lts.eol) == ("Long Term Support Branch", "2029-09")
    assert KB.minimum_driver("13.2", "linux") == Version("580")
    facts = facts_for(torch="2.15.0+cu132", driver="610.43.02", gpus=(("NVIDIA H100 80GB HBM3", (9, 0)),))
    assert not driver_too_old(context(facts, KB))


def test_valid_as_of_is_a_date() -> None:
    assert KB.valid_as_of.startswith("2026-")


def test_dev_builds_fall_inside_their_series() -> None:
    release = KB.release("1.13.0.dev20220525")
    assert release is not None and release.series == "1.13"
    assert replace(release).series == "1.13"
