"""The torch child's list of mapped libraries, as facts: each library's family, version and origin."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

from envdoctor.facts.torch import LoadedLibrary

# "libcudnn_graph.so.9.1.0" → ("libcudnn_graph", "9.1.0"); "cudnn64_9.dll" → ("cudnn", "9");
# "cublasLt64_12.dll" → ("cublasLt", "12"); "libtorch_cpu.dylib" → ("libtorch_cpu", ""); a copy renamed by
# auditwheel inside another wheel, torchvision's "libcudart.faf08d9a.so.13" → ("libcudart", "13")
_ELF = re.compile(r"^(?P<family>[^.]+?)(?:[.-][0-9a-f]{8})?\.so(?:\.(?P<version>[\d.]+))?$")
_DLL = re.compile(r"^(?P<family>.+?)(?:64)?(?:_(?P<version>\d+))?\.dll$", re.IGNORECASE)
_DYLIB = re.compile(r"^(?P<family>[^.]+)(?:\.(?P<version>[\d.]+))?\.dylib$")


def _name_and_version(file_name: str) -> tuple[str, str]:
    for pattern in (_ELF, _DLL, _DYLIB):
        match = pattern.match(file_name)
        if match:
            family = match["family"]
            if pattern is _DLL and not family.startswith("lib"):
                family = "lib" + family  # one family name on every platform: "libcudnn"
            return family, match["version"] or ""
    return file_name, ""


def _version(raw: Mapping[str, Any], file_version: str,
             torch_version: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """The most precise version the evidence gives, and which evidence that was."""
    if file_version.count(".") >= 1:
        return file_version, "file name"  # a full version: "libcudnn.so.8.9.7", "libcuda.so.550.54.14"
    if raw.get("owner"):
        distribution, _, version = str(raw["owner"]).partition(" ")
        return version, f"wheel {distribution}"
    if raw.get("in_torch") and torch_version:
        return torch_version, "wheel torch"
    soname = _name_and_version(str(raw["soname"]))[1] if raw.get("soname") else ""
    if soname:
        return soname, "SONAME"
    if file_version:
        return file_version, "file name"
    return None, None


def _origin(raw: Mapping[str, Any]) -> str:
    if raw.get("in_torch") or (raw.get("owner") and raw.get("in_torch_site")):
        return "torch-wheel"
    if raw.get("owner") or raw.get("site_packages"):
        return "wheel"
    return "conda" if raw.get("conda_prefix") else "system"


def loaded_library(raw: Mapping[str, Any], torch_version: Optional[str]) -> LoadedLibrary:
    """One entry of the child's list; `torch_version` names torch's own libraries."""
    path = str(raw["path"])
    name, file_version = _name_and_version(re.split(r"[\\/]", path)[-1])
    version, source = _version(raw, file_version, torch_version)
    return LoadedLibrary(name, path, version, source, _origin(raw), str(raw.get("stage", "import")),
                         raw.get("wheel_copy"), raw.get("wheel_copy_owner"))


def loaded_libraries(raws: Optional[list[Mapping[str, Any]]],
                     torch_version: Optional[str]) -> Optional[tuple[LoadedLibrary, ...]]:
    return None if raws is None else tuple(loaded_library(raw, torch_version) for raw in raws)
