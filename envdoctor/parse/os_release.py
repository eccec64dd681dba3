"""`/etc/os-release` (freedesktop.org's os-release(5)): shell-style KEY=VALUE lines."""

from __future__ import annotations

import shlex


def parse_os_release(text: str) -> dict[str, str]:
    """The file's variables. Lines that are not KEY=VALUE, or whose quoting is broken, are skipped."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            continue
        values[key.strip()] = " ".join(words)
    return values
