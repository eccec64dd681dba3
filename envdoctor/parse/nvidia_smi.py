"""nvidia-smi's outputs: the default table, `-q -x` XML, `--query-gpu` CSV and `nvlink -s`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from typing import Optional

from envdoctor.facts import none_fields
from envdoctor.facts.nvidia import GpuInfo
from envdoctor.parse.pci import normalise_pci_bus_id

_MIB = 1024 * 1024
_NOT_IN_XML = "not in nvidia-smi -q -x output"
_NOT_IN_TABLE = "not in nvidia-smi's default table"


@dataclass(frozen=True)
class SmiSummary:
    """What the default `nvidia-smi` table says: its header, and a row per GPU."""

    smi_version: Optional[str]  # the nvidia-smi binary's own version; under WSL or in old containers it differs
    driver_version: str
    cuda_version: Optional[str]  # the highest CUDA version the driver supports; None for "N/A" or "ERR!"
    gpus: tuple[GpuInfo, ...] = ()  # index, name, bus id, memory and MIG mode; every other field unknown


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
    """The default table, or None when the text is not one (e.g. "NVIDIA-SMI has failed ...")."""
    driver = _DRIVER.search(text)
    if driver is None:
        return None
    smi = _SMI.search(text)
    cuda = _CUDA.search(text)
    return SmiSummary(smi.group(1) if smi else None, driver.group(1), cuda.group(1) if cuda else None,
                      _table_gpus(text))


# A GPU's first row, first cell: "   0  NVIDIA H100 80GB HBM3          On  " (index, name, then Persistence-M, or
# TCC/WDDM on Windows). The name column is fixed-width: a longer name is cut and ends in "...".
_GPU_FIRST_CELL = re.compile(r"\s*(\d+)\s+(.+?)\s+\S+\s*")
_BUS_ID_CELL = re.compile(r"\s*([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s")
_MEMORY_CELL = re.compile(r"\s*(\d+)MiB\s*/\s*(\d+)MiB\s*")


def _cells(line: str) -> Optional[list[str]]:
    """The three cells of a GPU table line ("| a | b | c |"), or None for a border or any other line."""
    line = line.strip()  # pasted tables are often indented
    if not (line.startswith("|") and line.endswith("|")):
        return None
    cells = line[1:-1].split("|")
    return cells if len(cells) == 3 else None


def _table_gpus(text: str) -> tuple[GpuInfo, ...]:
    """The GPU rows of the default table: three lines per GPU (two before MIG existed), between borders.

    Only the first table (the one whose header names "Bus-Id") is read: the MIG devices and Processes tables
    that follow it have other columns.
    """
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if "Bus-Id" in line), None)
    if header is None:
        return ()
    has_mig_column = any("MIG M." in line for line in lines[header:header + 4])
    rows: list[tuple[re.Match[str], re.Match[str], list[list[str]]]] = []  # per GPU: index and name, bus id, lines
    for line in lines[header + 1:]:
        if not line.strip().startswith(("|", "+")):
            break  # the blank line (or anything else) after the table's last border
        cells = _cells(line)
        if cells is None:
            continue
        first = _GPU_FIRST_CELL.fullmatch(cells[0])
        bus = _BUS_ID_CELL.match(cells[1])
        if first is not None and bus is not None:
            rows.append((first, bus, [cells]))
        elif rows:
            rows[-1][2].append(cells)
    return tuple(_table_gpu(first, bus, gpu_lines, has_mig_column) for first, bus, gpu_lines in rows)


def _table_gpu(first: re.Match[str], bus: re.Match[str], gpu_lines: list[list[str]],
               has_mig_column: bool) -> GpuInfo:
    unknown: dict[str, str] = {}
    name: Optional[str] = first.group(2).strip()
    if name and name.endswith("..."):
        # The table's name column cut it short; half a name would match the wrong row of a GPU table.
        unknown["name"] = f"nvidia-smi's table cut the name short: {name!r}"
        name = None
    memory = _MEMORY_CELL.fullmatch(gpu_lines[1][1]) if len(gpu_lines) > 1 else None
    if memory is None:
        unknown["memory_total_bytes"] = unknown["memory_used_bytes"] = (
            "not a memory reading in nvidia-smi's table" if len(gpu_lines) > 1 else "the table ends before it")
    mig: Optional[bool] = None
    if not has_mig_column:
        unknown["mig_enabled"] = "this nvidia-smi's table has no MIG M. field (drivers before MIG, or Windows)"
    elif len(gpu_lines) < 3:
        unknown["mig_enabled"] = "the table ends before it"
    else:
        mode = gpu_lines[2][2].strip()
        if mode in ("Enabled", "Disabled"):
            mig = mode == "Enabled"
        else:
            unknown["mig_enabled"] = f"{mode or 'empty'} in nvidia-smi's table"
    info = GpuInfo(
        index=int(first.group(1)),
        name=name,
        uuid=None,
        compute_capability=None,
        memory_total_bytes=int(memory.group(2)) * _MIB if memory else None,
        memory_used_bytes=int(memory.group(1)) * _MIB if memory else None,
        mig_enabled=mig,
        sm_clock_mhz=None,
        sm_clock_max_mhz=None,
        power_limit_w=None,
        throttle_reasons=None,
        pcie_gen=None,
        pcie_gen_max=None,
        pcie_width=None,
        pcie_width_max=None,
        nvlink_active_links=None,
        pci_bus_id=normalise_pci_bus_id(bus.group(1)),
    )
    return replace(info, unknown={**dict.fromkeys(none_fields(info), _NOT_IN_TABLE), **unknown})


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
        # <gpu id="00000000:07:00.0">; very old logs may lack the attribute, never <pci><pci_bus_id>
        pci_bus_id=normalise_pci_bus_id(gpu.get("id") or _text(gpu, "pci/pci_bus_id")),
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
