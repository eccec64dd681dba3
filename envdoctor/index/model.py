"""What `update` gathers from an index, before any judgement: the wheels listed and the facts read beside them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from packaging.version import Version

from envdoctor.index.pages import Link, Wheel

VARIANT = re.compile(r"cpu|cu\d{2,3}|rocm\d+(\.\d+)*|xpu")


@dataclass(frozen=True)
class IndexWheel:
    """One torch-family wheel an index page lists, with where it was listed."""

    wheel: Wheel
    link: Link
    directory: Optional[str]  # the variant directory it was listed under ("cpu" for an untagged macOS wheel)

    @property
    def variant(self) -> Optional[str]:
        """The local tag, else the variant directory it was listed in or its URL points into (an untagged macOS
        wheel such as `/whl/cpu/torch-2.3.0-cp38-none-macosx_11_0_arm64.whl` on the all-variants page)."""
        if self.wheel.variant or self.directory:
            return self.wheel.variant or self.directory
        parent = self.link.url.rsplit("/", 2)[-2] if self.link.url.count("/") >= 2 else ""
        return parent if VARIANT.fullmatch(parent) else None


@dataclass(frozen=True)
class Snapshot:
    """Everything read, before any judgement."""

    index_url: str
    pypi_url: Optional[str]
    since: str  # the oldest release series gathered
    wheels: tuple[IndexWheel, ...]  # torch wheels of series >= since
    requires_python: dict[str, str] = field(default_factory=dict)  # torch release → Requires-Python
    pypi_default: dict[str, Optional[str]] = field(default_factory=dict)  # torch release → PyPI's variant
    companions: dict[str, dict[str, str]] = field(default_factory=dict)  # project → {companion release: torch}
    gaps: tuple[str, ...] = ()


def series_of(version: Version) -> Version:
    return Version(f"{version.major}.{version.minor}")
