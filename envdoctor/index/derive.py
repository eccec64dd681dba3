"""From what the index lists to knowledge rows, pure: variants, Python tags, platforms, glibc and macOS floors,
Requires-Python, PyPI's default variant and companion pins, per torch release series."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Optional

from packaging.version import Version

from envdoctor.index.model import IndexWheel, Snapshot, series_of
from envdoctor.knowledge.overlay import OVERLAY_SCHEMA, OVERLAY_SCHEMA_VERSION

# legacy manylinux tags → the glibc they promise (PEP 513, 571, 599)
_LEGACY_MANYLINUX = {"manylinux1": "2.5", "manylinux2010": "2.12", "manylinux2014": "2.17"}
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "arm64"}


def platform_of(tag: str) -> Optional[tuple[str, Optional[str]]]:
    """("linux-x86_64", "2.28") for `manylinux_2_28_x86_64`; ("macos-arm64", "14.0") for `macosx_14_0_arm64`;
    ("windows-x86_64", None) for `win_amd64`; None for a tag outside these families."""
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", tag)
    if match:
        return f"linux-{_ARCH.get(match.group(3), match.group(3))}", f"{match.group(1)}.{match.group(2)}"
    match = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)", tag)
    if match:
        return f"linux-{_ARCH.get(match.group(2), match.group(2))}", _LEGACY_MANYLINUX[match.group(1)]
    match = re.fullmatch(r"linux_(\w+)", tag)
    if match:
        return f"linux-{_ARCH.get(match.group(1), match.group(1))}", None
    match = re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", tag)
    if match:
        return f"macos-{_ARCH.get(match.group(3), match.group(3))}", f"{match.group(1)}.{match.group(2)}"
    match = re.fullmatch(r"win_(\w+)", tag)
    if match:
        return f"windows-{_ARCH.get(match.group(1), match.group(1))}", None
    return None


def python_minor(tag: str) -> Optional[str]:
    """"3.13" for cp313, "3.13t" for cp313t (free-threaded); None for other interpreters."""
    match = re.fullmatch(r"cp3(\d+)(t?)", tag)
    return f"3.{match.group(1)}{match.group(2)}" if match else None


def _minor_key(text: str) -> tuple[int, int]:
    major, minor = text.rstrip("t").split(".")
    return int(major), int(minor)


def _floors(wheels: Iterable[IndexWheel], family: str) -> dict[str, str]:
    """The lowest floor per architecture among a family's tags ("linux" → glibc, "macos" → macOS): a machine
    above the lowest one has a wheel to install."""
    floors: dict[str, Version] = {}
    for wheel in wheels:
        for tag in wheel.wheel.platforms:
            parsed = platform_of(tag)
            if parsed is None or parsed[1] is None or not parsed[0].startswith(family + "-"):
                continue
            arch, floor = parsed[0].split("-", 1)[1], Version(parsed[1])
            floors[arch] = min(floors.get(arch, floor), floor)
    return {arch: str(floor) for arch, floor in sorted(floors.items())}


def _cuda_version(variant: str) -> str:
    digits = variant[2:]
    return f"{digits[:-1]}.{digits[-1]}"


def release_row(series: str, wheels: list[IndexWheel], snapshot: Snapshot) -> dict[str, Any]:
    """One release series as the overlay stores it."""
    patches = sorted({w.wheel.version.public for w in wheels}, key=Version)
    variants = sorted({v for v in (w.variant for w in wheels) if v})
    minors = {m for w in wheels for m in map(python_minor, w.wheel.python) if m}
    platforms = sorted({p[0] for w in wheels for p in map(platform_of, w.wheel.platforms) if p})
    defaults = {snapshot.pypi_default[p] for p in patches if snapshot.pypi_default.get(p)}
    requires = [snapshot.requires_python[p] for p in patches if p in snapshot.requires_python]
    row: dict[str, Any] = {
        "version": series,
        "patches": patches,
        "python": sorted((m for m in minors if not m.endswith("t")), key=_minor_key),
        "free_threaded": sorted((m for m in minors if m.endswith("t")), key=_minor_key),
        "cuda": [{"variant": v, "cuda": _cuda_version(v)} for v in variants if re.fullmatch(r"cu\d{2,3}", v)],
        "rocm": [v for v in variants if v.startswith("rocm")],
        "variants": variants,
        "platforms": platforms,
        "glibc": _floors(wheels, "linux"),
        "min_macos": _floors(wheels, "macos"),
        "torchvision": _pins(snapshot.companions.get("torchvision", {}), patches),
        "torchaudio": _pins(snapshot.companions.get("torchaudio", {}), patches),
    }
    if requires:
        row["requires_python"] = requires[-1]
    if len(defaults) == 1:
        row["pypi_default"] = defaults.pop()
    return row


def _pins(companion: dict[str, str], patches: list[str]) -> dict[str, str]:
    """{torch patch: the newest companion release pinning it}."""
    pins: dict[str, str] = {}
    for release, torch in sorted(companion.items(), key=lambda item: Version(item[0])):
        if torch in patches:
            pins[torch] = release
    return pins


def overlay_document(snapshot: Snapshot, today: str) -> dict[str, Any]:
    """The overlay JSON written to the cache: dated, naming its sources, one row per release series read."""
    by_series: dict[str, list[IndexWheel]] = {}
    for wheel in snapshot.wheels:
        by_series.setdefault(str(series_of(wheel.wheel.version)), []).append(wheel)
    releases = [release_row(s, by_series[s], snapshot) for s in sorted(by_series, key=Version, reverse=True)]
    return {
        "schema": OVERLAY_SCHEMA,
        "schema_version": OVERLAY_SCHEMA_VERSION,
        "valid_as_of": today,
        "sources": {"index": snapshot.index_url, "pypi": snapshot.pypi_url, "since": snapshot.since},
        "releases": releases,
        "gaps": list(snapshot.gaps),
    }
