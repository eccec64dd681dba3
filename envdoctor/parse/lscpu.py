"""`lscpu` text output (util-linux), old flat layout and the newer one nested under "Vendor ID"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class LscpuInfo:
    architecture: Optional[str]
    model_name: Optional[str]
    cpus: Optional[int]
    threads_per_core: Optional[int]
    cores: Optional[int]  # physical cores over all sockets (or clusters, on Arm)
    flags: Optional[frozenset[str]]  # None when this lscpu prints no Flags line


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_lscpu(text: str) -> LscpuInfo:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in fields:  # big.LITTLE repeats "Model name": keep the first
            fields[key.strip()] = value.strip()
    per_group = _int(fields.get("Core(s) per socket")) or _int(fields.get("Core(s) per cluster"))
    groups = (_int(fields.get("Socket(s)")) or _int(fields.get("CPU socket(s)"))  # util-linux before 2.19
              or _int(fields.get("Cluster(s)")) or 1)
    flags = fields.get("Flags")
    return LscpuInfo(
        architecture=fields.get("Architecture"),
        model_name=fields.get("Model name") or None,
        cpus=_int(fields.get("CPU(s)")),
        threads_per_core=_int(fields.get("Thread(s) per core")),
        cores=per_group * groups if per_group else None,
        flags=frozenset(flags.split()) if flags is not None else None,
    )
