"""nvidia-smi's outputs: the default table, `-q -x` XML, `--query-gpu` CSV and `nvlink -s`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from typing import Optional

from envdoctor.facts import none_fields
from envdoctor.facts.nvidia import GpuInfo

_MIB = 1024 * 1024
_NOT_IN_XML = "not in nvidia-smi -q -x output"


@dataclass(frozen=True)
class SmiSummary:
    """What the header of the default `nvidia-smi` table says."""

    smi_version: Optional[str]  # the nvidia-smi binary's own version; under WSL or in old containers it differs
    driver_version: str
    cuda_version: Optional[str]  # the highest CUDA version the driver supports; None for "N/A" or "ERR!"


@dataclass(frozen=True)
class SmiLog:
    """`nvidia-smi -q -x`: the driver and every GPU."""

    driver_version: Optional[str]
    cuda_version: Optional[str]
    gpus: tuple[GpuInfo, ...]


_VERSION = r"(\d+\.\d+(?:\.\d+)?)"
_SMI = re.compile(rf"NVIDIA-SMI\s+{_VERSION}")
# Driver R610 renamed the header's "Driver Version" to "KMD Version" and "CUDA Version" to "CUDA UMD Version".
_DRIVER = re.compile(rf"(?:Driver|KMD) Version:\s*{_VERSION}")
_CUDA = re.compile(r"CUDA (?:UMD )?Version:\s*(\d+\.\d+)")


def parse_smi_text(text: str) -> Optional[SmiSummary]:
    """The default table's header, or None when the text is not one (e.g. "NVIDIA-SMI has failed ...")."""
    driver = _DRIVER.search(text)
    if driver is None:
        return None
    smi = _SMI.search(text)
    cuda = _CUDA.search(text)
    return SmiSummary(smi.group(1) if smi else None, driver.group(1), cuda.group(1) if cuda else None)


def _text(node: Optional[ET.Element], path: str) -> Optional[str]:
    found = node.find(path) if node is not None else None
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return None if value in ("", "N/A", "[N/A]", "Unknown Error", "[Unknown Error]") else value


def _number(value: Optional[str], unit: str) -> Optional[float]:
    """"81920 MiB" → 81920.0 for unit "MiB"; None for "N/A" or another unit."""
    if value is None:
        return None
    match = re.fullmatch(rf"([\d.]+)\s*{re.escape(unit)}", value)
    return float(match.group(1)) if match else None


def _mib(node: Optional[ET.Element], path: str) -> Optional[int]:
    mib = _number(_text(node, path), "MiB")
    return int(mib * _MIB) if mib is not None else None


def _whole(node: Optional[ET.Element], path: str, unit: str) -> Optional[int]:
    value = _number(_text(node, path), unit)
    return int(value) if value is not None else None


def _throttle_reasons(gpu: ET.Element) -> Optional[tuple[str, ...]]:
    # The section was renamed from clocks_throttle_reasons to clocks_event_reasons in driver 535.
    for section, prefix in (("clocks_event_reasons", "clocks_event_reason_"),
                            ("clocks_throttle_reasons", "clocks_throttle_reason_")):
        node = gpu.find(section)
        if node is not None:
            return tuple(
                child.tag.removeprefix(prefix)
                for child in node
                if (child.text or "").strip() == "Active" and child.tag.startswith(prefix)
            )
    return None


def _gpu(index: int, gpu: ET.Element) -> GpuInfo:
    mig = _text(gpu, "mig_mode/current_mig")
    power = _text(gpu, "gpu_power_readings/current_power_limit") or _text(gpu, "power_readings/power_limit")
    link = gpu.find("pci/pci_gpu_link_info")
    info = GpuInfo(
        index=index,
        name=_text(gpu, "product_name"),
        uuid=_text(gpu, "uuid"),
        compute_capability=None,
        memory_total_bytes=_mib(gpu, "fb_memory_usage/total"),
        memory_used_bytes=_mib(gpu, "fb_memory_usage/used"),
        mig_enabled=None if mig is None else mig == "Enabled",
        sm_clock_mhz=_whole(gpu, "clocks/sm_clock", "MHz"),
        sm_clock_max_mhz=_whole(gpu, "max_clocks/sm_clock", "MHz"),
        power_limit_w=_number(power, "W"),
        throttle_reasons=_throttle_reasons(gpu),
        pcie_gen=_whole(link, "pcie_gen/current_link_gen", ""),
        pcie_gen_max=_whole(link, "pcie_gen/max_link_gen", ""),
        pcie_width=_whole(link, "link_widths/current_link_width", "x"),
        pcie_width_max=_whole(link, "link_widths/max_link_width", "x"),
        nvlink_active_links=None,
    )
    unknown = dict.fromkeys(none_fields(info), "N/A in nvidia-smi -q -x output")
    unknown.update(compute_capability=_NOT_IN_XML, nvlink_active_links=_NOT_IN_XML)
    return replace(info, unknown=unknown)


def parse_smi_xml(text: str) -> Optional[SmiLog]:
    """`nvidia-smi -q -x`, or None when the text is not an `<nvidia_smi_log>` document."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    if root.tag != "nvidia_smi_log":
        return None
    gpus = tuple(_gpu(i, gpu) for i, gpu in enumerate(root.findall("gpu")))
    return SmiLog(_text(root, "driver_version"), _text(root, "cuda_version"), gpus)


def parse_compute_caps(text: str) -> dict[int, tuple[int, int]]:
    """`nvidia-smi --query-gpu=...,compute_cap --format=csv`: {GPU index: (major, minor)}.

    Columns are found by the header, in any order; without an `index` column, rows are in GPU order.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return {}
    header = [c.strip() for c in lines[0].split(",")]
    if "compute_cap" not in header:
        return {}
    cap_col = header.index("compute_cap")
    index_col = header.index("index") if "index" in header else None
    caps: dict[int, tuple[int, int]] = {}
    for row_number, line in enumerate(lines[1:]):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(header):
            continue
        match = re.fullmatch(r"(\d+)\.(\d+)", cells[cap_col])
        index = cells[index_col] if index_col is not None else str(row_number)
        if match and index.isdigit():
            caps[int(index)] = (int(match.group(1)), int(match.group(2)))
    return caps


def parse_nvlink_status(text: str) -> dict[int, int]:
    """`nvidia-smi nvlink -s`: the number of active links per GPU index ("Link 0: 26.562 GB/s" is active).

    A GPU without NVLink is listed with no link lines ("Unable to retrieve Nvlink information as all links are
    inActive"), so it counts 0.
    """
    active: dict[int, int] = {}
    gpu: Optional[int] = None
    for line in text.splitlines():
        header = re.match(r"GPU (\d+):", line)
        if header:
            gpu = int(header.group(1))
            active[gpu] = 0
        elif gpu is not None and re.match(r"\s*Link \d+:\s*[\d.]+\s*GB/s", line):
            active[gpu] += 1
    return active
