"""Probe accelerators beyond the NVIDIA driver: GPUs on the PCI bus, AMD ROCm, Apple silicon, Intel GPUs."""

from __future__ import annotations

import platform
from typing import Optional

from envdoctor.facts.accelerators import AcceleratorFacts, AppleInfo, IntelGpuInfo, PciGpu, RocmInfo
from envdoctor.parse.rocminfo import parse_rocminfo
from envdoctor.probe.host import Host

# PCI-SIG vendor ids of the GPU makers PyTorch has backends for.
PCI_VENDORS = {"0x10de": "nvidia", "0x1002": "amd", "0x8086": "intel"}
_PCI_ROOT = "/sys/bus/pci/devices"
ROCM_VERSION_FILE = "/opt/rocm/.info/version"


def probe_pci_gpus(host: Host) -> tuple[PciGpu, ...]:
    """Display and 3D controllers (PCI class 0x03xxxx) from sysfs, with the kernel driver bound to each."""
    root = host.path(_PCI_ROOT)
    if not root.is_dir():
        return ()
    gpus = []
    for device in sorted(root.iterdir()):
        pci_class = host.read_text(f"{_PCI_ROOT}/{device.name}/class") or ""
        if not pci_class.strip().startswith("0x03"):
            continue
        vendor_id = (host.read_text(f"{_PCI_ROOT}/{device.name}/vendor") or "").strip()
        driver = device / "driver"
        gpus.append(PciGpu(
            address=device.name,
            vendor=PCI_VENDORS.get(vendor_id, vendor_id),
            vendor_id=vendor_id,
            device_id=(host.read_text(f"{_PCI_ROOT}/{device.name}/device") or "").strip(),
            driver=driver.resolve().name if driver.exists() else None,
        ))
    return tuple(gpus)


def probe_rocm(host: Host) -> Optional[RocmInfo]:
    """ROCm's version and GPU architectures, or None when neither its version file nor rocminfo exists."""
    version_text = host.read_text(ROCM_VERSION_FILE)
    rocminfo = host.which("rocminfo", ("/opt/rocm/bin",))
    if version_text is None and rocminfo is None:
        return None
    unknown: dict[str, str] = {}
    version = version_text.strip().split("-")[0] if version_text else None
    if version is None:
        unknown["version"] = f"{ROCM_VERSION_FILE} is absent"
    archs: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    source = None
    if rocminfo is None:
        unknown["gfx_archs"] = "rocminfo not found"
    else:
        result = host.command([rocminfo])
        if result.ok:
            agents = parse_rocminfo(result.stdout)
            archs = tuple(a.name for a in agents)
            names = tuple(a.marketing_name or a.name for a in agents)
            source = "rocminfo"
        else:
            unknown["gfx_archs"] = result.why_not()
    return RocmInfo(version, archs, names, source, unknown)


def probe_intel(host: Host, pci_gpus: tuple[PciGpu, ...]) -> Optional[IntelGpuInfo]:
    intel = [g for g in pci_gpus if g.vendor == "intel"]
    smi = host.which("xpu-smi")
    if not intel and smi is None:
        return None
    unknown: dict[str, str] = {}
    version = None
    if smi is None:
        unknown["xpu_smi_version"] = "xpu-smi not found"
    else:
        result = host.command([smi, "--version"])
        if result.ok and result.stdout.strip():
            version = result.stdout.strip().splitlines()[0]
        else:
            unknown["xpu_smi_version"] = result.why_not()
    drivers = tuple(sorted({g.driver for g in intel if g.driver}))
    return IntelGpuInfo(len(intel), drivers, version, unknown)


def probe_accelerators(host: Host) -> AcceleratorFacts:
    unknown: dict[str, str] = {}
    pci: tuple[PciGpu, ...] = ()
    if host.system == "Linux":
        pci = probe_pci_gpus(host)
    else:
        unknown["pci_gpus"] = f"the PCI bus is read from sysfs on Linux only, not on {host.system}"
    apple = None
    if host.system == "Darwin":
        # 1 for a process Rosetta 2 translates; the key exists on Apple silicon only.
        translated = host.command(["sysctl", "-n", "sysctl.proc_translated"])
        rosetta = translated.ok and translated.stdout.strip() == "1"
        apple = AppleInfo(apple_silicon=platform.machine() == "arm64" or rosetta,
                          macos_version=platform.mac_ver()[0] or None, rosetta=rosetta)
    return AcceleratorFacts(pci, probe_rocm(host), apple, probe_intel(host, pci), unknown)
