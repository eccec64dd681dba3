"""Probe torch at run time, in a child process with a timeout, so that a crashing or hanging import cannot take
`check` down: the import's failure is itself the most useful fact."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from envdoctor.children import marked_json, signal_name, start_isolated, wait_isolated
from envdoctor.facts.torch import TorchDevice, TorchRuntime
from envdoctor.parse.libraries import loaded_libraries
from envdoctor.probe.torch_child import MARKER

CHILD_SOURCE = Path(__file__).with_name("torch_child.py")
DEFAULT_TIMEOUT_S = 60.0
_ERROR_TAIL_CHARS = 4000


def parse_child_output(stdout: str, import_seconds: float, python: str = sys.executable) -> Optional[TorchRuntime]:
    """The child's JSON line as facts, or None when it printed none."""
    data: Optional[dict[str, Any]] = marked_json(stdout, MARKER)
    if data is None:
        return None
    if data.get("status") == "not_installed":
        return TorchRuntime(status="not_installed", error=f"torch cannot be found by {python}")
    if data.get("status") == "import_failed":  # the traceback, and the libraries the loader had mapped by then
        return TorchRuntime(status="import_failed", error=str(data.get("error", ""))[-_ERROR_TAIL_CHARS:],
                            loaded_libraries=loaded_libraries(data.get("loaded_libraries"), None),
                            unknown=data.get("unknown", {}))
    return TorchRuntime(
        status="ok",
        version=data.get("version"),
        cuda=data.get("cuda"),
        hip=data.get("hip"),
        cudnn=data.get("cudnn"),
        nccl=data.get("nccl"),
        cuda_available=data.get("cuda_available"),
        device_count=data.get("device_count"),
        arch_list=tuple(data["arch_list"]) if data.get("arch_list") is not None else None,
        devices=tuple(TorchDevice(d["index"], d["name"], (d["capability"][0], d["capability"][1]),
                                  d["total_memory_bytes"], uuid=d.get("uuid"), pci_bus_id=d.get("pci_bus_id"))
                      for d in data.get("devices", [])),
        mps_available=data.get("mps_available"),
        origin=data.get("origin"),
        import_seconds=data.get("import_seconds", import_seconds),
        warnings=tuple(data.get("warnings", ())),
        companions=data.get("companions", {}),
        companion_errors=data.get("companion_errors", {}),
        loaded_libraries=loaded_libraries(data.get("loaded_libraries"), data.get("version")),
        unknown=data.get("unknown", {}),
    )


class TorchChild:
    """A child process importing torch, started at once so that it overlaps the other probes."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, python: str = sys.executable,
                 companions: bool = False) -> None:
        self.timeout_s = timeout_s
        self.python = python
        self._start = time.perf_counter()
        self._proc: Optional[subprocess.Popen[str]] = None
        self._error: Optional[str] = None
        try:
            argv = [python, "-c", CHILD_SOURCE.read_text(encoding="utf-8")] + (["--companions"] if companions else [])
            self._proc = start_isolated(argv)
        except OSError as exc:
            self._error = f"could not start {python}: {exc}"

    def result(self) -> TorchRuntime:
        """Wait for the child (up to the timeout from its start) and say what it found."""
        if self._proc is None:
            return TorchRuntime(status="import_failed", error=self._error)
        run = wait_isolated(self._proc, max(0.0, self.timeout_s - (time.perf_counter() - self._start)))
        if run.timed_out:
            return TorchRuntime(status="timeout",
                                error=f"importing torch did not finish within {self.timeout_s:g} s")
        if run.returncode == 0:
            try:
                runtime = parse_child_output(run.stdout, time.perf_counter() - self._start, self.python)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:  # of the wrong shape
                return TorchRuntime(status="import_failed", error=f"the torch probe's result is unreadable: {exc}")
            if runtime is not None:
                return runtime
        killed_by = signal_name(run.returncode)
        if killed_by:
            return TorchRuntime(status="crashed", error=run.tail(_ERROR_TAIL_CHARS), exit_signal=killed_by)
        return TorchRuntime(status="import_failed", error=run.tail(_ERROR_TAIL_CHARS))


def probe_torch_runtime(timeout_s: float = DEFAULT_TIMEOUT_S, python: str = sys.executable,
                        companions: bool = False) -> TorchRuntime:
    """Import torch in `python` (and torchvision and torchaudio after it, with `companions`) and report."""
    return TorchChild(timeout_s, python, companions).result()
