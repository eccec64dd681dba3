"""Consoles that honour NO_COLOR, FORCE_COLOR and non-TTY output (rich detects all three)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Optional

from rich.console import Console

WIDE_PIPE_WIDTH = 140  # for the wide results tables: logs and files do not wrap them


def make_console(file: Optional[IO[str]] = None, width: Optional[int] = None,
                 pipe_width: Optional[int] = None) -> Console:
    """A console on stdout (or `file`). On a pipe rich drops colour and uses 80 columns, or `pipe_width`."""
    console = Console(file=file or sys.stdout, width=width, highlight=False, soft_wrap=False)
    if pipe_width is not None and width is None and not console.is_terminal:
        console.width = pipe_width
    return console


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while work runs; nothing at all when stderr is not a terminal."""
    console = Console(file=sys.stderr)
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield
