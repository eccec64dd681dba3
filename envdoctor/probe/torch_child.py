"""Run as a child process by `envdoctor.probe.torch_runtime`: import torch and print what it says as JSON.

This file is executed as a script with `python -c`, so it imports nothing from envdoctor: it must run in
any Python that has torch, even one where envdoctor's own dependencies are missing. A crash or hang here
costs only this process; the parent reads the one JSON line after MARKER on stdout.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
import traceback
import warnings
from typing import Any, Callable, Optional

MARKER = "ENVDOCTOR-TORCH-JSON:"


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


def main(companions: bool) -> None:
    facts: dict[str, Any] = {"status": "ok"}
    unknown: dict[str, str] = {}
    if importlib.util.find_spec("torch") is None:
        sys.stdout.write(MARKER + json.dumps({"status": "not_installed"}) + "\n")
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        import torch

        facts["import_seconds"] = time.perf_counter() - start
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
    facts["warnings"] = [str(w.message) for w in caught]
    facts["unknown"] = unknown
    sys.stdout.write(MARKER + json.dumps(facts) + "\n")


if __name__ == "__main__":
    main(companions="--companions" in sys.argv[1:])
