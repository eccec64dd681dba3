"""The bundled knowledge base: version tables read from the JSON files beside this module, each citing sources.

Only lookups live here; judging what they mean for a machine is `envdoctor.diagnose`'s work.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Optional, TypeVar

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.exitcodes import UsageError
from envdoctor.knowledge.overlay import OverlayError, merge, overlay_path, read_overlay

Capability = tuple[int, int]


@dataclass(frozen=True)
class CudaVariant:
    variant: str  # "cu126"
    cuda: str  # "12.6"
    cudnn: Optional[str]
    stable: bool


@dataclass(frozen=True)
class Release:
    """One torch release series ("2.8") and what was published for it."""

    series: str
    patches: tuple[str, ...]
    python: tuple[str, ...]  # CPython minors with stable wheels
    python_experimental: tuple[str, ...]
    cuda: tuple[CudaVariant, ...]
    rocm: tuple[str, ...]
    pypi_default: Optional[str]  # the variant of PyPI's Linux x86_64 wheel
    platforms: tuple[str, ...]  # "linux-x86_64", "macos-arm64", ...
    torchvision: dict[str, str]  # torch patch → torchvision
    torchaudio: dict[str, str]
    lts_patches: tuple[str, ...] = ()  # published on a separate LTS index only: never planned
    free_threaded: tuple[str, ...] = ()  # "3.13t": free-threaded CPython builds seen on the index (overlay only)
    requires_python: Optional[str] = None  # the wheels' Requires-Python (overlay only)

    @property
    def latest(self) -> str:
        """The newest patch an install plan can use."""
        plannable = [p for p in self.patches if p not in self.lts_patches]
        return plannable[-1] if plannable else f"{self.series}.0"


@dataclass(frozen=True)
class WheelArchs:
    torch: SpecifierSet
    variant: str
    platform: str  # "linux-x86_64", "windows-x86_64", "linux-aarch64" or "any"
    archs: tuple[str, ...]
    distribution: str  # "pip" (the wheels) or "conda" (PyTorch's conda channel, measured where pip lists are not)
    borrowed_from: Optional[str] = None  # "2.14": no list is known for this release; this is that release's list


@dataclass(frozen=True)
class GpuModel:
    name: str
    match: tuple[str, ...]
    capability: Capability


@dataclass(frozen=True)
class DriverBranch:
    """One NVIDIA data-center driver branch ("R610") and its lifecycle, as NVIDIA's support table gives it."""

    branch: str  # "R610"
    designation: str  # "Long Term Support Branch", "Production Branch", "New Feature Branch"
    eol: str  # "2026-08": the month NVIDIA gives
    cuda_major: int  # the newest CUDA major it runs without the forward-compatibility package


@dataclass(frozen=True)
class ErrorSignature:
    pattern: re.Pattern[str]
    cause: str  # a finding id
    explanation: str


@dataclass(frozen=True)
class PeakFlops:
    device: str  # the table's name for the device: "H100 SXM"
    tflops: float  # dense, for the dtype asked
    source: str


@dataclass(frozen=True)
class PeakModel:
    """One GPU model of the peak table: its dense TFLOP/s by dtype ("bfloat16", "float16", "tf32", "float32")."""

    name: str  # the table's name for the model: "H100 SXM"
    tflops: Mapping[str, float]  # only the dtypes a source gives
    source: str


@dataclass(frozen=True)
class LibraryNote:
    """Why a loaded library of this family ("libcudnn" covers libcudnn_graph; "" any) differing matters."""

    name: str
    why: str


@dataclass(frozen=True)
class RangedValue:
    """A value that holds for a range of torch releases (and one architecture, where it says)."""

    torch: SpecifierSet
    arch: Optional[str]
    value: Optional[str]  # None: nothing exists for that range (no wheel, no MPS)


def _spec(text: str) -> SpecifierSet:
    """A range of torch releases; nightlies and release candidates ("1.13.0.dev20220525") fall inside it."""
    return SpecifierSet(text, prereleases=True)


