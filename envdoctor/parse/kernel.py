"""The kernel's own version strings: `/proc/version` (WSL detection) and the NVIDIA module's version files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

_DRIVER_VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?$")
_NVRM_LINE = re.compile(r"NVRM version:.*?Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)\b")


@dataclass(frozen=True)
class NvidiaKernelModule:
    driver_version: str
    flavour: str  # "open" (the open GPU kernel modules) or "proprietary"


def parse_nvidia_proc_version(text: str) -> Optional[NvidiaKernelModule]:
    """`/proc/driver/nvidia/version`: the driver version from its NVRM line, and which kernel module it is."""
    for line in text.splitlines():
        match = _NVRM_LINE.search(line)
        if match:
            flavour = "open" if " Open " in line else "proprietary"
            return NvidiaKernelModule(match.group(1), flavour)
    return None


def parse_sys_module_version(text: str) -> Optional[str]:
    """`/sys/module/nvidia/version`: the whole file is the version, e.g. "550.54.14"."""
    version = text.strip()
    return version if _DRIVER_VERSION.match(version) else None


def wsl_generation(proc_version: str) -> Optional[int]:
    """1 or 2 when `/proc/version` shows a WSL kernel, None otherwise.

    WSL 2 kernels are Microsoft's own builds ("5.15.153.1-microsoft-standard-WSL2", older
    "4.19.104-microsoft-standard"); WSL 1 reports an emulated "4.4.0-19041-Microsoft".
    """
    lowered = proc_version.lower()
    if "microsoft-standard" in lowered or "wsl2" in lowered:
        return 2
    if "microsoft" in lowered:
        return 1
    return None
