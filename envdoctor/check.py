"""`run_check`: run every probe, concurrently where that saves time, and gather the facts."""

from __future__ import annotations

import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Generic, Optional, TypeVar, cast

from envdoctor.facts import Facts, NvidiaInfo, Origin, SystemFacts, TorchRuntime
from envdoctor.probe.accelerators import probe_accelerators
from envdoctor.probe.cpu import probe_cpu
from envdoctor.probe.host import Host
from envdoctor.probe.interpreter import probe_interpreter
from envdoctor.probe.nvidia import NvmlLoader, load_pynvml, probe_nvidia
from envdoctor.probe.packages import probe_packages
from envdoctor.probe.system import probe_environment, probe_memory, probe_os, probe_python
from envdoctor.probe.toolkit import probe_toolkit
from envdoctor.probe.torch_runtime import DEFAULT_TIMEOUT_S, TorchChild

T = TypeVar("T")


@dataclass(frozen=True)
class CheckOptions:
    """What `check` probes, and how long it waits."""

    import_torch: bool = True  # False skips the child process that imports torch
    torch_timeout_s: float = DEFAULT_TIMEOUT_S
    nvidia_timeout_s: float = 30.0  # NVML runs in this process; a hung driver must not hang `check`
    import_companions: bool = False  # also import torchvision and torchaudio in the child (about a second)
    python: Optional[str] = None  # judge this interpreter's environment instead of envdoctor's own

    def __post_init__(self) -> None:
        if self.torch_timeout_s <= 0 or self.nvidia_timeout_s <= 0:
            raise ValueError("timeouts must be positive")


class _Background(Generic[T]):
    """A probe running in a daemon thread, so that one stuck in a driver call cannot keep the process alive."""

    def __init__(self, name: str, probe: Callable[[], T], timings: dict[str, float]) -> None:
        self._probe = probe
        self._name = name
        self._timings = timings
        self._result: Optional[T] = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name=f"probe-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = time.perf_counter()
        try:
            self._result = self._probe()
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc
        self._timings[self._name] = round(time.perf_counter() - start, 4)

    def result(self) -> T:
        """The probe's result, waiting as long as it takes; the probe's own exception is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return cast(T, self._result)

    def result_within(self, timeout: float) -> Optional[T]:
        """The probe's result, or None if it has not finished within `timeout` seconds."""
        self._thread.join(timeout)
        return None if self._thread.is_alive() else self.result()


def _nvidia_timed_out(timeout: float) -> NvidiaInfo:
    reason = f"the NVIDIA probe did not finish within {timeout:g} s (a hung driver?)"
    return NvidiaInfo(None, None, None, None, (), None, None, (reason,),
                      {"driver_version": reason, "gpus": reason})


def run_check(options: CheckOptions = CheckOptions(), host: Optional[Host] = None,
              load_nvml: NvmlLoader = load_pynvml) -> Facts:
    """Probe this machine. Never raises for a missing driver, library or torch: those are facts. With
    `options.python`, the Python, package and torch probes judge that interpreter; InterpreterError when it cannot
    run them."""
    start = time.perf_counter()
    other = probe_interpreter(options.python) if options.python else None
    torch_child = (TorchChild(options.torch_timeout_s, python=other.executable if other else sys.executable,
                              companions=options.import_companions)
                   if options.import_torch else None)  # the slowest probe: started first
    host = host or Host()
    timings: dict[str, float] = {}
    packages = _Background("packages", lambda: probe_packages(host, other.prefix, list(other.path)) if other
                           else probe_packages(host, sys.prefix), timings)
    nvidia = _Background("nvidia", lambda: probe_nvidia(host, load_nvml), timings)
    accelerators = _Background("accelerators", lambda: probe_accelerators(host), timings)
    toolkit = _Background("toolkit", lambda: probe_toolkit(host), timings)
    cpu = _Background("cpu", lambda: probe_cpu(host), timings)
    system = SystemFacts(probe_os(host), probe_python(other), cpu.result(), probe_memory(host),
                         probe_environment(host))
    if torch_child is None:
        torch = TorchRuntime(status="skipped", error="skipped by --no-import")
    else:
        torch = torch_child.result()
        # Until its result was read, after the system probes: at least the child's own time, never less.
        timings["torch"] = round(time.perf_counter() - start, 4)
    nvidia_info = nvidia.result_within(options.nvidia_timeout_s) or _nvidia_timed_out(options.nvidia_timeout_s)
    return Facts(
        origin=Origin(kind="probe", hostname=socket.gethostname() or None, interpreter=options.python),
        collected_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        system=system,
        nvidia=nvidia_info,
        accelerators=accelerators.result(),
        packages=packages.result(),
        torch=torch,
        toolkit=toolkit.result(),
        probe_seconds=dict(sorted(timings.items())),
    )
