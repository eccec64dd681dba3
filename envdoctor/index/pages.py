"""Parsers for wheel-index pages, pure: PEP 503 HTML, PEP 691 JSON, wheel file names and PEP 658 core metadata.

No I/O here; `envdoctor.index.fetch` reads the bytes and these functions turn them into typed rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from html.parser import HTMLParser
from typing import Any, Optional
from urllib.parse import unquote, urljoin

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from envdoctor.plain import parse_json as bounded_json


class PageError(Exception):
    """A page that cannot be what it claims: cut short, not HTML or JSON of the expected shape."""


@dataclass(frozen=True)
class Link:
    """One anchor of a PEP 503 page (or one file of a PEP 691 document), its href resolved against the page."""

    name: str  # the anchor text, or the file name of a JSON entry
    url: str  # without the #hash fragment
    requires_python: Optional[str]
    metadata: bool  # PEP 658/714: `<url>.metadata` is served (data-dist-info-metadata / data-core-metadata)


@dataclass(frozen=True)
class Wheel:
    """What a wheel's file name says: `torch-2.7.0+cu128-cp313-cp313t-manylinux_2_28_x86_64.whl`."""

    project: str
    version: Version
    variant: Optional[str]  # the local tag ("cu128"), None for a plain version (PyPI's builds)
    python: tuple[str, ...]  # interpreter tags: "cp313", "cp313t"
    platforms: tuple[str, ...]  # platform tags: "manylinux_2_28_x86_64", "win_amd64"


class _Anchors(HTMLParser):
    """Collects anchors and notices a page cut short: an unclosed tag, an unclosed <a>, or <html> opened and
    never closed (PyTorch's and PyPI's pages end with `</html>`; an excerpt of bare anchor lines has no <html>)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, Optional[str]], str]] = []
        self._open: Optional[dict[str, Optional[str]]] = None
        self._text: list[str] = []
        self.html_open = False
        self.html_closed = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []
        elif tag == "html":
            self.html_open = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None
        elif tag == "html":
            self.html_closed = True

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def unfinished(self) -> bool:
        return bool(self.rawdata) or self._open is not None or (self.html_open and not self.html_closed)


def parse_html(text: str, page_url: str) -> tuple[Link, ...]:
    """The anchors of a PEP 503 page; PageError when the page was cut short."""
    parser = _Anchors()
    parser.feed(text)
    if parser.unfinished():
        raise PageError(f"{page_url}: the page ends in the middle (cut short in transfer?)")
    links = []
    for attrs, name in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        metadata = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
        links.append(Link(name=name or unquote(href.rstrip("/").rsplit("/", 1)[-1]),
                          url=urljoin(page_url, href).split("#", 1)[0],
                          requires_python=attrs.get("data-requires-python"),
                          metadata=metadata not in (None, "false")))
    return tuple(links)


def parse_json(text: str, page_url: str) -> tuple[Link, ...]:
    """The files of a PEP 691 project page (`application/vnd.pypi.simple.v1+json`)."""
    try:
        document: Any = bounded_json(text)  # nesting bounded, NaN refused: a mirror's page is input too
        files = document["files"]
        return tuple(Link(name=str(f["filename"]), url=urljoin(page_url, str(f["url"])).split("#", 1)[0],
                          requires_python=f.get("requires-python"),
                          metadata=bool(f.get("core-metadata") or f.get("data-dist-info-metadata")))
                     for f in files)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PageError(f"{page_url}: not a PEP 691 project page ({exc.__class__.__name__}: {exc})") from None


def parse_page(data: bytes, content_type: str, page_url: str) -> tuple[Link, ...]:
    """A project or directory page, JSON or HTML by its content type (or its first character)."""
    text = data.decode("utf-8", errors="replace")
    if "json" in content_type or text.lstrip().startswith("{"):
        return parse_json(text, page_url)
    return parse_html(text, page_url)


def parse_wheel(name: str) -> Optional[Wheel]:
    """A wheel file name's parts, or None for anything else (sdists, .metadata files, nonsense)."""
    try:
        project, version, _, tags = parse_wheel_filename(name)
    except InvalidWheelFilename:
        return None
    local = version.local
    return Wheel(project=str(project), version=version, variant=str(local) if local else None,
                 python=tuple(sorted({t.abi if t.abi.endswith("t") and t.abi.startswith("cp") else t.interpreter
                                      for t in tags})),
                 platforms=tuple(sorted({t.platform for t in tags})))


@dataclass(frozen=True)
class CoreMetadata:
    """The fields of a wheel's METADATA that update reads."""

    requires_python: Optional[str]
    requires_dist: tuple[str, ...]


def parse_metadata(data: bytes) -> CoreMetadata:
    """A PEP 658 `.metadata` file (the wheel's METADATA: RFC 822 headers)."""
    message = BytesHeaderParser().parsebytes(data)
    return CoreMetadata(requires_python=message.get("Requires-Python"),
                        requires_dist=tuple(str(v) for v in message.get_all("Requires-Dist") or ()))


# torch up to 2.10 pinned `nvidia-cuda-runtime-cu12==12.8.90` (older metadata: `(==12.4.127)`); from the CUDA 13
# default on, `cuda-toolkit[cublas,cudart,...]==13.0.2`
_RUNTIME = re.compile(r"(?:nvidia-cuda-runtime(?:-cu\d+)?|cuda-toolkit(?:\[[^\]]*\])?)\s*(?:\(\s*)?==\s*(\d+)\.(\d+)")
_TORCH_PIN = re.compile(r"torch\s*(?:\(\s*)?==\s*([0-9][0-9a-z.+]*)", re.IGNORECASE)


def cuda_variant(requires_dist: tuple[str, ...]) -> Optional[str]:
    """The CUDA variant a wheel's pins imply: `nvidia-cuda-runtime-cu12==12.8.90` → "cu128",
    `cuda-toolkit[cudart,...]==13.0.2` → "cu130"; None without one (a CPU wheel, or CUDA not pinned as packages)."""
    for requirement in requires_dist:
        match = _RUNTIME.match(requirement.strip())
        if match:
            return f"cu{match.group(1)}{match.group(2)}"
    return None


def torch_pin(requires_dist: tuple[str, ...]) -> Optional[str]:
    """The torch release a companion pins (`torch==2.7.0`), without its local tag; None for a range."""
    for requirement in requires_dist:
        match = _TORCH_PIN.match(requirement.strip())
        if match:
            return match.group(1).split("+")[0]
    return None
