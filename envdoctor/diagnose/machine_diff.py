"""Two machines' facts side by side: each fact that differs, ranked by what the knowledge base says of it (a driver
below the floor of the other side's wheel, a GPU the other side's wheel has no code for, a Python it has no wheels
for), and the findings of each side's diagnosis compared by id. Pure: facts and knowledge in, a MachineDiff out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Optional

from packaging.version import Version

from envdoctor.diagnose.advice import glibc_needed
from envdoctor.diagnose.archs import runs_on, sm
from envdoctor.diagnose.build import TorchBuild
from envdoctor.diagnose.diff_findings import compare_findings
from envdoctor.diagnose.diff_process import compare_environment, compare_libraries
from envdoctor.diagnose.differences import Collector, Group, Known, MachineDiff, Rank, Steps, version_step
from envdoctor.diagnose.machine import ARCH_NAMES
from envdoctor.diagnose.rules import Context, context, wheel_archs
from envdoctor.facts import Facts
from envdoctor.facts.torch import cudnn_release
from envdoctor.knowledge import Knowledge, version_or_none

TORCH_STEPS: Steps = (Rank.HIGH, Rank.HIGH, Rank.LOW, Rank.LOW)
COMPANION_STEPS: Steps = (Rank.MEDIUM, Rank.MEDIUM, Rank.LOW, Rank.LOW)
CUDNN_STEPS: Steps = (Rank.MEDIUM, Rank.LOW, Rank.LOW, Rank.LOW)
NCCL_STEPS: Steps = (Rank.MEDIUM, Rank.MEDIUM, Rank.LOW, Rank.LOW)
PYTHON_STEPS: Steps = (Rank.HIGH, Rank.MEDIUM, Rank.LOW, Rank.LOW)
DRIVER_STEPS: Steps = (Rank.MEDIUM, Rank.LOW, Rank.LOW, Rank.LOW)  # a branch apart, when both meet every floor


@dataclass(frozen=True)
class Side:
    """One machine as the diagnosis sees it."""

    label: str  # "A" or "B"
    ctx: Context

    @property
    def facts(self) -> Facts:
        return self.ctx.facts

    @property
    def build(self) -> Optional[TorchBuild]:
        return self.ctx.build


def _known(value: object, reasons: Mapping[str, str], key: str, always: bool = False) -> Known:
    """A fact's value, else the reason its dataclass gives; None with no reason is known to be absent, unless every
    machine has the fact (`always`: a CPU model, a kernel), when it is only not known."""
    if value is not None and value != "":
        return Known(str(value))
    return Known(None, reasons.get(key, "not recorded" if always else None))


def _stepped(a: Known, b: Known, steps: Steps) -> Rank:
    return steps[version_step(a.text, b.text)]


# Driver and GPUs ---------------------------------------------------------------------------------------------


def _driver(side: Side) -> Known:
    nvidia = side.facts.nvidia
    return Known(nvidia.driver_version, None if nvidia.driver_version else nvidia.presence_unknown)


def _driver_floor(kb: Knowledge, driver: Side, wheel: Side) -> Optional[str]:
    """The driver floor of `wheel`'s CUDA build that `driver`'s driver is below; None when it is not (or either is
    not known, or a Jetson's L4T driver, numbered apart)."""
    version, build = driver.ctx.machine.driver_version, wheel.build
    if version is None or build is None or build.cuda is None or driver.ctx.machine.jetson or wheel.ctx.machine.jetson:
        return None
    needed = kb.minimum_driver(build.cuda, driver.ctx.machine.driver_os)
    return str(needed) if needed is not None and version < needed else None


def _driver_rank(kb: Knowledge, note: str, a: Side, b: Side) -> tuple[Rank, str]:
    for driver, wheel in ((a, b), (b, a), (a, a), (b, b)):  # each driver against the other's wheel first
        floor = _driver_floor(kb, driver, wheel)
        if floor is not None and wheel.build is not None:
            return Rank.BREAKS, (f"{driver.label}'s driver {driver.ctx.machine.driver} is below the {floor} floor "
                                 f"that {wheel.label}'s torch {wheel.build.version} (CUDA {wheel.build.cuda}) needs")
    drivers = [s.facts.nvidia.driver_version or "" for s in (a, b)]
    if not all(drivers):
        return Rank.HIGH, f"an NVIDIA driver on one side only: {note}"
    branches = [kb.driver_branch(d) for d in drivers]
    named = [f"{b.branch} ({b.designation}, end of life {b.eol})" if b else f"R{d.split('.')[0]}"
             for d, b in zip(drivers, branches)]
    return DRIVER_STEPS[version_step(*drivers)], f"{note}; {' vs '.join(named)}"


def _gpus(side: Side) -> Known:
    names = [name for name, _, _ in side.ctx.gpus]
    if not names:
        return Known(None, side.facts.nvidia.presence_unknown)
    return Known(", ".join(f"{n}x {name}" if n > 1 else name for name, n in Counter(names).items()))


def _gpu_rank(note: str, a: Side, b: Side) -> tuple[Rank, str]:
    if not a.ctx.gpus or not b.ctx.gpus:
        return Rank.HIGH, f"a GPU on one side only: {note}"
    caps = [sorted({cap for _, cap, _ in s.ctx.gpus if cap is not None}) for s in (a, b)]
    all_known = all(cap is not None for s in (a, b) for _, cap, _ in s.ctx.gpus)
    if all_known and caps[0] != caps[1]:
        shown = [", ".join(f"{x}.{y}" for x, y in c) for c in caps]
        return Rank.HIGH, f"compute capability {shown[0]} vs {shown[1]}: {note}"
    if {n for n, _, _ in a.ctx.gpus} == {n for n, _, _ in b.ctx.gpus}:
        return Rank.MEDIUM, "another number of GPUs: the world size and the batch per GPU"
    return Rank.MEDIUM, f"another model{'' if all_known else ' (architecture not known)'}: {note}"


def _wheel_code(kb: Knowledge, side: Side, cap: tuple[int, int]) -> Optional[Known]:
    """Whether the side's CUDA build has code for a GPU of `cap`; None when it is not a CUDA build."""
    build = side.build
    if build is None or build.cuda is None:
        return None
    archs, _ = wheel_archs(side.ctx)
    if archs is None:
        return Known(None, f"the architectures of {side.label}'s torch {build.version} are not known")
    return Known("yes" if runs_on(archs, cap, kb.exact_arch_devices) else "no")


def _no_code(lacking: Side, cap: tuple[int, int], holders: str) -> tuple[Rank, str]:
    archs, source = wheel_archs(lacking.ctx)
    version = lacking.build.version if lacking.build else "?"
    return Rank.BREAKS, (f"{lacking.label}'s torch {version} has no code for {sm(cap)} (it has "
                         f"{' '.join(archs or ())}, from {source}); the GPU is on {holders}")


def compare_driver_gpus(c: Collector, kb: Knowledge, a: Side, b: Side) -> None:
    c.fact(Group.DRIVER, "driver", _driver(a), _driver(b), *_driver_rank(kb, c.notes["driver"], a, b))
    c.fact(Group.DRIVER, "GPUs", _gpus(a), _gpus(b), *_gpu_rank(c.notes["GPUs"], a, b))
    for name, cap in dict.fromkeys((n, cap) for s in (a, b) for n, cap, _ in s.ctx.gpus if cap is not None):
        code_a, code_b = _wheel_code(kb, a, cap), _wheel_code(kb, b, cap)
        if code_a is None or code_b is None:
            continue  # a CPU or ROCm build: the CUDA build's row says it
        holders = " and ".join(s.label for s in (a, b) if any(n == name for n, _, _ in s.ctx.gpus))
        c.fact(Group.DRIVER, f"wheel code for {name} ({sm(cap)})", code_a, code_b,
               *_no_code(a if code_a.text == "no" else b, cap, holders))


# torch and companions ----------------------------------------------------------------------------------------


def _torch(side: Side) -> Known:
    """torch's version without its local tag: the CUDA build row carries that (PyPI's default wheel has none)."""
    if side.build is not None:
        return Known(side.build.version.split("+")[0])
    packages, runtime = side.facts.packages, side.facts.torch
    if runtime.status in ("not_installed", "skipped") and "distributions" not in packages.unknown:
        return Known(None)
    return Known(None, packages.unknown.get("distributions") or f"torch {runtime.status}")


def _variant(side: Side) -> Known:
    build = side.build
    if build is None:
        return _torch(side)
    return Known(build.variant, None if build.variant else build.variant_source)


def _variant_why(kb: Knowledge, note: str, a: Side, b: Side) -> str:
    floors = []
    for side in (a, b):
        build = side.build
        needed = kb.minimum_driver(build.cuda, side.ctx.machine.driver_os) if build and build.cuda else None
        if build is not None and needed is not None:
            floors.append(f"{build.variant} needs driver {needed} or newer")
    return "; ".join([note, *floors])


def _runtime(side: Side, field: str, show: Callable[[object], str] = str) -> Known:
    """A fact torch gives only when imported: absent without torch, unknown when it did not run."""
    runtime = side.facts.torch
    if runtime.status == "not_installed":
        return Known(None)
    if runtime.status != "ok":
        return Known(None, f"torch was not imported ({runtime.status})")
    value = getattr(runtime, field)
    return Known(show(value)) if value is not None else Known(None, runtime.unknown.get(field))


def _distribution(side: Side, name: str) -> Known:
    packages = side.facts.packages
    versions = [d.version for d in packages.get(name)]
    return Known(", ".join(versions)) if versions else Known(None, packages.unknown.get("distributions"))


def _pairing_why(kb: Knowledge, name: str, note: str, versions: tuple[Optional[str], ...]) -> str:
    """The note, and which torch each side's companion pairs with, from the release table."""
    pairs = []
    for version in versions:
        wanted = version_or_none((version or "").split("+")[0].split(",")[0])
        torches = sorted((Version(patch) for r in kb.releases for patch, v in getattr(r, name).items()
                          if wanted is not None and version_or_none(v) == wanted))
        if torches:  # torchaudio 2.11.0 served torch 2.11.0 to 2.14.1
            span = f"{torches[0]} to {torches[-1]}" if len(torches) > 1 else str(torches[0])
            pairs.append(f"{name} {wanted} pairs with torch {span}")
    return "; ".join([note, *pairs])


def compare_torch(c: Collector, kb: Knowledge, a: Side, b: Side) -> None:
    notes = c.notes
    ta, tb = _torch(a), _torch(b)
    c.fact(Group.TORCH, "torch", ta, tb, _stepped(ta, tb, TORCH_STEPS))
    c.fact(Group.TORCH, "CUDA build", _variant(a), _variant(b), Rank.HIGH, _variant_why(kb, notes["CUDA build"], a, b))
    for name in ("torchvision", "torchaudio"):
        da, db = _distribution(a, name), _distribution(b, name)
        c.fact(Group.TORCH, name, da, db, _stepped(da, db, COMPANION_STEPS),
               _pairing_why(kb, name, notes[name], (da.text, db.text)))
    for fact, field, steps, show in (("cuDNN", "cudnn", CUDNN_STEPS, _cudnn), ("NCCL", "nccl", NCCL_STEPS, str)):
        ra, rb = _runtime(a, field, show), _runtime(b, field, show)
        c.fact(Group.TORCH, fact, ra, rb, _stepped(ra, rb, steps))
    c.fact(Group.TORCH, "arch list", _runtime(a, "arch_list", _archs_text), _runtime(b, "arch_list", _archs_text),
           Rank.LOW)
    c.fact(Group.TORCH, "CUDA available", _runtime(a, "cuda_available", _yes_no),
           _runtime(b, "cuda_available", _yes_no), Rank.HIGH)
    na, nb = (_known(s.facts.toolkit.nvcc_version, s.facts.toolkit.unknown, "nvcc_version") for s in (a, b))
    c.fact(Group.TORCH, "nvcc", na, nb, Rank.LOW)


def _cudnn(number: object) -> str:
    return cudnn_release(int(str(number)))


def _archs_text(archs: object) -> str:
    return " ".join(archs) if isinstance(archs, tuple) and archs else "none"


def _yes_no(value: object) -> str:
    return "yes" if value else "no"


# Python and OS -----------------------------------------------------------------------------------------------


def _python(side: Side) -> Known:
    python = side.facts.system.python
    return Known(python.version) if python.version else Known(None, python.unknown.get("version", "not recorded"))


def _python_rank(note: str, a: Side, b: Side) -> tuple[Rank, str]:
    for python, wheel in ((a, b), (b, a)):
        release, minor = (wheel.build.release if wheel.build else None), python.ctx.machine.python
        if release is not None and minor is not None and minor not in (*release.python,
                                                                         *release.python_experimental):
            supported = f"{release.python[0]} to {release.python[-1]}" if release.python else "none known"
            return Rank.BREAKS, (f"{wheel.label}'s torch {release.series} has no wheels for {python.label}'s Python "
                                 f"{minor} (it supports {supported})")
    return PYTHON_STEPS[version_step(*(s.facts.system.python.version for s in (a, b)))], note


def _glibc_rank(kb: Knowledge, note: str, a: Side, b: Side) -> tuple[Rank, str]:
    for system, wheel in ((a, b), (b, a)):
        needed = glibc_needed(kb, system.ctx.machine, wheel.build.version) if wheel.build else None
        if needed is not None and wheel.build is not None:
            return Rank.BREAKS, (f"{system.label}'s glibc {system.ctx.machine.glibc} is older than the {needed} that "
                                 f"{wheel.label}'s torch {wheel.build.version} wheels need")
    return Rank.LOW, note


def _arch(side: Side) -> Known:
    os_info = side.facts.system.os
    arch = ARCH_NAMES.get(os_info.arch.lower(), os_info.arch.lower())
    return Known(arch) if arch else Known(None, os_info.unknown.get("arch", "not recorded"))


def compare_platform(c: Collector, kb: Knowledge, a: Side, b: Side) -> None:
    notes = c.notes
    host_a, host_b = (Known(s.facts.origin.hostname, None if s.facts.origin.hostname else "not recorded")
                      for s in (a, b))
    c.fact(Group.PLATFORM, "hostname", host_a, host_b, Rank.NOISE)
    oa, ob = a.facts.system.os, b.facts.system.os
    c.fact(Group.PLATFORM, "operating system", _known(oa.system, oa.unknown, "system", True),
           _known(ob.system, ob.unknown, "system", True), Rank.HIGH)
    c.fact(Group.PLATFORM, "architecture", _arch(a), _arch(b), Rank.HIGH)
    c.fact(Group.PLATFORM, "Python", _python(a), _python(b), *_python_rank(notes["Python"], a, b))
    c.fact(Group.PLATFORM, "glibc", _known(oa.glibc, oa.unknown, "glibc"), _known(ob.glibc, ob.unknown, "glibc"),
           *_glibc_rank(kb, notes["glibc"], a, b))
    for fact, field, always in (("OS release", "name", True), ("kernel", "kernel", True),
                                ("container", "container", False)):
        c.fact(Group.PLATFORM, fact, _known(getattr(oa, field), oa.unknown, field, always),
               _known(getattr(ob, field), ob.unknown, field, always), Rank.LOW)
    ca, cb = a.facts.system.cpu, b.facts.system.cpu
    c.fact(Group.PLATFORM, "CPU", _known(ca.model, ca.unknown, "model", True),
           _known(cb.model, cb.unknown, "model", True), Rank.LOW)


def diff_facts(a: Facts, b: Facts, kb: Knowledge) -> MachineDiff:
    """Every difference between machine A's facts and machine B's, grouped and ranked, and what cannot be
    compared because one side does not know it."""
    side_a, side_b = Side("A", context(a, kb)), Side("B", context(b, kb))
    collector = Collector(dict(kb.fact_notes))
    compare_driver_gpus(collector, kb, side_a, side_b)
    compare_torch(collector, kb, side_a, side_b)
    compare_libraries(collector, kb, side_a.facts, side_b.facts)
    compare_platform(collector, kb, side_a, side_b)
    compare_environment(collector, side_a.facts, side_b.facts)
    compare_findings(collector, side_a.ctx, side_b.ctx)
    return collector.result(_source(a), _source(b), kb.valid_as_of)


def _source(facts: Facts) -> str:
    if facts.origin.path is not None:
        return "standard input" if facts.origin.path == "-" else facts.origin.path
    return f"this machine ({facts.origin.hostname})" if facts.origin.hostname else "this machine"
