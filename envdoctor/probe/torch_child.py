"""Run as a child process by `envdoctor.probe.torch_runtime`: import torch and print what it says as JSON.

This file is executed as a script with `python -c`, so it imports nothing from envdoctor: it must run in
any Python that has torch, even one where envdoctor's own dependencies are missing. A crash or hang here
costs only this process; the parent reads the one JSON line after MARKER on stdout.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import json
import os
import struct
import sys
import time
import traceback
import warnings
from typing import Any, Callable, Optional

MARKER = "ENVDOCTOR-TORCH-JSON:"
NCCL_NOT_READ = "not read: torch reports NCCL's version only where CUDA is available"

# The libraries worth naming: CUDA's, torch's own, and the driver's libcuda. Windows drops "lib" and adds "64_".
LIBRARY_PREFIXES = ("libcudart", "libcublas", "libcudnn", "libnccl", "libnvJitLink", "libcusparse", "libtorch.",
                    "libtorch_", "libc10", "libcuda.", "cudart64", "cublas64", "cudnn", "nvJitLink", "cusparse64",
                    "torch_", "c10", "nvcuda")


def _mapped_paths() -> list[str]:
    """Every shared library mapped into this process: /proc/self/maps on Linux, dyld's image list on macOS,
    psutil's memory maps elsewhere (Windows) when psutil is installed in this interpreter."""
    if os.path.exists("/proc/self/maps"):
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return [line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6]
    if sys.platform == "darwin":
        dyld = ctypes.CDLL(None)
        dyld._dyld_get_image_name.restype = ctypes.c_char_p
        return [dyld._dyld_get_image_name(i).decode(errors="replace") for i in range(dyld._dyld_image_count())]
    import psutil  # ImportError: the caller says why the list is unknown

    return [m.path for m in psutil.Process().memory_maps()]


def _soname(path: str) -> Optional[str]:
    """An ELF shared library's DT_SONAME, read from its dynamic section; None for anything else."""
    try:
        with open(path, "rb") as elf:
            head = elf.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:  # 64-bit little-endian only
                return None
            shoff, = struct.unpack_from("<Q", head, 0x28)
            shentsize, shnum = struct.unpack_from("<HH", head, 0x3A)
            elf.seek(shoff)
            sections = [struct.unpack_from("<IIQQQQIIQQ", elf.read(shentsize)) for _ in range(shnum)]
            for _name, kind, _flags, _addr, offset, size, link, _info, _align, _entsize in sections:
                if kind != 6:  # SHT_DYNAMIC
                    continue
                elf.seek(offset)
                dynamic = elf.read(size)
                strtab = sections[link]
                for tag, value in struct.iter_unpack("<qQ", dynamic):
                    if tag == 14:  # DT_SONAME
                        elf.seek(strtab[4] + value)
                        return elf.read(256).split(b"\0", 1)[0].decode(errors="replace")
    except (OSError, struct.error, IndexError):
        return None
    return None


_OWNERS: dict[str, dict[str, str]] = {}  # per site-packages, read once however often the libraries are listed


def _wheel_owners(directory: str) -> dict[str, str]:
    """File path → "distribution version" for the nvidia-* wheels installed in `directory` (a site-packages)."""
    if directory not in _OWNERS:
        owners: dict[str, str] = {}
        try:
            infos = [n for n in os.listdir(directory) if n.startswith("nvidia_") and n.endswith(".dist-info")]
        except OSError:
            infos = []
        for info in infos:
            name, _, version = info[: -len(".dist-info")].partition("-")
            try:
                with open(os.path.join(directory, info, "RECORD"), encoding="utf-8") as record:
                    for row in record:
                        owners[os.path.normpath(os.path.join(directory, row.split(",", 1)[0]))] = \
                            f"{name.replace('_', '-')} {version}"
            except OSError:
                continue
        _OWNERS[directory] = owners
    return _OWNERS[directory]


def _conda_prefix(path: str) -> Optional[str]:
    """The conda environment holding `path`: the nearest directory above it with a conda-meta folder."""
    parent = os.path.dirname(path)
    while parent and parent != os.path.dirname(parent):
        if os.path.isdir(os.path.join(parent, "conda-meta")):
            return parent
        parent = os.path.dirname(parent)
    return None


