"""How envdoctor ends: SIGINT, SIGTERM and SIGHUP unwind like Ctrl-C, and no child outlives envdoctor.

Every child runs in a session (so a process group) of its own. On Linux it also asks the kernel for SIGTERM when
envdoctor dies without a chance to clean up (SIGKILL, a crash): `prctl(PR_SET_PDEATHSIG)`. macOS and Windows have no
such request: there, children are ended when envdoctor handles a signal or an error, not when it is killed."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Optional

# Ctrl-C; `kill` and CI runners cancelling a job; a closed terminal. Windows has SIGINT only.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Stopped(KeyboardInterrupt):
    """A stop signal arrived. A KeyboardInterrupt, so that everything Ctrl-C already unwinds unwinds alike."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP)."""
        return 128 + self.signum


def exit_code(interrupt: KeyboardInterrupt) -> int:
    return interrupt.exit_code if isinstance(interrupt, Stopped) else 128 + signal.SIGINT


def describe(interrupt: KeyboardInterrupt) -> str:
    """"interrupted (SIGTERM)"; plain "interrupted" for a KeyboardInterrupt raised by other means."""
    return f"interrupted ({interrupt})" if str(interrupt) else "interrupted"


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """While inside, the first stop signal raises Stopped in the main thread; later ones are ignored, so that the
    clean-up it starts (ending children, saving results) is not itself interrupted. Handlers are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopped: list[int] = []

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        if not stopped:
            stopped.append(signum)
            raise Stopped(signum)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _prctl() -> Optional[Callable[..., int]]:
    """libc's prctl on Linux; None elsewhere or where it cannot be found."""
    if not sys.platform.startswith("linux"):
        return None
    try:  # the process's own symbols, libc's among them: no library search (find_library runs ldconfig)
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _prctl()


def request_parent_death_signal() -> None:
    """Run in a forked child before exec (subprocess's preexec_fn): ask for SIGTERM when the parent dies. prctl
    was looked up in the parent, so the child only makes the call."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def die_with_parent() -> None:
    """In a process of envdoctor's own that a third party started (a DDP rank under torchrun): ask for SIGKILL
    when that parent dies, and end at once if it already has (the request covers only later deaths)."""
    parent = os.getppid()
    if _PRCTL is None:
        return
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
