"""A collect_env report turned into the facts a probe would have gathered; what it does not say stays unknown."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Optional

from envdoctor.facts import (
    AcceleratorFacts,
    AppleInfo,
    CondaPackage,
    CpuInfo,
    Distribution,
    Facts,
    GpuInfo,
    MemoryInfo,
    NvidiaInfo,
    Origin,
    OsInfo,
    PackageFacts,
    PythonInfo,
    SystemFacts,
    ToolkitInfo,
    TorchRuntime,
)
from envdoctor.parse.collect_env import CollectEnvReport, parse_collect_env
from envdoctor.parse.lscpu import parse_lscpu

NOT_REPORTED = "not in a collect_env report"
SOURCE = "collect_env report"
# A report must name torch's version and at least this many other fields to be read as one.
MIN_OTHER_FIELDS = 2
_ARCH = re.compile(r"\b(x86_64|AMD64|aarch64|arm64)\b")
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")


def _system(report: CollectEnvReport) -> tuple[str, str, Optional[str], Optional[str]]:
    """(platform.system name, arch, OS name, OS version) from the OS and Python platform lines."""
    os_line = report.value("OS") or ""
    platform_line = report.value("Python platform") or ""
    arch_match = _ARCH.search(os_line) or _ARCH.search(platform_line)
    arch = {"AMD64": "x86_64"}.get(arch_match.group(1), arch_match.group(1)) if arch_match else ""
    name = re.sub(r"\s*\((x86_64|AMD64|aarch64|arm64)\)\s*$", "", os_line) or None
    lowered = (os_line or platform_line).lower()
    if lowered.startswith(("macos", "mac osx", "darwin")):
        version = _VERSION.search(os_line or platform_line)
        return "Darwin", arch, name, version.group(0) if version else None
    if "windows" in lowered:
        return "Windows", arch, name, None
    return "Linux", arch, name, None


def _os(report: CollectEnvReport) -> OsInfo:
    system, arch, name, version = _system(report)
    unknown = {"kernel": NOT_REPORTED, "container": NOT_REPORTED, "distro_id": NOT_REPORTED}
    libc = report.value("Libc version") or ""
    glibc = libc.removeprefix("glibc-") if libc.startswith("glibc-") else None
    platform_glibc = re.search(r"with-glibc(\d+\.\d+)", report.value("Python platform") or "")
    glibc = glibc or (platform_glibc.group(1) if platform_glibc else None)
    if glibc is None:
        unknown["glibc"] = NOT_REPORTED if system == "Linux" else f"not applicable on {system}"
    if not arch:
        unknown["arch"] = NOT_REPORTED
    # "Linux-5.10.120-tegra-aarch64-with-glibc2.31": platform.platform() names the kernel release
    kernel = re.match(r"Linux-(.+?)-(?:x86_64|aarch64)", report.value("Python platform") or "")
    if kernel:
        del unknown["kernel"]
    return OsInfo(system=system, arch=arch, name=name, distro_id="macos" if system == "Darwin" else None,
                  version=version, kernel=kernel.group(1) if kernel else None, glibc=glibc, wsl=None,
                  container=None, container_evidence=None, unknown=unknown)


def _python(report: CollectEnvReport) -> PythonInfo:
    line = report.value("Python version") or ""
    version = _VERSION.search(line)
    bits = re.search(r"\((\d+)-bit runtime\)", line)
    unknown = {"implementation": NOT_REPORTED, "executable": NOT_REPORTED, "pip_version": NOT_REPORTED}
    if bits is None:
        unknown["bits"] = NOT_REPORTED
    return PythonInfo(version=version.group(0) if version else "", implementation="", executable="",
                      bits=int(bits.group(1)) if bits else 0, free_threaded=False,
                      env_kind="conda" if "conda" in line.lower() else "unknown", env_path=None, pip_version=None,
                      unknown=unknown)


def _cpu(report: CollectEnvReport) -> CpuInfo:
    lines = report.continuation.get("CPU", ())
    if not lines:
        return CpuInfo(None, None, None, None, None, None,
                       {"model": NOT_REPORTED, "isa": NOT_REPORTED, "cores": NOT_REPORTED})
    info = parse_lscpu("\n".join(lines))
    if info.model_name is None and len(lines) == 1 and ":" not in lines[0]:  # macOS: sysctl's brand string alone
        return CpuInfo(lines[0], None, None, None, None, "sysctl (in the report)",
                       {"isa": NOT_REPORTED, "cores": NOT_REPORTED})
    unknown = {} if info.isa is not None else {"isa": "the report's lscpu block has no Flags line"}
    return CpuInfo(info.model_name, info.cores, info.cpus, None, info.isa, "lscpu (in the report)", unknown)


def _environment(report: CollectEnvReport) -> tuple[dict[str, str], dict[str, str]]:
    """The one variable a report gives, and why the others are unknown. collect_env prints CUDA_MODULE_LOADING as
    torch left it after initialising CUDA, "N/A" where CUDA is unavailable (then it is not read), and nothing after
    the colon where it is unset."""
    raw = report.fields.get("CUDA_MODULE_LOADING set to")
    value = report.value("CUDA_MODULE_LOADING set to")
    lists = "a collect_env report lists no environment variable but CUDA_MODULE_LOADING"
    if value:
        return {"CUDA_MODULE_LOADING": value}, {"environment": f"{lists} (as torch left it after initialising CUDA: "
                                                               "torch sets LAZY where it was unset)"}
    why = ("this one has no such line" if raw is None else "it is unset here" if not raw.strip()
           else f"this one does not give it ({raw.strip()}: CUDA was not available)")
    return {}, {"environment": f"{lists}, and {why}"}


def _gpu_names(report: CollectEnvReport) -> list[str]:
    lines = [report.fields.get("GPU models and configuration", ""), *report.continuation.get(
        "GPU models and configuration", ())]
    names: list[str] = []
    for line in lines:
        line = re.sub(r"\s*\(UUID: [^)]*\)", "", line).strip()
        if not line or line in ("No CUDA", "Could not collect", "N/A"):
            continue
        match = re.match(r"GPU \d+\s*[:\uff1a]\s*(.+)", line)  # \uff1a: a full-width colon, as some pastes have
        if match or (not names and not line.startswith("MIG")):
            names.append(match.group(1) if match else line)
    return names


# collect_env prints "No CUDA" for the driver and GPUs when torch sees no CUDA and nvidia-smi finds nothing:
# an answer. "Could not collect" is no answer (nvidia-smi failed, or is absent on a Jetson).
_ABSENT = frozenset({"No CUDA", "N/A", "None"})


def _presence_unknown(report: CollectEnvReport) -> Optional[str]:
    """Why the report cannot tell whether there is an NVIDIA driver; None when it can."""
    raw = report.fields.get("Nvidia driver version")
    if raw is None:
        return "the report has no 'Nvidia driver version' line (cut short?)"
    if raw.strip() in _ABSENT or (report.value("Nvidia driver version") or "").strip():
        return None
    return "collect_env could not collect the NVIDIA driver version"


def _nvidia(report: CollectEnvReport) -> NvidiaInfo:
    driver = report.value("Nvidia driver version")
    driver = driver if driver and _VERSION.fullmatch(driver) else None
    gpus = tuple(GpuInfo(index=i, name=name, uuid=None, compute_capability=None, memory_total_bytes=None,
                         memory_used_bytes=None, mig_enabled=None, sm_clock_mhz=None, sm_clock_max_mhz=None,
                         power_limit_w=None, throttle_reasons=None, pcie_gen=None, pcie_gen_max=None,
                         pcie_width=None, pcie_width_max=None, nvlink_active_links=None,
                         unknown={"compute_capability": NOT_REPORTED})
                 for i, name in enumerate(_gpu_names(report)))
    unknown = {"driver_max_cuda": NOT_REPORTED, "kernel_module": NOT_REPORTED}
    presence = _presence_unknown(report)
    if driver is None:
        unknown["driver_version"] = presence or "the report says there is none"
    if not gpus and "GPU models and configuration" not in report.fields:
        unknown["gpus"] = "the report has no 'GPU models and configuration' line"
    return NvidiaInfo(driver_version=driver, driver_source=SOURCE if driver else None, driver_max_cuda=None,
                      kernel_module=None, gpus=gpus, gpus_source=SOURCE if gpus else None, nvidia_smi=None,
                      attempts=(), unknown=unknown, presence_unknown=presence if driver is None else None)


def _packages(report: CollectEnvReport) -> PackageFacts:
    dists = tuple(Distribution(name.lower().replace("_", "-"), version,
                               version.split("+", 1)[1] if "+" in version else None, SOURCE)
                  for name, version in report.pip)
    conda = tuple(CondaPackage(c.name, c.version, c.build, c.channel or None) for c in report.conda
                  if c.build != "<pip>" and c.channel != "pypi")
    unknown = {"torch_origin": NOT_REPORTED, "conflicts": NOT_REPORTED}
    if "Versions of relevant libraries" not in report.fields:
        unknown["distributions"] = "the report has no 'Versions of relevant libraries' section"
    return PackageFacts(dists, (), None, conda, None, unknown)


def _warnings(report: CollectEnvReport) -> tuple[str, ...]:
    """torch's import warnings, which collect_env's output carries above its first field."""
    text = "\n".join(line for line in report.preamble if line != "warnings.warn(")
    return (text,) if "Warning" in text else ()


def _torch(report: CollectEnvReport, packages: PackageFacts) -> TorchRuntime:
    version = report.value("PyTorch version")
    if version is None:
        if packages.get("torch"):
            return TorchRuntime(status="import_failed", error="the report says torch could not be imported")
        return TorchRuntime(status="not_installed", error="the report shows no torch")
    available = (report.value("Is CUDA available") or "").lower()
    hip = report.value("ROCM used to build PyTorch")
    return TorchRuntime(
        status="ok", version=version, cuda=report.value("CUDA used to build PyTorch"),
        hip=hip if hip and _VERSION.match(hip) else None,
        cuda_available={"true": True, "yes": True, "false": False, "no": False}.get(available),
        warnings=_warnings(report),
        unknown=dict.fromkeys(("arch_list", "devices", "cudnn", "nccl", "loaded_libraries"), NOT_REPORTED),
    )


def _toolkit(report: CollectEnvReport, system: str) -> ToolkitInfo:
    # collect_env calls nvcc's version "CUDA runtime version"; it is the local toolkit's.
    nvcc = report.value("CUDA runtime version")
    nvcc = nvcc if nvcc and _VERSION.match(nvcc) else None
    unknown = {"nvcc_path": NOT_REPORTED, "cuda_home": NOT_REPORTED, "library_dirs": NOT_REPORTED}
    if nvcc is None:
        unknown["nvcc_version"] = "the report names no nvcc"
    return ToolkitInfo(None, nvcc, None, None, "PATH" if system == "Windows" else "LD_LIBRARY_PATH", (), unknown)


def facts_from_report(text: str, path: str) -> Facts:
    """The facts a collect_env report carries. Raises ValueError when the text is not (enough of) one."""
    report = parse_collect_env(text)
    others = len(set(report.fields) - {"PyTorch version"})
    if "PyTorch version" not in report.fields or others < MIN_OTHER_FIELDS:
        found = ", ".join(sorted(report.fields)) or "none"
        raise ValueError(f"not a collect_env report or envdoctor JSON (collect_env fields found: {found})")
    os_info = _os(report)
    packages = _packages(report)
    cpu = _cpu(report)
    apple_cpu = (cpu.model or "").startswith("Apple M")  # sysctl's brand string, "Apple M2 Pro", even under Rosetta
    apple = (AppleInfo(apple_silicon=os_info.arch == "arm64" or apple_cpu, macos_version=os_info.version,
                       rosetta=apple_cpu and os_info.arch == "x86_64" if cpu.model else None)
             if os_info.system == "Darwin" else None)
    memory_unknown = dict.fromkeys(("total_bytes", "available_bytes", "shm_total_bytes", "shm_free_bytes"),
                                   NOT_REPORTED)
    return Facts(
        origin=Origin(kind="file", hostname=None, path=path),
        collected_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        system=SystemFacts(os_info, _python(report), cpu, MemoryInfo(None, None, None, None, memory_unknown),
                           *_environment(report)),
        nvidia=_nvidia(report),
        accelerators=AcceleratorFacts((), None, apple, None, {"pci_gpus": NOT_REPORTED}),
        packages=packages,
        torch=_torch(report, packages),
        toolkit=_toolkit(report, os_info.system),
    )
