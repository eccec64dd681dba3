"""Which compiled GPU architectures run on which devices (NVIDIA's binary-compatibility rule)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Optional

from envdoctor.knowledge import Capability

_ARCH = re.compile(r"(sm|compute)_(\d+)(\d)([af]?)")


def parse_arch(arch: str) -> Optional[tuple[str, Capability, str]]:
    """"sm_86" → ("sm", (8, 6), ""); "compute_90" → ("compute", (9, 0), ""); "sm_90a" → ("sm", (9, 0), "a")."""
    match = _ARCH.fullmatch(arch)
    if match is None:
        return None
    return match.group(1), (int(match.group(2)), int(match.group(3))), match.group(4)


def runs_on(archs: Iterable[str], device: Capability, exact_only: frozenset[Capability]) -> bool:
    """Whether code compiled for `archs` runs on a device of capability `device`.

    Cubin (sm_XY) runs on the same major with a minor at least Y, except on devices that need their exact
    architecture (Jetson iGPUs, sm_101); arch-specific cubin (sm_90a) runs on exactly that capability;
    PTX (compute_XY) is compiled by the driver for any device of capability X.Y or newer.
    """
    for arch in archs:
        parsed = parse_arch(arch)
        if parsed is None:
            continue
        kind, cap, suffix = parsed
        if kind == "compute" and device >= cap:
            return True
        if kind == "sm" and (device == cap or (not suffix and device not in exact_only
                                               and device[0] == cap[0] and device[1] >= cap[1])):
            return True
    return False


def too_new_or_old(archs: Iterable[str], device: Capability) -> str:
    """"too new" when the device is beyond every compiled architecture, else "too old"."""
    caps = [p[1] for p in map(parse_arch, archs) if p is not None]
    return "too new" if caps and device > max(caps) else "too old"


def sm(cap: Capability) -> str:
    return f"sm_{cap[0]}{cap[1]}"
