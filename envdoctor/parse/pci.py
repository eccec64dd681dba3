"""PCI bus ids, as NVML, nvidia-smi, sysfs and CUDA spell them."""

from __future__ import annotations

import re
from typing import Optional, Union

# domain:bus:device.function. NVML's busId has an 8-digit domain ("00000000:07:00.0"), its busIdLegacy and Linux
# sysfs a 4-digit one ("0000:07:00.0"); sysfs writes lower-case hex, NVML and nvidia-smi upper-case.
_BUS_ID = re.compile(r"([0-9A-Fa-f]{1,8}):([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2})\.([0-7])")


def normalise_pci_bus_id(value: Union[str, bytes, None]) -> Optional[str]:
    """Any spelling of a PCI bus id in NVML's own, "00000000:07:00.0"; None when `value` is not one."""
    if value is None:
        return None
    text = (value.decode(errors="replace") if isinstance(value, bytes) else value).strip().rstrip("\0")
    match = _BUS_ID.fullmatch(text)
    if match is None:
        return None
    domain, bus, device, function = (int(part, 16) for part in match.groups())
    return f"{domain:08X}:{bus:02X}:{device:02X}.{function}"