def _site_packages(path: str) -> Optional[str]:
    for marker in ("/site-packages/", "/dist-packages/", "\\site-packages\\"):
        if marker in path:
            return path[: path.index(marker) + len(marker) - 1]
    return None


def _loaded_libraries(stage: str, seen: set[str], torch_dir: Optional[str]) -> list[dict[str, Any]]:
    """The CUDA and torch libraries mapped now and not in `seen`, with what the files say about themselves and,
    for one loaded from outside torch's site-packages, the copy torch's nvidia-* wheels hold under that name."""
    torch_site = os.path.dirname(torch_dir) if torch_dir else None
    torch_wheels = _wheel_owners(torch_site) if torch_site else {}
    wheel_files: dict[str, str] = {}
    for path in torch_wheels:
        wheel_files.setdefault(os.path.basename(path), path)
    found = []
    for path in dict.fromkeys(_mapped_paths()):
        name = os.path.basename(path)
        if path in seen or not name.startswith(LIBRARY_PREFIXES) or not (".so" in name or name.endswith(
                (".dll", ".dylib"))):
            continue
        seen.add(path)
        site, soname = _site_packages(path), _soname(path)
        copy = wheel_files.get(soname or name) if site != torch_site else None
        found.append({"path": path, "soname": soname, "stage": stage, "site_packages": site,
                      "in_torch_site": site == torch_site,
                      "in_torch": bool(torch_dir) and path.startswith(os.path.join(torch_dir or "", "")),
                      "owner": _wheel_owners(site).get(os.path.normpath(path)) if site else None,
                      "conda_prefix": _conda_prefix(path),
                      "wheel_copy": copy, "wheel_copy_owner": torch_wheels[copy] if copy else None})
    return found


def _ask(facts: dict[str, Any], unknown: dict[str, str], name: str, call: Callable[[], Any]) -> None:
    try:
        facts[name] = call()
    except Exception as exc:  # any failure of one query is a fact about torch, not a reason to stop
        unknown[name] = f"{type(exc).__name__}: {exc}"


def _uuid(props: Any, unknown: dict[str, str], index: int) -> Optional[str]:
    """CUDA's device UUID as str() spells it, "513536b6-7d19-...": NVML's without its "GPU-"/"MIG-" prefix."""
    uuid = getattr(props, "uuid", None)  # absent from older torch
    if uuid is None:
        unknown[f"devices[{index}].uuid"] = "this torch's device properties have no uuid"
        return None
    return str(uuid)


def _pci_bus_id(props: Any, unknown: dict[str, str], index: int) -> Optional[str]:
    """The device's PCI bus id in NVML's spelling, "00000000:07:00.0" (CUDA gives no function: it is 0)."""
    domain, bus, device = (getattr(props, name, None) for name in ("pci_domain_id", "pci_bus_id", "pci_device_id"))
    if domain is None or bus is None or device is None:  # absent from older torch
        unknown[f"devices[{index}].pci_bus_id"] = "this torch's device properties have no pci_domain_id, " \
                                                  "pci_bus_id and pci_device_id"
        return None
    return f"{domain:08X}:{bus:02X}:{device:02X}.0"


def _libraries_or_why(stage: str, seen: set[str],
                      torch_dir: Optional[str]) -> tuple[Optional[list[dict[str, Any]]], dict[str, str]]:
    try:
        return _loaded_libraries(stage, seen, torch_dir), {}
    except Exception as exc:  # ImportError for psutil, OSError: the list is unknown, and why
        return None, {"loaded_libraries": f"the mapped libraries could not be listed on {sys.platform}: "
                                          f"{type(exc).__name__}: {exc}"}


def _run_cuda(torch: Any) -> bool:
    """A matmul (cuBLAS) and a convolution (cuDNN) on the first GPU, so that the libraries CUDA loads lazily are
    mapped before they are listed."""
    x = torch.ones(1, 3, 8, 8, device="cuda")
    (x.flatten(1) @ x.flatten(1).T).sum().item()
    torch.nn.functional.conv2d(x, torch.ones(4, 3, 3, 3, device="cuda")).sum().item()
    return True