def version_or_none(text: Optional[str]) -> Optional[Version]:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def torch_base(torch_version: str) -> Optional[Version]:
    """A torch version without local tag or pre-release part: "1.13.0.dev20220525+cpu" → 1.13.0."""
    parsed = version_or_none(torch_version.split("+")[0])
    return Version(".".join(map(str, parsed.release[:3]))) if parsed else None


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))
    return data


def _capability(text: str) -> Capability:
    major, minor = text.split(".")
    return int(major), int(minor)


TABLES = ("torch_releases.json", "cuda_drivers.json", "wheel_archs.json", "gpus.json", "platforms.json",
          "error_signatures.json", "peak_flops.json", "differences.json")


class Knowledge:
    """Every table, loaded once. `valid_as_of` is the oldest date among the bundled files; `overlay_date` the date
    of the overlay `envdoctor update` wrote, merged over them (None without one)."""

    def __init__(self, overlay: Optional[dict[str, Any]] = None) -> None:
        tables = {name: _load(name) for name in TABLES}
        if overlay is not None:
            tables = merge(tables, overlay)
        self.overlay_date: Optional[str] = overlay["valid_as_of"] if overlay is not None else None
        releases, drivers, archs, gpus, platforms, signatures, peaks, differences = (tables[n] for n in TABLES)
        self.valid_as_of = min(d["valid_as_of"] for d in (releases, drivers, archs, gpus, platforms, signatures,
                                                          peaks, differences))
        self._peak_models = _peak_index(peaks["devices"])
        self.releases = tuple(sorted((self._release(r) for r in releases["releases"]),
                                     key=lambda r: Version(r.series), reverse=True))
        self._min_driver = [(row["cuda"], row) for row in drivers["minimum_driver"]]
        self.driver_branches = tuple(DriverBranch(b["branch"], b["designation"], b["eol"], int(b["cuda_major"]))
                                     for b in drivers.get("branches", []))
        self.wheel_archs = tuple(WheelArchs(_spec(w["torch"]), w["variant"], w["platform"], tuple(w["archs"]),
                                            w.get("distribution", "pip"), w.get("borrowed_from"))
                                 for w in archs["wheels"])
        self.exact_arch_devices = frozenset(_capability(c) for c in archs["binary_compatibility"]["exceptions"])
        self.gpus = tuple(GpuModel(g["name"], tuple(m.lower() for m in g["match"]), _capability(g["capability"]))
                          for g in gpus["gpus"])
        self.linux_glibc = self._ranged(platforms["linux_glibc"], "glibc")
        self.macos = self._ranged(platforms["macos"], "min_macos")
        self.mps_min_macos = self._ranged(platforms["mps_min_macos"], "min_macos")
        self.signatures = tuple(ErrorSignature(re.compile(s["pattern"]), s["cause"], s["explanation"])
                                for s in signatures["signatures"])
        self.library_notes = tuple(LibraryNote(lib["family"], lib["why"]) for lib in differences["libraries"])
        self.fact_notes: Mapping[str, str] = MappingProxyType(dict(differences["facts"]))

    @staticmethod
    def _release(r: dict[str, Any]) -> Release:
        return Release(
            series=r["version"],
            patches=tuple(sorted(r.get("patches", []), key=Version)),
            python=tuple(r.get("python", [])),
            python_experimental=tuple(r.get("python_experimental", [])),
            cuda=tuple(CudaVariant(c["variant"], c["cuda"], c.get("cudnn"), c.get("status", "stable") == "stable")
                       for c in r.get("cuda", [])),
            rocm=tuple(r.get("rocm", [])),
            pypi_default=r.get("pypi_default"),
            platforms=tuple(r.get("platforms", [])),
            torchvision=dict(r.get("torchvision", {})),
            torchaudio=dict(r.get("torchaudio", {})),
            lts_patches=tuple(r.get("lts_patches", [])),
            free_threaded=tuple(r.get("free_threaded", [])),
            requires_python=r.get("requires_python"),
        )

    @staticmethod
    def _ranged(rows: list[dict[str, Any]], key: str) -> tuple[RangedValue, ...]:
        return tuple(RangedValue(_spec(row["torch"]), row.get("arch"), row[key]) for row in rows)

    @property
    def knowledge_date(self) -> str:
        """How fresh the knowledge is: the overlay's date, else the bundled tables'."""
        return self.overlay_date or self.valid_as_of

    # Lookups -----------------------------------------------------------------------------------------------

    def release(self, version: str) -> Optional[Release]:
        """The series a torch version ("2.4.1+cu121", "2.4", "1.13.0.dev20220525") belongs to."""
        parsed = torch_base(version)
        if parsed is None:
            return None
        series = f"{parsed.major}.{parsed.minor}"
        return next((r for r in self.releases if r.series == series), None)

    def minimum_driver(self, cuda: str, os_name: str) -> Optional[Version]:
        """The oldest driver that runs a build for CUDA `cuda` ("12.1") on "linux" or "windows"."""
        wanted = version_or_none(cuda)
        if wanted is None:
            return None
        for key, row in self._min_driver:
            if _cuda_key_matches(key, wanted):
                value = row.get(os_name)
                return Version(value) if value else None
        return None

    def driver_branch(self, driver: str) -> Optional[DriverBranch]:
        """The branch a driver version ("610.43.02") belongs to, by its major number; None when the table has no
        such branch (consumer-only and short-lived branches are absent)."""
        major = driver.split(".")[0]
        return next((b for b in self.driver_branches if b.branch == f"R{major}"), None)

    def archs(self, torch_version: str, variant: str, platform: str) -> Optional[WheelArchs]:
        """The GPU architectures of a (release, variant) build on a platform. The pip wheel's list for the
        platform comes first, then the conda package's (1.x pip lists were never published), then, where a
        platform has no list, Linux x86_64's as the nearest evidence (`row.platform` says which was used)."""
        version = torch_base(torch_version)
        if version is None:
            return None
        rows = [w for w in self.wheel_archs if w.variant == variant and version in w.torch]
        for wanted in (platform, "any", "linux-x86_64"):
            for distribution in ("pip", "conda"):
                for row in rows:
                    if row.distribution == distribution and row.platform == wanted:
                        return row
        return None

    def capability_error(self, capability: Capability) -> Optional[str]:
        """Why a compute capability is outside what the tables know (from their oldest GPU to any minor of their
        newest architecture); None when it is inside."""
        known = sorted(model.capability for model in self.gpus)
        oldest, newest = known[0], known[-1]
        if oldest <= capability <= (newest[0], 9):
            return None
        return (f"compute capability {capability[0]}.{capability[1]} is outside the range the knowledge base "
                f"(as of {self.valid_as_of}) knows, {oldest[0]}.{oldest[1]} to {newest[0]}.x")

    def gpu_capability(self, name: str) -> Optional[GpuModel]:
        """The GPU model a reported name ("NVIDIA GeForce GTX 1080 Ti") is, by its longest matching key."""
        return _longest_match(" ".join(name.lower().split()), ((model.match, model) for model in self.gpus))

    def peak_model(self, device_name: str) -> Optional[PeakModel]:
        """The peak-table row whose listed names include `device_name` exactly (whitespace and case aside), or None:
        a MIG slice, a cut-down variant or an unlisted model never borrows another model's figures."""
        return self._peak_models.get(_peak_key(device_name))

    def peak_flops(self, device_name: str, dtype: str) -> Optional[PeakFlops]:
        """The dense peak of a GPU (by torch's device name) for a dtype, or None when the model is unknown or its
        row gives no figure for the dtype."""
        model = self.peak_model(device_name)
        if model is None or dtype not in model.tflops:
            return None
        return PeakFlops(model.name, model.tflops[dtype], model.source)

    def library_note(self, family: str) -> str:
        """Why a loaded library ("libcudnn_graph", "libcublasLt") matters: its family's row, by longest prefix."""
        return max((n for n in self.library_notes if family.startswith(n.name)), key=lambda n: len(n.name)).why

    def ranged(self, table: tuple[RangedValue, ...], torch_version: str, arch: Optional[str] = None) -> Optional[str]:
        base = torch_base(torch_version)
        if base is None:
            return None
        local = torch_version.partition("+")[2]  # some rows hold for one variant only ("==2.6.0+cu126")
        version = Version(f"{base}+{local}") if local and version_or_none(f"{base}+{local}") else base
        for row in table:
            if version in row.torch and row.arch in (None, arch):
                return row.value
        return None


