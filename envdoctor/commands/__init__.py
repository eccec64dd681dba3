"""One module per subcommand, each with `add_parser(subparsers)` and `run(args) -> int`."""

from __future__ import annotations

import os
from typing import Optional

from envdoctor.exitcodes import UsageError
from envdoctor.knowledge import Knowledge
from envdoctor.probe.nvidia import DRIVER_OVERRIDE_VAR, driver_override_error


def require_release(kb: Knowledge, release: Optional[str]) -> None:
    """A `--torch RELEASE` the knowledge base does not hold is a usage error."""
    if release is not None and kb.release(release) is None:
        raise UsageError(f"--torch {release}: not a torch release in the knowledge base "
                         f"({kb.releases[-1].series} to {kb.releases[0].series})")


def check_driver_override() -> None:
    """The driver override is checked alike by every command that probes this machine."""
    error = driver_override_error(os.environ.get(DRIVER_OVERRIDE_VAR, ""))
    if error is not None:
        raise UsageError(error)
