"""Probe the installed PyTorch family from package metadata: no `import torch`, so it works when torch is broken."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Optional

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.facts.packages import CondaPackage, Distribution, ModuleConflict, PackageFacts
from envdoctor.probe.host import Host

# Distributions reported by name; every `nvidia-*` and `cuda-*` wheel is reported too.
RELEVANT = frozenset({
    "torch", "torchvision", "torchaudio", "triton", "pytorch-triton", "pytorch-triton-rocm",
    "pytorch-triton-xpu", "numpy", "pynvml", "nvidia-ml-py", "nvidia-ml-py3",
})
RELEVANT_PREFIXES = ("nvidia-", "cuda-")
# Importable modules that must come from exactly one distribution.
WATCHED_MODULES = ("torch", "torchvision", "torchaudio", "triton", "pynvml")
# What the distributions of the watched modules install, for those whose wheels carry no top_level.txt.
KNOWN_MODULES = {
    "torch": "torch", "torchvision": "torchvision", "torchaudio": "torchaudio", "triton": "triton",
    "pytorch-triton": "triton", "pytorch-triton-rocm": "triton", "pytorch-triton-xpu": "triton",
    "pynvml": "pynvml", "nvidia-ml-py": "pynvml", "nvidia-ml-py3": "pynvml",
}
# conda-meta records worth reporting (PyTorch's own channel and conda-forge names).
CONDA_RELEVANT = ("pytorch", "pytorch-cuda", "pytorch-gpu", "pytorch-cpu", "pytorch-mutex", "libtorch",
                  "torchvision", "torchaudio", "cudatoolkit", "cuda-version", "cudnn", "nccl")


def _is_relevant(name: str) -> bool:
    return name in RELEVANT or name.startswith(RELEVANT_PREFIXES)


def _local_tag(version: str) -> Optional[str]:
    try:
        return Version(version).local
    except InvalidVersion:
        return None


def _location(dist: metadata.Distribution) -> str:
    return str(Path(str(dist.locate_file(""))).resolve())


def _top_level_modules(dist: metadata.Distribution, name: str) -> set[str]:
    """Top-level modules a distribution installs: known for the torch family, else from top_level.txt.

    RECORD would tell for every distribution, but torch's alone has thousands of lines to read.
    """
    listed = dist.read_text("top_level.txt")
    modules = {line.strip() for line in listed.splitlines() if line.strip()} if listed else set()
    if name in KNOWN_MODULES:
        modules.add(KNOWN_MODULES[name])
    return modules


def _conflicts(dists: Iterable[tuple[Distribution, set[str]]]) -> tuple[ModuleConflict, ...]:
    providers: dict[str, list[str]] = {m: [] for m in WATCHED_MODULES}
    for dist, modules in dists:
        for module in modules & providers.keys():
            providers[module].append(f"{dist.name} {dist.version} ({dist.location})")
    return tuple(ModuleConflict(m, tuple(p)) for m, p in providers.items() if len(p) > 1)


def _conda(prefix: Optional[str]) -> tuple[CondaPackage, ...]:
    if prefix is None:
        return ()
    meta = Path(prefix) / "conda-meta"
    packages = []
    for record in sorted(meta.glob("*.json")) if meta.is_dir() else ():
        if not any(record.name.startswith(name + "-") for name in CONDA_RELEVANT):
            continue
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("name") in CONDA_RELEVANT:
            packages.append(CondaPackage(data["name"], str(data.get("version", "")), str(data.get("build", "")),
                                         data.get("channel")))
    return tuple(packages)


def _conda_prefix(host: Host, python_prefix: str) -> Optional[str]:
    if os.path.isdir(os.path.join(python_prefix, "conda-meta")):
        return python_prefix
    return host.env.get("CONDA_PREFIX") or None


def probe_packages(host: Host, python_prefix: str, path: Optional[list[str]] = None) -> PackageFacts:
    """The torch family as installed for this interpreter (or on `path`, a sys.path-like list)."""
    unknown: dict[str, str] = {}
    found: list[tuple[Distribution, set[str]]] = []
    dists = metadata.distributions() if path is None else metadata.distributions(path=path)
    for dist in dists:
        raw_name = dist.metadata["Name"]
        if not raw_name:
            continue  # a broken dist-info with no METADATA
        name = canonicalize_name(raw_name)
        modules = _top_level_modules(dist, name)
        if _is_relevant(name) or modules & set(WATCHED_MODULES):
            version = dist.version
            found.append((Distribution(name, version, _local_tag(version), _location(dist)), modules))
    origin = None
    if path is None:
        try:
            spec = importlib.util.find_spec("torch")
            origin = spec.origin if spec else None
        except (ImportError, ValueError) as exc:
            unknown["torch_origin"] = f"finding torch failed: {exc}"
    else:
        unknown["torch_origin"] = "not looked up for a path other than sys.path"
    prefix = _conda_prefix(host, python_prefix)
    distributions = tuple(sorted((d for d, _ in found), key=lambda d: (d.name, d.location)))
    return PackageFacts(distributions, _conflicts(found), prefix, _conda(prefix), origin, unknown)