def _peak_key(device_name: str) -> str:
    """The one normalisation peak names get: runs of whitespace collapsed, case folded."""
    return " ".join(device_name.split()).casefold()


def _peak_index(rows: list[dict[str, Any]]) -> dict[str, PeakModel]:
    """Each listed device name → its row; a name listed by two rows is a table error."""
    index: dict[str, PeakModel] = {}
    for row in rows:
        model = PeakModel(row["name"], MappingProxyType({k: float(v) for k, v in row["tflops"].items()}),
                          row["source"])
        for name in row["names"]:
            key = _peak_key(name)
            if key in index:
                raise ValueError(f"peak_flops.json lists {name!r} under {index[key].name!r} and {model.name!r}")
            index[key] = model
    return index


_Row = TypeVar("_Row")


def _longest_match(text: str, rows: Iterable[tuple[Sequence[str], _Row]]) -> Optional[_Row]:
    """The row with the longest key found in `text`; the first such row on a tie, None when no key is."""
    best: Optional[tuple[int, _Row]] = None
    for keys, row in rows:
        for key in keys:
            if key in text and (best is None or len(key) > best[0]):
                best = (len(key), row)
    return best[1] if best else None


def _cuda_key_matches(key: str, cuda: Version) -> bool:
    """Keys of the minimum-driver table: "13.x", "11.1-11.8", "10.2"."""
    if key.endswith(".x"):
        return cuda.major == int(key[:-2])
    if "-" in key:
        low, high = (Version(k) for k in key.split("-"))
        return low <= Version(f"{cuda.major}.{cuda.minor}") <= high
    return Version(key) == Version(f"{cuda.major}.{cuda.minor}")


