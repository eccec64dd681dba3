"""Child processes: run one isolated with a timeout, end it and every descendant, read the JSON line it printed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import psutil

from envdoctor.lifetime import request_parent_death_signal
from envdoctor.plain import parse_json


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


MAX_TIMEOUT_S = 86400.0  # a day: a longer timeout is a typo, and inf overflows the clocks it is given to
END_GRACE_S = 3.0  # how long a child has to end after SIGTERM before it is killed
_live: set[subprocess.Popen[str]] = set()  # started and not yet waited for


def end_tree(pid: int, grace_s: float = END_GRACE_S) -> None:
    """End a child and everything it started (torchrun's ranks, inductor's compile workers): SIGTERM to its
    process group and every descendant, then SIGKILL to whatever is left after `grace_s`."""
    try:
        parent = psutil.Process(pid)
        processes = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGTERM)  # the group: a descendant that was just forking is in it too
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=grace_s)


def end_all() -> None:
    """End every child still running: on the way out of envdoctor, whatever the way."""
    for proc in list(_live):
        if proc.poll() is None:
            end_tree(proc.pid)
        with contextlib.suppress(OSError, ValueError):
            proc.communicate(timeout=1)
        _live.discard(proc)


def start_isolated(argv: Sequence[str], env: Optional[Mapping[str, str]] = None) -> subprocess.Popen[str]:
    """Start `argv` in a session of its own (so Ctrl-C in the terminal reaches envdoctor alone, which ends it),
    asking on Linux to be sent SIGTERM if envdoctor dies first. Output is captured as text; OSError when it cannot
    start. `env` is added to this process's environment."""
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, errors="replace", start_new_session=True,
                            preexec_fn=request_parent_death_signal if sys.platform.startswith("linux") else None,
                            env={**os.environ, **env} if env else None)
    _live.add(proc)
    return proc


def run_isolated(argv: Sequence[str], timeout_s: float, env: Optional[Mapping[str, str]] = None) -> ChildRun:
    """Run `argv` as start_isolated does and wait for it (see wait_isolated)."""
    return wait_isolated(start_isolated(argv, env), timeout_s)


def wait_isolated(proc: subprocess.Popen[str], timeout_s: float) -> ChildRun:
    """Wait for a child from start_isolated. At the timeout, and on a stop signal or any error while waiting,
    the child and everything it started are ended."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        end_tree(proc.pid)
        stdout, stderr = proc.communicate()
        return ChildRun(stdout, stderr, None, True)
    except BaseException:
        end_tree(proc.pid)
        raise
    finally:
        _live.discard(proc)
    return ChildRun(stdout, stderr, proc.returncode, False)


def marked_json(stdout: str, marker: str) -> Optional[Any]:
    """The JSON a child printed after `marker` at the start of a line, or None when it printed none. ValueError
    when what follows the marker is not JSON (something else wrote to the child's output mid-line)."""
    for line in stdout.splitlines():
        if line.startswith(marker):
            try:
                return parse_json(line[len(marker):])
            except ValueError as exc:
                raise ValueError(f"the child printed its result marker, then something that is {exc}") from None
    return None
