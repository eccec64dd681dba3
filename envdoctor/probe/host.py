"""The boundary between probes and the machine: commands, files and environment, each injectable.

Probes never call `subprocess`, `open` or `os.environ` directly; they go through a `Host`, so tests can lay out
a fake `/proc`, `/sys` and `/etc` under a temporary root and answer commands from recorded outputs.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Callable, Optional

DEFAULT_COMMAND_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CommandResult:
    """What one external command gave back. `error` says why there is no usable output."""

    argv: tuple[str, ...]
    returncode: Optional[int]
    stdout: str
    stderr: str
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0

    def why_not(self) -> str:
        """A one-line reason this command's output cannot be used."""
        if self.error is not None:
            return f"{self.argv[0]}: {self.error}"
        detail = (self.stderr.strip() or self.stdout.strip()).splitlines()
        tail = f": {detail[0]}" if detail else ""
        return f"{self.argv[0]} exited with status {self.returncode}{tail}"


Runner = Callable[[Sequence[str], float], CommandResult]


def run_command(argv: Sequence[str], timeout: float) -> CommandResult:
    """Run a command without a shell, capturing text output; never raises for a missing or hung program."""
    args = tuple(argv)
    try:
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        return CommandResult(args, None, "", "", "not found")
    except subprocess.TimeoutExpired:
        return CommandResult(args, None, "", "", f"timed out after {timeout:g} s")
    except OSError as exc:
        return CommandResult(args, None, "", "", exc.strerror or str(exc))
    return CommandResult(args, proc.returncode, proc.stdout, proc.stderr)


@dataclass(frozen=True)
class Host:
    """The machine as probes see it. The defaults are the real machine."""

    run: Runner = run_command
    root: Path = Path("/")
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    system: str = field(default_factory=platform.system)
    command_timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S

    def path(self, path: str) -> Path:
        """`path` on this host: under `root` when tests lay out a fake file system."""
        if self.root == Path("/"):
            return Path(path)
        return self.root / PurePath(path).relative_to(PurePath(path).anchor)

    def read_text(self, path: str) -> Optional[str]:
        """The file's text, or None when it does not exist or cannot be read."""
        try:
            return self.path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return self.path(path).exists()

    def which(self, name: str, extra_dirs: Sequence[str] = ()) -> Optional[str]:
        """The executable `name` on this host's PATH, then in `extra_dirs`, as a path on this host; or None."""
        dirs = [d for d in self.env.get("PATH", "").split(os.pathsep) if d] + list(extra_dirs)
        names = [name] + ([name + ext for ext in (".exe", ".bat", ".cmd")] if self.system == "Windows" else [])
        for directory in dirs:  # not shutil.which: it splits a Windows folder's "C:" as a search-path separator
            for candidate in names:
                path = self.path(directory) / candidate
                if path.is_file() and os.access(path, os.X_OK):
                    return str(PurePath(directory) / candidate)
        return None

    def command(self, argv: Sequence[str], timeout: Optional[float] = None) -> CommandResult:
        return self.run(argv, self.command_timeout_s if timeout is None else timeout)
