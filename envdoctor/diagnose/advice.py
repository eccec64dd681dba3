"""Install advice: which torch, which wheel variant, which index URL, and the exact commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from packaging.version import Version

from envdoctor.diagnose.archs import runs_on, sm
from envdoctor.diagnose.machine import Machine
from envdoctor.knowledge import CudaVariant, Knowledge, Release, version_or_none

INDEX = "https://download.pytorch.org/whl"
# How each era of releases is installed, from pytorch.org's "Previous PyTorch Versions" page
# (pytorch/pytorch.github.io _get_started/previous-versions.md, read 2026-11-30):
# - 1.11 and later: a per-variant index, `--index-url https://download.pytorch.org/whl/cu113`;
# - 1.2 to 1.10: one flat page, `-f https://download.pytorch.org/whl/torch_stable.html`, the variant in the version
#   (`torch==1.7.1+cu101`), except the variant PyPI served, installed from PyPI untagged (`torch==1.7.1`);
# - 1.0 and 1.1: a page per variant, `-f https://download.pytorch.org/whl/cu100/torch_stable.html`, untagged;
# - torchaudio was published untagged before 2.0.
INDEX_SINCE = Version("1.11")
# Jetson's torch is NVIDIA's own build for JetPack (local tags like "+nv23.05"), listed per JetPack release at
# https://forums.developer.nvidia.com/t/pytorch-for-jetson/72048 (read 2026-12-04); PyPI's aarch64 wheels are
# server (SBSA) builds that do not run on a Jetson's integrated GPU.
JETSON_WHEELS = "https://forums.developer.nvidia.com/t/pytorch-for-jetson/72048"
FLAT_PAGE_SINCE = Version("1.2")
TAGGED_TORCHAUDIO_SINCE = Version("2.0")


@dataclass(frozen=True)
class InstallPlan:
    torch: str  # "2.8.0"
    variant: str  # "cu126", "cpu", "rocm6.4", or "pypi" (macOS: PyPI's own wheels)
    torchvision: Optional[str]
    torchaudio: Optional[str]
    reasons: tuple[str, ...]  # why this release and variant
    pypi_variant: bool = False  # the variant is the one PyPI served for this release
    python_command: str = "python"  # the interpreter whose pip installs it

    @property
    def _from_pypi(self) -> bool:
        return self.variant == "pypi" or (self.pypi_variant and Version(self.torch) < INDEX_SINCE)

    @property
    def index_url(self) -> Optional[str]:
        """The `--index-url` (1.11 and later) or `-f` page to install from; None for PyPI."""
        version = Version(self.torch)
        if self._from_pypi:
            return None
        if version >= INDEX_SINCE:
            return f"{INDEX}/{self.variant}"
        if version >= FLAT_PAGE_SINCE:
            return f"{INDEX}/torch_stable.html"
        return f"{INDEX}/{self.variant}/torch_stable.html"

    def requirements(self) -> str:
        version = Version(self.torch)
        tag = "" if self._from_pypi or version < FLAT_PAGE_SINCE else f"+{self.variant}"
        pins = [f"torch=={self.torch}{tag}"]
        if self.torchvision:
            pins.append(f"torchvision=={self.torchvision}{tag}")
        if self.torchaudio:
            pins.append(f"torchaudio=={self.torchaudio}{tag if version >= TAGGED_TORCHAUDIO_SINCE else ''}")
        return " ".join(pins)

    def _command(self, installer: str, index_flag: str, links_flag: str) -> str:
        url = self.index_url
        if url is None:
            return f"{installer} {self.requirements()}"
        flag = index_flag if Version(self.torch) >= INDEX_SINCE else links_flag
        return f"{installer} {self.requirements()} {flag} {url}"

    @property
    def pip_command(self) -> str:
        return self._command(f"{self.python_command} -m pip install", "--index-url", "-f")

    @property
    def uv_command(self) -> str:
        return self._command("uv pip install", "--index-url", "--find-links")


@dataclass(frozen=True)
class Advice:
    plan: Optional[InstallPlan]
    passed_over: tuple[str, ...]  # releases and variants considered and why each did not fit
    not_planned: Optional[str] = None  # why no release was considered at all (a Jetson, an unknown driver)


def _release_fits(release: Release, machine: Machine, kb: Knowledge) -> Optional[str]:
    """Why this release has no wheel for the machine's platform or Python, or None if it has."""
    if release.platforms and machine.platform not in release.platforms:
        return f"torch {release.series} has no wheels for {machine.platform}"
    if machine.python and release.python and machine.python not in release.python:
        return (f"torch {release.series} has wheels for Python {release.python[0]} to {release.python[-1]}, "
                f"not {machine.python}")
    return _glibc_short(kb, machine, release.latest)


def glibc_needed(kb: Knowledge, machine: Machine, torch_version: str) -> Optional[str]:
    """The glibc the Linux wheels of `torch_version` ("2.6.0", or one variant: "2.6.0+cu126") need, when this
    machine's is older; None when it suffices or either is not known."""
    if machine.os != "linux" or not machine.glibc:
        return None
    needed = kb.ranged(kb.linux_glibc, torch_version, "x86_64" if machine.arch == "x86_64" else "aarch64")
    have = version_or_none(machine.glibc)
    return needed if needed and have is not None and have < Version(needed) else None


