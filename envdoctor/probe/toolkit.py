"""Probe a local CUDA toolkit (nvcc, CUDA_HOME) and CUDA libraries on the loader's search path."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Optional

from envdoctor.facts.toolkit import LibraryDir, ToolkitInfo
from envdoctor.probe.host import Host

# Libraries torch's CUDA wheels bundle; a copy earlier on the search path is loaded instead of the bundled one.
SHADOWING_PREFIXES = ("libcudnn", "libnvJitLink", "libcublas", "libcusparse", "libnccl")
WINDOWS_PREFIXES = ("cudnn", "nvJitLink", "cublas", "cusparse", "nccl")
_NVCC_RELEASE = re.compile(r"release \S+, V(\d+\.\d+(?:\.\d+)?)")


def parse_nvcc_version(text: str) -> Optional[str]:
    """`nvcc --version`'s last line, "Cuda compilation tools, release 12.4, V12.4.131" → "12.4.131"."""
    match = _NVCC_RELEASE.search(text)
    return match.group(1) if match else None


def _cuda_home(host: Host, nvcc: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """The toolkit root as torch.utils.cpp_extension finds it for extension builds (same order, no symlink
    resolution), so that this is the CUDA_HOME such a build would use."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if host.env.get(var):
            return host.env[var], var
    if nvcc is not None:
        return str(PurePath(nvcc).parent.parent), "nvcc"
    if host.system != "Windows" and host.exists("/usr/local/cuda"):
        return "/usr/local/cuda", "/usr/local/cuda"
    return None, None


def _library_dirs(host: Host) -> tuple[str, tuple[LibraryDir, ...]]:
    windows = host.system == "Windows"
    var, sep, prefixes, suffix = (("PATH", ";", WINDOWS_PREFIXES, ".dll") if windows
                                  else ("LD_LIBRARY_PATH", ":", SHADOWING_PREFIXES, ".so"))
    found = []
    for directory in dict.fromkeys(d for d in host.env.get(var, "").split(sep) if d):
        path = host.path(directory)
        try:
            names = sorted(p.name for p in path.iterdir()
                           if p.name.startswith(prefixes) and suffix in p.name)
        except OSError:
            continue
        if names:
            found.append(LibraryDir(directory, tuple(names)))
    return var, tuple(found)


def probe_toolkit(host: Host) -> ToolkitInfo:
    unknown: dict[str, str] = {}
    extra = [f"{host.env[v]}/bin" for v in ("CUDA_HOME", "CUDA_PATH") if host.env.get(v)]
    nvcc = host.which("nvcc", [*extra, "/usr/local/cuda/bin"])
    version = None
    if nvcc is None:
        unknown["nvcc_path"] = "nvcc is not on PATH, in $CUDA_HOME/bin or in /usr/local/cuda/bin"
    else:
        result = host.command([nvcc, "--version"])
        version = parse_nvcc_version(result.stdout) if result.ok else None
        if version is None:
            unknown["nvcc_version"] = result.why_not() if not result.ok else "unrecognised nvcc --version output"
    home, home_source = _cuda_home(host, nvcc)
    if home is None:
        unknown["cuda_home"] = "CUDA_HOME and CUDA_PATH are unset and no toolkit was found"
    var, dirs = _library_dirs(host)
    return ToolkitInfo(nvcc, version, home, home_source, var, dirs, unknown)
