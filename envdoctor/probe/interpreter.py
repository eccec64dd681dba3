"""Another interpreter (`check --python PATH`): a project's .venv, a conda env, a system Python. A few lines run in
it and print where it looks for packages; the package probe then reads those directories from here and the torch
probe runs in it, so nothing of envdoctor needs to be installed there."""

from __future__ import annotations

from dataclasses import dataclass

from envdoctor.children import last_line, run_isolated
from envdoctor.plain import parse_json

# Runs in the other interpreter: only the standard library, and syntax any Python 3 (and 2.7) parses, so that an
# old interpreter is told apart from a broken path.
SOURCE = """
import json, platform, struct, sys, sysconfig
print(json.dumps({"version": platform.python_version(), "implementation": platform.python_implementation(),
                  "executable": sys.executable, "bits": struct.calcsize("P") * 8,
                  "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")), "prefix": sys.prefix,
                  "base_prefix": getattr(sys, "base_prefix", sys.prefix), "path": sys.path}))
"""
OLDEST = (3, 7)  # the torch probe's source needs `from __future__ import annotations`


class InterpreterError(Exception):
    """PATH cannot run the probes; the message is one line."""


@dataclass(frozen=True)
class Interpreter:
    version: str
    implementation: str
    executable: str
    bits: int
    free_threaded: bool
    prefix: str
    base_prefix: str
    path: tuple[str, ...]  # its sys.path


def probe_interpreter(python: str, timeout_s: float = 30.0) -> Interpreter:
    """What `python` says of itself; InterpreterError when it is no Python, or one too old for the probes."""
    try:
        run = run_isolated([python, "-c", SOURCE], timeout_s)
    except OSError as exc:
        raise InterpreterError(f"--python {python}: cannot run it: {exc.strerror or exc}") from None
    if run.timed_out:
        raise InterpreterError(f"--python {python}: it did not answer within {timeout_s:g} s")
    try:
        data = parse_json(run.stdout.strip().splitlines()[-1])
        info = Interpreter(data["version"], data["implementation"], data["executable"], int(data["bits"]),
                           bool(data["free_threaded"]), data["prefix"], data["base_prefix"], tuple(data["path"]))
    except (ValueError, IndexError, KeyError, TypeError):
        raise InterpreterError(f"--python {python}: not a Python that can run envdoctor's probes "
                               f"({last_line(run.stderr or run.stdout)[:200]})") from None
    major_minor = tuple(int(part) for part in info.version.split(".")[:2])
    if major_minor < OLDEST:
        raise InterpreterError(f"--python {python}: Python {info.version} is older than envdoctor's probes "
                               f"support ({OLDEST[0]}.{OLDEST[1]} and newer)")
    return info
