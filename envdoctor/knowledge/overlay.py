"""The overlay `envdoctor update` writes: where it lives, reading it, and merging it over the bundled tables.

Merging is pure (tables in, tables out) and works on the raw JSON rows, before `Knowledge` builds its dataclasses.
"""

from __future__ import annotations

import copy
import os
from datetime import date
from pathlib import Path
from typing import Any, Optional

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.plain import parse_json

CACHE_DIR_VAR = "ENVDOCTOR_CACHE_DIR"
OVERLAY_NAME = "knowledge-overlay.json"
OVERLAY_SCHEMA = "envdoctor-knowledge-overlay"
OVERLAY_SCHEMA_VERSION = 1


class OverlayError(Exception):
    """An overlay file that is not one envdoctor wrote (or a newer envdoctor did)."""


def cache_dir(environ: Optional[dict[str, str]] = None) -> Path:
    """$ENVDOCTOR_CACHE_DIR, else $XDG_CACHE_HOME/envdoctor, else ~/.cache/envdoctor."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_DIR_VAR):
        return Path(env[CACHE_DIR_VAR])
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"  # XDG: relative paths are ignored
    return base / "envdoctor"


def overlay_path(environ: Optional[dict[str, str]] = None) -> Path:
    return cache_dir(environ) / OVERLAY_NAME


def read_overlay(path: Path) -> Optional[dict[str, Any]]:
    """The overlay at `path`, None when there is none; OverlayError when it is not a readable overlay."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise OverlayError(f"cannot read the knowledge overlay {path}: {exc}") from None
    try:
        document = parse_json(text)
    except ValueError as exc:
        raise OverlayError(f"the knowledge overlay {path} is {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != OVERLAY_SCHEMA \
            or document.get("schema_version") != OVERLAY_SCHEMA_VERSION \
            or not isinstance(document.get("releases"), list) or not isinstance(document.get("valid_as_of"), str):
        raise OverlayError(f"{path} is not an envdoctor knowledge overlay of schema version {OVERLAY_SCHEMA_VERSION}")
    try:
        date.fromisoformat(document["valid_as_of"])  # the freshness notes count days from it
    except ValueError:
        raise OverlayError(f"{path}: valid_as_of {document['valid_as_of']!r} is not a date like 2026-12-04") from None
    return document


def merge(tables: dict[str, dict[str, Any]], overlay: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The bundled tables with the overlay's releases merged in: a series the bundled table has keeps its curated
    values (cuDNN, stable/experimental, sources) and gains what the index shows besides (patches, variants,
    Python minors, platforms, companion pins); a series it lacks is added. The index's glibc and macOS floors
    come first in the platform tables. A CUDA variant without an arch list borrows the previous series' list."""
    merged = copy.deepcopy(tables)
    releases = merged["torch_releases.json"]["releases"]
    by_series = {r["version"]: r for r in releases}
    for row in overlay["releases"]:
        series = row["version"]
        if series in by_series:
            _merge_release(by_series[series], row)
        else:
            new = {key: row[key] for key in ("version", "patches", "python", "platforms", "torchvision",
                                             "torchaudio", "rocm") if key in row}
            new["cuda"] = [{**c, "status": "stable"} for c in row.get("cuda", [])]
            new["pypi_default"] = row.get("pypi_default")
            new["sources"] = ["OVERLAY"]
            releases.append(new)
            by_series[series] = new
        extra = by_series[series]
        extra["free_threaded"] = row.get("free_threaded", [])
        extra["requires_python"] = row.get("requires_python")
        _prepend_floors(merged["platforms.json"], series, row)
    _borrow_archs(merged["wheel_archs.json"]["wheels"], releases, {row["version"] for row in overlay["releases"]})
    return merged


def _merge_release(bundled: dict[str, Any], row: dict[str, Any]) -> None:
    bundled["patches"] = sorted(set(bundled.get("patches", [])) | set(row.get("patches", [])), key=Version)
    known = {c["variant"] for c in bundled.get("cuda", [])}
    # a variant the curated table does not list was seen on the index only: published, not known to be stable
    bundled.setdefault("cuda", []).extend({**c, "status": "published"} for c in row.get("cuda", [])
                                          if c["variant"] not in known)
    bundled["rocm"] = bundled.get("rocm", []) + [v for v in row.get("rocm", []) if v not in bundled.get("rocm", [])]
    listed = set(bundled.get("python", [])) | set(bundled.get("python_experimental", []))
    bundled["python"] = bundled.get("python", []) + [m for m in row.get("python", []) if m not in listed]
    bundled["platforms"] = bundled.get("platforms", []) + [p for p in row.get("platforms", [])
                                                           if p not in bundled.get("platforms", [])]
    if row.get("pypi_default"):
        bundled["pypi_default"] = row["pypi_default"]
    for companion in ("torchvision", "torchaudio"):
        bundled[companion] = {**bundled.get(companion, {}), **row.get(companion, {})}


def _prepend_floors(platforms: dict[str, Any], series: str, row: dict[str, Any]) -> None:
    source = "envdoctor update: the lowest tag among the index's wheels of this series"
    platforms["linux_glibc"][:0] = [{"torch": f"=={series}.*", "arch": arch, "glibc": floor, "source": source}
                                    for arch, floor in row.get("glibc", {}).items()]
    platforms["macos"][:0] = [{"torch": f"=={series}.*", "arch": arch, "min_macos": floor, "source": source}
                              for arch, floor in row.get("min_macos", {}).items()]


def _covers(row: dict[str, Any], series: str) -> bool:
    return Version(f"{series}.0") in SpecifierSet(row["torch"], prereleases=True)


def _borrow_archs(wheels: list[dict[str, Any]], releases: list[dict[str, Any]], touched: set[str]) -> None:
    """For each series the overlay read (oldest first) and CUDA variant with no pip arch row for a platform, copy
    the previous series' row for that variant and platform, marked `borrowed_from` with the series whose list it
    really is."""
    ordered = sorted(releases, key=lambda r: Version(r["version"]))
    for previous, release in zip(ordered, ordered[1:]):
        if release["version"] not in touched:
            continue
        for variant in (c["variant"] for c in release.get("cuda", [])):
            rows = [w for w in wheels if w["variant"] == variant and w.get("distribution", "pip") == "pip"]
            have = {w["platform"] for w in rows if _covers(w, release["version"])}
            for source in [w for w in rows if _covers(w, previous["version"]) and w["platform"] not in have]:
                wheels.append({**source, "torch": f"=={release['version']}.*",
                               "borrowed_from": source.get("borrowed_from", previous["version"])})