@lru_cache(maxsize=1)
def knowledge() -> Knowledge:
    """The bundled tables with the user's overlay (see `envdoctor update`) merged in; an unreadable overlay is
    a usage error naming the file."""
    path = overlay_path()
    try:
        return Knowledge(read_overlay(path))
    except OverlayError as exc:
        raise UsageError(f"{exc}; run 'envdoctor update' or delete the file") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"the knowledge overlay {path} has a malformed row ({exc.__class__.__name__}: {exc}); "
                         "run 'envdoctor update' or delete the file") from None


@dataclass(frozen=True)
class ClockEventReason:
    """One of NVML's clock-event ("throttle") reasons and what an active one means for speed."""

    name: str  # as envdoctor records it: "hw_thermal_slowdown"
    bit: int
    costs_speed: bool  # the GPU runs below its clocks for a reason outside the workload
    expected_under_load: bool  # normal while a GPU works flat out (sw_power_cap): judged only on an idle snapshot
    description: str  # NVML's words
    source: str


@lru_cache(maxsize=1)
def clock_event_reasons() -> Mapping[str, ClockEventReason]:
    """NVML's clock-event reasons by name, from clock_event_reasons.json (bundled only: no overlay updates it)."""
    rows = _load("clock_event_reasons.json")["reasons"]
    return MappingProxyType({r["name"]: ClockEventReason(r["name"], int(r["bit"], 16), r["costs_speed"],
                                                         r["expected_under_load"], r["nvml"], r["source"])
                             for r in rows})