def main(companions: bool) -> None:
    facts: dict[str, Any] = {"status": "ok"}
    unknown: dict[str, str] = {}
    spec = importlib.util.find_spec("torch")
    if spec is None:
        sys.stdout.write(MARKER + json.dumps({"status": "not_installed"}) + "\n")
        return
    torch_dir = os.path.dirname(spec.origin) if spec.origin else None
    seen: set[str] = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            import torch
        except Exception:  # what the loader left mapped shows which library broke the import
            libraries, why = _libraries_or_why("import", seen, torch_dir)
            sys.stderr.write(traceback.format_exc())
            sys.stdout.write(MARKER + json.dumps({"status": "import_failed", "error": traceback.format_exc(),
                                                  "loaded_libraries": libraries, "unknown": why}) + "\n")
            return
        facts["import_seconds"] = time.perf_counter() - start
        facts["loaded_libraries"], why = _libraries_or_why("import", seen, torch_dir)
        unknown.update(why)
        facts["version"] = str(torch.__version__)
        facts["origin"] = torch.__file__
        facts["cuda"] = torch.version.cuda
        facts["hip"] = getattr(torch.version, "hip", None)
        _ask(facts, unknown, "cudnn", lambda: torch.backends.cudnn.version())
        _ask(facts, unknown, "cuda_available", lambda: torch.cuda.is_available())
        _ask(facts, unknown, "device_count", lambda: torch.cuda.device_count())
        # get_arch_list() is empty when CUDA is unavailable; the compiled flags are there regardless.
        if facts["cuda"] or facts["hip"]:
            _ask(facts, unknown, "arch_list", lambda: (torch._C._cuda_getArchFlags() or "").split())
        else:
            facts["arch_list"] = []
        if torch.version.cuda and facts.get("cuda_available"):
            _ask(facts, unknown, "nccl", lambda: ".".join(map(str, torch.cuda.nccl.version())))
        elif torch.version.cuda:
            unknown["nccl"] = NCCL_NOT_READ
        devices = []
        for index in range(facts.get("device_count") or 0):
            try:
                props = torch.cuda.get_device_properties(index)
                devices.append({"index": index, "name": props.name, "capability": [props.major, props.minor],
                                "total_memory_bytes": props.total_memory,
                                "uuid": _uuid(props, unknown, index), "pci_bus_id": _pci_bus_id(props, unknown, index)})
            except Exception as exc:
                unknown[f"devices[{index}]"] = f"{type(exc).__name__}: {exc}"
        facts["devices"] = devices
        mps = getattr(getattr(torch, "backends", None), "mps", None)
        if mps is not None:
            _ask(facts, unknown, "mps_available", mps.is_available)
        versions, errors = {}, {}
        for name in ("torchvision", "torchaudio") if companions else ():  # about a second more: --deep only
            if importlib.util.find_spec(name) is None:
                continue
            try:
                versions[name] = str(importlib.import_module(name).__version__)
            except Exception:  # the error text says why the pair does not fit, e.g. torchvision::nms missing
                errors[name] = traceback.format_exc()[-2000:]
        facts["companions"] = versions
        facts["companion_errors"] = errors
        if versions and facts["loaded_libraries"] is not None:  # torchvision may bring its own copies
            facts["loaded_libraries"] += _libraries_or_why("import", seen, torch_dir)[0] or []
        if companions and facts.get("cuda_available"):  # --deep: cuBLAS and cuDNN load on first use
            _ask(facts, unknown, "cuda_init", lambda: _run_cuda(torch))
            if "cuda_init" not in unknown and facts["loaded_libraries"] is not None:
                facts["loaded_libraries"] += _libraries_or_why("cuda-init", seen, torch_dir)[0] or []
    facts["warnings"] = [str(w.message) for w in caught]
    facts["unknown"] = unknown
    sys.stdout.write(MARKER + json.dumps(facts) + "\n")


if __name__ == "__main__":
    main(companions="--companions" in sys.argv[1:])
