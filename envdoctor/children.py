"""Child processes: run one isolated with a timeout, end it and every descendant, read the JSON line it printed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import psutil


@dataclass(frozen=True)
class ChildRun:
    stdout: str
    stderr: str
    returncode: Optional[int]  # None when it was killed at the timeout
    timed_out: bool

    def tail(self, chars: int) -> str:
        """The end of what it said: stderr, else stdout, else "no output"."""
        return (self.stderr.strip() or self.stdout.strip() or "no output")[-chars:]


def last_line(text: str) -> str:
    """The last line of a child's output, where its error usually is; "no output" for none."""
    return (text.strip().splitlines() or ["no output"])[-1]


def signal_name(returncode: Optional[int]) -> Optional[str]:
    """"SIGSEGV" for a child killed by signal 11 (return code -11); None for a normal exit."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def kill_tree(pid: int) -> None:
    """End a process and every descendant (torchrun's ranks, inductor's compile workers)."""
    try:
        parent = psutil.Process(pid)
        processes = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(processes, timeout=10)


def start_isolated(argv: Sequence[str], env: Optional[Mapping[str, str]] = None) -> subprocess.Popen[str]:
    """Start `argv` in a session of its own, capturing text output; OSError when it cannot start. `env` is added to
    this process's environment."""
    return subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, errors="replace", start_new_session=True,
                            env={**os.environ, **env} if env else None)


def run_isolated(argv: Sequence[str], timeout_s: float, env: Optional[Mapping[str, str]] = None) -> ChildRun:
    """Run `argv` as start_isolated does and wait for it (see wait_isolated)."""
    return wait_isolated(start_isolated(argv, env), timeout_s)


def wait_isolated(proc: subprocess.Popen[str], timeout_s: float) -> ChildRun:
    """Wait for a child from start_isolated. At the timeout, and on Ctrl-C (which a child in its own session does
    not receive), the child and everything it started are killed."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        stdout, stderr = proc.communicate()
        return ChildRun(stdout, stderr, None, True)
    except BaseException:
        kill_tree(proc.pid)
        raise
    return ChildRun(stdout, stderr, proc.returncode, False)


def marked_json(stdout: str, marker: str) -> Optional[Any]:
    """The JSON a child printed after `marker` at the start of a line, or None when it printed none."""
    for line in stdout.splitlines():
        if line.startswith(marker):
            return json.loads(line[len(marker):])
    return None
