"""Files envdoctor writes (results, baselines, summaries, charts): checked before any work, written so that a
reader never sees half a file, through symlinks and onto devices, and never by two runs at once."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from envdoctor.exitcodes import UsageError

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl


class OutputError(UsageError):
    """An output that cannot be written, found before any work was done: one line and exit 2."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@dataclass
class Output:
    """One file to write. `target` is `path` with symlinks resolved; a target that is a character device or a FIFO
    (/dev/stdout, a named pipe) is written in place, anything else through a temporary file and a rename."""

    flag: str  # how the user named it: "--output", "$GITHUB_STEP_SUMMARY"
    path: Path
    target: Path
    regular: bool
    append: bool = False
    _lock: Optional[int] = field(default=None, repr=False)

    def write(self, data: Union[str, bytes]) -> None:
        """Write the whole file (append for an appending output); OSError when the system refuses."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        if self.append or not self.regular:
            with open(self.target, "ab" if self.append else "wb") as handle:
                handle.write(payload)
            return
        try:
            mode = stat.S_IMODE(os.stat(self.target).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        descriptor, temporary = tempfile.mkstemp(dir=self.target.parent, prefix=f".{self.target.name}.",
                                                 suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, self.target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        with contextlib.suppress(OSError):  # the rename itself, on file systems that journal it separately
            directory = os.open(self.target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def release(self) -> None:
        """Give up the lock (and remove its file) taken by `prepare`."""
        if self._lock is None:
            return
        with contextlib.suppress(OSError):
            _lock_path(self.target).unlink()
        os.close(self._lock)
        self._lock = None


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.envdoctor-lock"


def _take_lock(output: Output) -> None:
    """An advisory lock beside the target, holding the owner's pid: a second run writing the same file is refused
    instead of silently overwriting the first's results."""
    path = _lock_path(output.target)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if sys.platform == "win32":
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        owner = os.read(descriptor, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(descriptor)
        raise OutputError(f"{output.flag} {output.path}: another envdoctor (pid {owner}) is writing it; wait for "
                          "it to finish or choose another file") from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, str(os.getpid()).encode("ascii"))
    output._lock = descriptor


def prepare(flag: str, path: Union[str, Path], append: bool = False) -> Output:
    """Check that `path` can be written, before any work: create missing parent directories, refuse a directory,
    a socket, a file without write permission or a directory that cannot be written in, and lock a file against
    a second run. Raises OutputError with the reason."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a directory")
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"{flag} {path}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise OutputError(f"{flag} {path} is neither a file, a character device nor a pipe")
        if not os.access(target, os.W_OK):
            raise OutputError(f"{flag} {path} is not writable")
        return Output(flag, path, target, regular=False, append=append)
    if mode is not None and not os.access(target, os.W_OK):
        raise OutputError(f"{flag} {path} is not writable")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".probe")
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{flag} {path}: cannot write in {target.parent}: {exc.strerror}") from None
    output = Output(flag, path, target, regular=True, append=append)
    if not append:
        _take_lock(output)
    return output


def fallback_write(data: str, name: str) -> Path:
    """Save `data` where it can be saved, when its own file could not be: the temporary directory, the home
    directory, then the working directory. Returns the path; OSError when none of them takes it."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    error: Optional[OSError] = None
    for directory in (Path(tempfile.gettempdir()), Path.home(), Path.cwd()):
        path = directory / f"envdoctor-{name}-{stamp}-{os.getpid()}.json"
        try:
            path.write_text(data, encoding="utf-8")
            return path
        except OSError as exc:
            error = exc
            with contextlib.suppress(OSError):
                path.unlink()
    assert error is not None
    raise error


@contextlib.contextmanager
def prepared(wanted: Sequence[tuple[str, Optional[Path]]]) -> Iterator[dict[str, Output]]:
    """The outputs among `wanted` (flag, path or None), and $GITHUB_STEP_SUMMARY (appended to) when set, each
    prepared; released on the way out. OutputError names the first that cannot be written."""
    outputs: dict[str, Output] = {}
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    try:
        for flag, path in wanted:
            if path is None:
                continue
            same = [other for other in outputs.values() if other.target == Path(os.path.realpath(path))]
            if same:
                raise OutputError(f"{same[0].flag} and {flag} name the same file, {path}")
            outputs[flag] = prepare(flag, path)
        if summary:
            outputs[SUMMARY] = prepare(SUMMARY, summary, append=True)
        yield outputs
    finally:
        for output in outputs.values():
            output.release()


SUMMARY = "$GITHUB_STEP_SUMMARY"


def write_or_warn(output: Optional[Output], data: Union[str, bytes]) -> bool:
    """Write `output` if there is one; on failure say so in one line on stderr and return False."""
    if output is None:
        return True
    try:
        output.write(data)
    except OSError as exc:
        print(f"envdoctor: error: cannot write {output.flag} {output.path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True
