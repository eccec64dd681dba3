"""Probe the NVIDIA driver and GPUs.

Detection order, each step recorded in `NvidiaInfo.attempts`:
1. `ENVDOCTOR_CUDA_DRIVER_VERSION` overrides the driver version (for image builds with no GPU present).
2. NVML through the `pynvml` module (nvidia-ml-py): driver, highest CUDA, and every GPU's details.
3. `/sys/module/nvidia/version`, then `/proc/driver/nvidia/version`: the driver version without a subprocess.
4. `nvidia-smi` (PATH, then `/usr/lib/wsl/lib` on WSL 2 and the Windows install folders): `-q -x` for the GPUs,
   else the default table's GPU rows (index, name, bus id, memory, MIG mode); then
   `--query-gpu=index,compute_cap` for compute capabilities, `nvlink -s` for NVLink.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from dataclasses import replace
from types import ModuleType
from typing import Any, Callable, Optional

from envdoctor.facts import none_fields
from envdoctor.facts.nvidia import GpuInfo, NvidiaInfo
from envdoctor.parse.kernel import parse_nvidia_proc_version, parse_sys_module_version
from envdoctor.parse.nvidia_smi import parse_compute_caps, parse_nvlink_status, parse_smi_text, parse_smi_xml
from envdoctor.parse.pci import normalise_pci_bus_id
from envdoctor.probe.host import Host

DRIVER_OVERRIDE_VAR = "ENVDOCTOR_CUDA_DRIVER_VERSION"
DRIVER_VERSION = re.compile(r"\d{2,4}(\.\d{1,3}){0,2}")  # 550, 550.54, 550.54.14


def driver_override_error(value: str) -> Optional[str]:
    """Why an ENVDOCTOR_CUDA_DRIVER_VERSION value is not a driver version; None when it is one (or is empty)."""
    value = value.strip()
    if not value or DRIVER_VERSION.fullmatch(value):
        return None
    return f"{DRIVER_OVERRIDE_VAR}={value!r} is not a driver version like 550.54.14"

# nvidia-smi outside PATH: WSL 2 mounts the Windows driver's tools here; Windows has two install layouts.
SMI_EXTRA_DIRS = {
    "Linux": ("/usr/lib/wsl/lib",),
    "Windows": ("C:\\Windows\\System32", "C:\\Program Files\\NVIDIA Corporation\\NVSMI"),
}

# NVML's clock-event ("throttle") reason bits, named as nvidia-smi -q -x names them (nvml.h).
THROTTLE_BITS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clocks_setting",
}

NvmlLoader = Callable[[], ModuleType]


def load_pynvml() -> ModuleType:
    return importlib.import_module("pynvml")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def cuda_version_from_int(value: int) -> str:
    """NVML's and the CUDA driver API's integer version: 12040 → "12.4"."""
    return f"{value // 1000}.{value % 1000 // 10}"


class _Nvml:
    """Calls into one initialised pynvml module; a failed call gives None and leaves its reason behind."""

    def __init__(self, nvml: ModuleType) -> None:
        self.nvml = nvml
        self.unknown: dict[str, str] = {}

    def ask(self, field: str, function: str, *args: Any) -> Any:
        call = getattr(self.nvml, function, None)
        if call is None:
            self.unknown[field] = f"this pynvml has no {function}"
            return None
        try:
            return call(*args)
        except self.nvml.NVMLError as exc:
            self.unknown[field] = f"{function}: {exc}"
            return None

    def nvlink_links(self, handle: Any) -> Optional[int]:
        active = 0
        for link in range(getattr(self.nvml, "NVML_NVLINK_MAX_LINKS", 18)):
            try:
                active += int(self.nvml.nvmlDeviceGetNvLinkState(handle, link) == 1)
            except self.nvml.NVMLError_NotSupported:
                return active  # no NVLink on this GPU, or no more links
            except self.nvml.NVMLError_InvalidArgument:
                return active  # past the GPU's last link
            except self.nvml.NVMLError as exc:
                self.unknown["nvlink_active_links"] = f"nvmlDeviceGetNvLinkState: {exc}"
                return None
        return active

    def pci_bus_id(self, handle: Any) -> Optional[str]:
        pci = self.ask("pci_bus_id", "nvmlDeviceGetPciInfo", handle)
        if pci is None:
            return None
        raw = getattr(pci, "busId", None)  # bytes from ctypes' char array
        bus_id = normalise_pci_bus_id(raw)
        if bus_id is None:
            self.unknown["pci_bus_id"] = f"nvmlDeviceGetPciInfo gave busId {raw!r}, not a PCI bus id"
        return bus_id

    def gpu(self, index: int) -> GpuInfo:
        """One GPU's details; use a fresh `_Nvml` per GPU so that reasons do not mix.

        A GPU whose handle NVML cannot give (e.g. NVMLError_GpuIsLost after an Xid 79) gets a record with every
        field unknown and NVML's error as the reason; the other GPUs are still read.
        """
        nvml = self.nvml
        handle = self.ask("handle", "nvmlDeviceGetHandleByIndex", index)
        if handle is None:
            return _unknown_gpu(index, self.unknown["handle"])
        memory = self.ask("memory_total_bytes", "nvmlDeviceGetMemoryInfo", handle)
        mig = self.ask("mig_enabled", "nvmlDeviceGetMigMode", handle)
        capability = self.ask("compute_capability", "nvmlDeviceGetCudaComputeCapability", handle)
        power_mw = self.ask("power_limit_w", "nvmlDeviceGetEnforcedPowerLimit", handle)
        reasons_fn = ("nvmlDeviceGetCurrentClocksEventReasons"
                      if hasattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons")
                      else "nvmlDeviceGetCurrentClocksThrottleReasons")
        reasons = self.ask("throttle_reasons", reasons_fn, handle)
        name = self.ask("name", "nvmlDeviceGetName", handle)
        uuid = self.ask("uuid", "nvmlDeviceGetUUID", handle)
        if memory is None:
            self.unknown["memory_used_bytes"] = self.unknown["memory_total_bytes"]
        info = GpuInfo(
            index=index,
            name=_text(name) if name is not None else None,
            uuid=_text(uuid) if uuid is not None else None,
            compute_capability=(int(capability[0]), int(capability[1])) if capability is not None else None,
            memory_total_bytes=int(memory.total) if memory is not None else None,
            memory_used_bytes=int(memory.used) if memory is not None else None,
            mig_enabled=bool(mig[0] == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1)) if mig is not None else None,
            sm_clock_mhz=self.ask("sm_clock_mhz", "nvmlDeviceGetClockInfo", handle, nvml.NVML_CLOCK_SM),
            sm_clock_max_mhz=self.ask("sm_clock_max_mhz", "nvmlDeviceGetMaxClockInfo", handle,
                                      nvml.NVML_CLOCK_SM),
            power_limit_w=power_mw / 1000 if power_mw is not None else None,
            throttle_reasons=(tuple(n for bit, n in THROTTLE_BITS.items() if reasons & bit)
                              if reasons is not None else None),
            pcie_gen=self.ask("pcie_gen", "nvmlDeviceGetCurrPcieLinkGeneration", handle),
            pcie_gen_max=self.ask("pcie_gen_max", "nvmlDeviceGetMaxPcieLinkGeneration", handle),
            pcie_width=self.ask("pcie_width", "nvmlDeviceGetCurrPcieLinkWidth", handle),
            pcie_width_max=self.ask("pcie_width_max", "nvmlDeviceGetMaxPcieLinkWidth", handle),
            nvlink_active_links=self.nvlink_links(handle),
            pci_bus_id=self.pci_bus_id(handle),
        )
        return replace(info, unknown=dict(self.unknown))


def _unknown_gpu(index: int, reason: str) -> GpuInfo:
    """GPU `index` with every field unknown for `reason`."""
    info = GpuInfo(index=index, name=None, uuid=None, compute_capability=None, memory_total_bytes=None,
                   memory_used_bytes=None, mig_enabled=None, sm_clock_mhz=None, sm_clock_max_mhz=None,
                   power_limit_w=None, throttle_reasons=None, pcie_gen=None, pcie_gen_max=None, pcie_width=None,
                   pcie_width_max=None, nvlink_active_links=None, pci_bus_id=None)
    return replace(info, unknown=dict.fromkeys(none_fields(info), reason))


def _probe_nvml(load: NvmlLoader) -> tuple[Optional[NvidiaInfo], str]:
    """Everything from NVML, or None and the reason it could not answer."""
    try:
        nvml = load()
    except ImportError as exc:
        return None, f"pynvml cannot be imported: {exc}"
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return None, f"nvmlInit failed: {exc}"
    try:
        session = _Nvml(nvml)
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        cuda = session.ask("driver_max_cuda", "nvmlSystemGetCudaDriverVersion")
        gpus = tuple(_Nvml(nvml).gpu(i) for i in range(nvml.nvmlDeviceGetCount()))
    except nvml.NVMLError as exc:
        return None, f"NVML query failed: {exc}"
    finally:
        with contextlib.suppress(nvml.NVMLError):
            nvml.nvmlShutdown()
    info = NvidiaInfo(
        driver_version=driver,
        driver_source="nvml",
        driver_max_cuda=cuda_version_from_int(cuda) if cuda else None,
        kernel_module=None,
        gpus=gpus,
        gpus_source="nvml",
        nvidia_smi=None,
        attempts=(),
        unknown={} if cuda else {"driver_max_cuda": session.unknown.get(
            "driver_max_cuda", "nvmlSystemGetCudaDriverVersion returned 0")},
    )
    return info, f"nvml: driver {driver}, {len(gpus)} GPU(s)"


def _with_smi_details(host: Host, smi: str, gpus: tuple[GpuInfo, ...], attempts: list[str]) -> tuple[GpuInfo, ...]:
    """Add compute capability and NVLink, which `-q -x` lacks, from two more nvidia-smi queries."""
    caps_run = host.command([smi, "--query-gpu=index,compute_cap", "--format=csv"])
    caps = parse_compute_caps(caps_run.stdout) if caps_run.ok else {}
    attempts.append(f"nvidia-smi --query-gpu=compute_cap: {len(caps)} GPU(s)" if caps_run.ok
                    else caps_run.why_not())
    links_run = host.command([smi, "nvlink", "-s"])
    links = parse_nvlink_status(links_run.stdout)  # its exit status varies when no link is active
    result = []
    for gpu in gpus:
        unknown = dict(gpu.unknown)
        cap = caps.get(gpu.index)
        if cap is not None:
            unknown.pop("compute_capability", None)
        else:
            unknown["compute_capability"] = caps_run.why_not() if not caps_run.ok else "not in --query-gpu output"
        active = links.get(gpu.index)
        if active is not None:
            unknown.pop("nvlink_active_links", None)
        else:
            unknown["nvlink_active_links"] = links_run.why_not() if not links_run.ok else "not in nvlink -s output"
        result.append(replace(gpu, compute_capability=cap, nvlink_active_links=active, unknown=unknown))
    return tuple(result)


def probe_nvidia(host: Host, load_nvml: NvmlLoader = load_pynvml) -> NvidiaInfo:
    attempts: list[str] = []
    unknown: dict[str, str] = {}
    override = host.env.get(DRIVER_OVERRIDE_VAR, "").strip() or None
    if override:
        attempts.append(f"{DRIVER_OVERRIDE_VAR}={override}: overrides the detected driver version")

    proc_text = host.read_text("/proc/driver/nvidia/version")
    module = parse_nvidia_proc_version(proc_text) if proc_text else None

    nvml_info, outcome = _probe_nvml(load_nvml)
    attempts.append(f"nvml: {outcome}" if nvml_info is None else outcome)
    if nvml_info is not None:
        info = replace(nvml_info, kernel_module=module.flavour if module else None)
        return _finish(info, attempts, override)

    driver: Optional[str] = None
    source: Optional[str] = None
    sys_text = host.read_text("/sys/module/nvidia/version")
    sys_version = parse_sys_module_version(sys_text) if sys_text else None
    attempts.append(f"/sys/module/nvidia/version: {sys_version or ('unreadable' if sys_text else 'absent')}")
    if sys_version:
        driver, source = sys_version, "/sys/module/nvidia/version"
    attempts.append(f"/proc/driver/nvidia/version: {module.driver_version if module else 'absent'}")
    if module and driver is None:
        driver, source = module.driver_version, "/proc/driver/nvidia/version"

    smi = host.which("nvidia-smi", SMI_EXTRA_DIRS.get(host.system, ()))
    gpus: tuple[GpuInfo, ...] = ()
    gpus_source: Optional[str] = None
    max_cuda: Optional[str] = None
    if smi is None:
        attempts.append("nvidia-smi: not found on PATH or in the driver's install folders")
        unknown["gpus"] = "neither NVML nor nvidia-smi is available"
    else:
        xml_run = host.command([smi, "-q", "-x"])
        log = parse_smi_xml(xml_run.stdout) if xml_run.ok else None
        if log is not None:
            attempts.append(f"nvidia-smi -q -x: driver {log.driver_version}, {len(log.gpus)} GPU(s)")
            gpus_source, max_cuda = "nvidia-smi", log.cuda_version
            if driver is None and log.driver_version:
                driver, source = log.driver_version, "nvidia-smi"
            gpus = _with_smi_details(host, smi, log.gpus, attempts) if log.gpus else ()
        else:
            attempts.append(f"nvidia-smi -q -x: {xml_run.why_not() if not xml_run.ok else 'not an XML log'}")
            text_run = host.command([smi])
            summary = parse_smi_text(text_run.stdout) if text_run.ok else None
            attempts.append(f"nvidia-smi: driver {summary.driver_version}" if summary
                            else f"nvidia-smi: {text_run.why_not() if not text_run.ok else 'no driver version'}")
            if summary:
                max_cuda = summary.cuda_version
                if driver is None:
                    driver, source = summary.driver_version, "nvidia-smi"
            if summary and summary.gpus:
                attempts[-1] += f", {len(summary.gpus)} GPU(s) in its table"
                gpus_source = "nvidia-smi"
                gpus = _with_smi_details(host, smi, summary.gpus, attempts)
            else:
                unknown["gpus"] = "nvidia-smi's table lists no GPU" if summary else "nvidia-smi gave no GPU list"
    if max_cuda is None:
        unknown["driver_max_cuda"] = "reported only by NVML and nvidia-smi, and neither answered"
    info = NvidiaInfo(
        driver_version=driver,
        driver_source=source,
        driver_max_cuda=max_cuda,
        kernel_module=module.flavour if module else None,
        gpus=gpus,
        gpus_source=gpus_source,
        nvidia_smi=smi,
        attempts=(),
        unknown=unknown,
    )
    return _finish(info, attempts, override)


def _finish(info: NvidiaInfo, attempts: list[str], override: Optional[str]) -> NvidiaInfo:
    unknown = dict(info.unknown)
    driver, source = info.driver_version, info.driver_source
    if override:
        driver, source = override, f"env:{DRIVER_OVERRIDE_VAR}"
    if driver is None:
        unknown["driver_version"] = "no NVIDIA driver found: " + "; ".join(attempts)
    elif info.kernel_module is None:
        unknown["kernel_module"] = "/proc/driver/nvidia/version is absent"
    return replace(info, driver_version=driver, driver_source=source, attempts=tuple(attempts), unknown=unknown)
