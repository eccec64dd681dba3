"""One module per subcommand, each with `add_parser(subparsers)` and `run(args) -> int`; `gating` holds what
`compare` and `bench --baseline` share, and this module the helpers every command may use."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Optional

from envdoctor.diagnose.freshness import freshness_notes
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


def print_freshness(kb: Knowledge, torch_version: Optional[str]) -> None:
    """Say on standard error (so that --json output stays one document) when the knowledge base is behind the
    installed torch or the calendar."""
    for note in freshness_notes(torch_version, kb.releases[0].series, kb.knowledge_date, date.today()):
        print(f"envdoctor: note: {note}", file=sys.stderr)


def seconds(limit: float) -> Callable[[str], float]:
    """argparse type for a timeout: a number of seconds above 0 and at most `limit` (NaN and inf fail)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        if not 0 < value <= limit:  # written so that NaN fails too
            raise argparse.ArgumentTypeError(f"must be above 0 and at most {limit:g} seconds: {text!r}")
        return value

    return parse


def plot_path(text: str) -> Path:
    """argparse type for --plot: the suffix says the image format."""
    path = Path(text)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r}: the chart is drawn as .png or .svg, so the name must end so")
    return path


PLOT_FORMATS = (".png", ".svg")