def _glibc_short(kb: Knowledge, machine: Machine, torch_version: str) -> Optional[str]:
    """Why the wheels of `torch_version` need a newer glibc, or None."""
    needed = glibc_needed(kb, machine, torch_version)
    return f"torch {torch_version}'s Linux wheels need glibc {needed}, this system has {machine.glibc}" if needed \
        else None


def _cuda_fits(variant: CudaVariant, release: Release, machine: Machine, kb: Knowledge) -> Optional[str]:
    """Why this CUDA variant would not run on the machine's driver and GPUs, or None if it would."""
    glibc = _glibc_short(kb, machine, f"{release.latest}+{variant.variant}")
    if glibc is not None:
        return glibc
    needed = kb.minimum_driver(variant.cuda, machine.driver_os)
    driver = machine.driver_version
    if driver is None:
        return "the NVIDIA driver version is unknown"
    if needed is not None and driver < needed:
        return f"{variant.variant} needs driver {needed} or newer, this machine has {machine.driver}"
    archs = kb.archs(release.latest, variant.variant, machine.platform)
    if archs is not None:
        missing = [c for c in machine.capabilities
                   if c is not None and not runs_on(archs.archs, c, kb.exact_arch_devices)]
        if missing:
            return f"{variant.variant} of torch {release.series} has no code for {', '.join(map(sm, missing))}"
    return None


def _pick_variant(release: Release, machine: Machine, kb: Knowledge,
                  passed: list[str]) -> Optional[tuple[str, list[str]]]:
    if machine.os == "macos":
        return "pypi", ["macOS wheels come from PyPI (CPU and MPS in one build)"]
    if machine.has_nvidia:
        ordered = sorted(release.cuda, key=lambda v: (v.stable, Version(v.cuda)), reverse=True)
        for variant in ordered:
            why_not = _cuda_fits(variant, release, machine, kb)
            if why_not is None:
                label = "" if variant.stable else " (an experimental variant of this release)"
                archs = kb.archs(release.latest, variant.variant, machine.platform)
                reach = "" if archs else "; its architecture list is not in the knowledge base"
                return variant.variant, [f"{variant.variant}{label}: the newest CUDA variant of torch {release.series} "
                                         f"this driver runs and that has code for every GPU{reach}"]
            passed.append(f"torch {release.series} {variant.variant}: {why_not}")
        return None
    if machine.rocm and release.rocm and machine.platform == "linux-x86_64":
        newest = max(release.rocm, key=lambda r: Version(r.removeprefix("rocm")))
        return newest, [f"{newest}: the newest ROCm variant of torch {release.series}"]
    return "cpu", ["no NVIDIA GPU or driver: the CPU wheel (the CUDA wheels are gigabytes larger and gain nothing)"]


def _plan(release: Release, variant: str, reasons: list[str], python_command: str,
          patch: Optional[str] = None) -> InstallPlan:
    patch = patch if patch in release.patches and patch not in release.lts_patches else release.latest
    return InstallPlan(torch=patch, variant=variant, torchvision=release.torchvision.get(patch),
                       torchaudio=release.torchaudio.get(patch), reasons=tuple(reasons),
                       pypi_variant=variant == release.pypi_default, python_command=python_command)


def plan_install(machine: Machine, kb: Knowledge, series: Optional[str] = None) -> Advice:
    """The newest torch (or the `series` asked for: "2.8", or a patch "2.8.0" to keep) that fits the machine,
    in the variant that fits it best.

    When no CUDA variant fits an NVIDIA machine, the plan falls back to the CPU wheel of the newest release
    that has wheels for the platform and Python, and says why.
    """
    if machine.jetson:
        return Advice(None, (), f"a Jetson: its torch is NVIDIA's JetPack build for the JetPack the board runs, "
                                f"listed at {JETSON_WHEELS}; PyPI's and download.pytorch.org's aarch64 wheels do not "
                                "use its GPU")
    if machine.driver is None and (machine.driver_unknown or machine.has_nvidia) and machine.os != "macos":
        why = machine.driver_unknown or "the NVIDIA driver's version is not known"
        return Advice(None, (), f"{why}: no CUDA variant can be chosen, and a CPU wheel would give up a GPU this "
                                "machine may have (run `envdoctor check` on the machine itself)")
    if series is not None:
        release = kb.release(series)
        if release is None:
            raise KeyError(series)
        candidates: tuple[Release, ...] = (release,)
    else:
        candidates = kb.releases
    passed: list[str] = []
    fallback: Optional[Release] = None
    for release in candidates:
        why_not = _release_fits(release, machine, kb)
        if why_not is not None:
            passed.append(why_not)
            continue
        fallback = fallback or release
        picked = _pick_variant(release, machine, kb, passed)
        if picked is not None:
            variant, reasons = picked
            if series is None and release is not candidates[0]:
                reasons.insert(0, f"torch {release.series} is the newest release that fits this machine")
            return Advice(_plan(release, variant, reasons, machine.python_command, series), tuple(passed))
    if fallback is not None and machine.os != "macos":
        reasons = [f"no CUDA variant of torch {fallback.series} fits: the CPU wheel runs, without the GPU"]
        return Advice(_plan(fallback, "cpu", reasons, machine.python_command, series), tuple(passed))
    return Advice(None, tuple(passed))
