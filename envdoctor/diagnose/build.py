"""Which torch is installed and for which variant, from the runtime facts, the version's local tag, or PyPI's
default for that release."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from envdoctor.diagnose.machine import Machine
from envdoctor.facts import Facts
from envdoctor.knowledge import Knowledge, Release, torch_base


@dataclass(frozen=True)
class TorchBuild:
    version: str  # "2.4.1+cu121", as imported, else as installed
    release: Optional[Release]
    variant: Optional[str]  # "cu121", "cpu", "rocm6.1"; None when it cannot be told
    variant_source: str  # how the variant was found
    imported: bool  # torch imported in the child process

    @property
    def cuda(self) -> Optional[str]:
        """The CUDA version of a CUDA build ("12.1"), else None."""
        return variant_cuda(self.variant)

    @property
    def patch(self) -> str:
        """The release this is a build of: "2.5.0" for "2.5.0.dev20240801+cu124" and for "2.5.0+cu124"."""
        base = torch_base(self.version)
        return str(base) if base else self.version.split("+")[0]


def variant_cuda(variant: Optional[str]) -> Optional[str]:
    """"cu121" → "12.1", "cu92" → "9.2", "cu130" → "13.0"; None for cpu, rocm and unknown."""
    match = re.fullmatch(r"cu(\d+)(\d)", variant or "")
    return f"{match.group(1)}.{match.group(2)}" if match else None


def cuda_variant(cuda: str) -> Optional[str]:
    """"12.1" → "cu121"; None for what is not a CUDA version (a report cut short, a hand-edited document)."""
    match = re.fullmatch(r"(\d+)\.(\d+)(\.\d+)*", cuda.strip())
    return f"cu{match.group(1)}{match.group(2)}" if match else None


def local_tag(version: str) -> Optional[str]:
    return version.split("+", 1)[1] if "+" in version else None


def untagged_variant(release: Optional[Release], machine: Machine) -> tuple[Optional[str], str]:
    """The variant of a wheel without a local tag: what PyPI served for that release on this platform."""
    if machine.os in ("windows", "macos"):
        return "cpu", f"PyPI's {machine.os} wheels are CPU builds"
    if release is not None and release.pypi_default and machine.platform == "linux-x86_64":
        return release.pypi_default, f"no local tag: PyPI's default for torch {release.series} on Linux x86_64"
    return None, "no local tag, and PyPI's default for this release and platform is not known"


def variant_of(version: str, release: Optional[Release], machine: Machine) -> tuple[Optional[str], str]:
    """The variant a torch-family version names in its local tag, else PyPI's for that release; and how it was told."""
    tag = local_tag(version)
    return (tag, f"the local tag +{tag}") if tag else untagged_variant(release, machine)


def installed_torch(facts: Facts, kb: Knowledge, machine: Machine) -> Optional[TorchBuild]:
    runtime = facts.torch
    dists = facts.packages.get("torch")
    if runtime.status == "ok" and runtime.version:
        variant: Optional[str]
        if runtime.cuda:
            variant = cuda_variant(runtime.cuda)
            source = "torch.version.cuda" if variant else f"torch.version.cuda {runtime.cuda!r} is not a CUDA version"
        elif runtime.hip:
            variant, source = f"rocm{'.'.join(runtime.hip.split('.')[:2])}", "torch.version.hip"
        else:
            variant, source = "cpu", "torch.version.cuda is None"
        return TorchBuild(runtime.version, kb.release(runtime.version), variant, source, True)
    version = dists[0].version if dists else runtime.version
    if version is None:
        return None
    release = kb.release(version)
    return TorchBuild(version, release, *variant_of(version, release, machine), False)
