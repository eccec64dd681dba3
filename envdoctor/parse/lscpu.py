"""`lscpu` text output (util-linux), old flat layout and the newer one nested under "Vendor ID"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Features that change which CPU kernels PyTorch (oneDNN, FBGEMM, its own vectorised ops) can use.
ISA_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8",
                "asimd", "sve", "sve2", "bf16", "i8mm")


@dataclass(frozen=True)
class LscpuInfo:
    architecture: Optional[str]
    model_name: Optional[str]
    cpus: Optional[int]
    threads_per_core: Optional[int]
    cores: Optional[int]  # physical cores over all sockets (or clusters, on Arm)
    flags: Optional[frozenset[str]]  # None when this lscpu prints no Flags line

    @property
    def isa(self) -> Optional[tuple[str, ...]]:
        """The ISA_FEATURES among the flags, in that order; None without a Flags line."""
        return tuple(f for f in ISA_FEATURES if f in self.flags) if self.flags is not None else None


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
