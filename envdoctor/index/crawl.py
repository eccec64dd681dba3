"""Walk a PyTorch-style wheel index and PyPI's JSON simple API and gather what `derive` turns into knowledge.

Reads: `<index>/` (the variant directories), `<index>/<variant>/<project>/` for torch, torchvision and torchaudio,
a flat wheelhouse or a plain PEP 503 root where there are no variant directories, one PEP 658 `.metadata` file
per torch release (Requires-Python) and per companion release (its torch pin), and `<pypi>/<project>/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from packaging.version import Version

from envdoctor.index.fetch import JSON_ACCEPT, Fetch, FetchError
from envdoctor.index.model import VARIANT, IndexWheel, Snapshot, series_of
from envdoctor.index.pages import (
    CoreMetadata,
    Link,
    PageError,
    cuda_variant,
    parse_metadata,
    parse_page,
    parse_wheel,
    torch_pin,
)

PROJECTS = ("torch", "torchvision", "torchaudio")
COMPANIONS = ("torchvision", "torchaudio")
MAX_COMPANION_RELEASES = 12  # metadata files read per companion and source, newest first
HTML_ACCEPT = "text/html"


def _join(base: str, *parts: str) -> str:
    return base.rstrip("/") + "/" + "/".join(p.strip("/") for p in parts) + "/"


def _page(fetch: Fetch, url: str, accept: str = HTML_ACCEPT) -> Optional[tuple[Link, ...]]:
    response = fetch(url, accept)
    if response is None:
        return None
    try:
        return parse_page(response.data, response.content_type, response.url)
    except PageError as exc:
        raise FetchError(str(exc)) from None


def _wheels(links: Iterable[Link], directory: Optional[str]) -> list[IndexWheel]:
    found = []
    for link in links:
        wheel = parse_wheel(link.name) or parse_wheel(link.url.rsplit("/", 1)[-1])
        if wheel is not None and wheel.project in PROJECTS:
            found.append(IndexWheel(wheel, link, directory))
    return found


def list_index(fetch: Fetch, index_url: str) -> list[IndexWheel]:
    """Every torch-family wheel the index lists."""
    root = _page(fetch, index_url)
    if root is None:
        raise FetchError(f"{index_url}: not found")
    flat = _wheels(root, None)
    if flat:
        return flat
    names = [link.name.strip().rstrip("/") for link in root]
    variants = [n for n in names if VARIANT.fullmatch(n)]
    wheels: list[IndexWheel] = []
    if variants:
        for variant in variants:
            for project in PROJECTS:
                wheels += _wheels(_page(fetch, _join(index_url, variant, project)) or (), variant)
    else:
        for project in (p for p in PROJECTS if p in names):
            wheels += _wheels(_page(fetch, _join(index_url, project)) or (), None)
    if not any(w.wheel.project == "torch" for w in wheels):
        raise FetchError(f"{index_url}: no torch wheels found (no variant directories such as cu130/ or cpu/, "
                         "no torch/ page, no wheels)")
    return wheels


def _metadata(fetch: Fetch, link: Link) -> Optional[CoreMetadata]:
    response = fetch(link.url + ".metadata", "*/*")
    return parse_metadata(response.data) if response is not None else None


def _companion_pins(fetch: Fetch, links: Iterable[Link], since: Version) -> dict[str, str]:
    """{companion release: torch release} from the metadata of the newest companion releases, newest first,
    stopping at the first that pins a torch older than `since`."""
    by_version: dict[Version, Link] = {}
    for link in links:
        wheel = parse_wheel(link.name)
        if wheel is not None:
            by_version.setdefault(Version(wheel.version.public), link)
    pins: dict[str, str] = {}
    for version in sorted(by_version, reverse=True)[:MAX_COMPANION_RELEASES]:
        metadata = _metadata(fetch, by_version[version])
        pin = torch_pin(metadata.requires_dist) if metadata else None
        if pin is None:
            continue
        if series_of(Version(pin)) < since:
            break
        pins[str(version)] = pin
    return pins


def crawl(fetch: Fetch, index_url: str, pypi_url: Optional[str], since: Version) -> Snapshot:
    """Read the index (and PyPI unless `pypi_url` is None). FetchError on the first page that cannot be read."""
    listed = list_index(fetch, index_url)
    wheels = tuple(w for w in listed if w.wheel.project == "torch" and series_of(w.wheel.version) >= since)
    requires_python: dict[str, str] = {}
    for release in sorted({w.wheel.version.public for w in wheels}, key=Version):
        served = [w.link for w in wheels if w.wheel.version.public == release and w.link.requires_python]
        if served:
            requires_python[release] = str(served[0].requires_python)
            continue
        with_metadata = [w.link for w in wheels if w.wheel.version.public == release and w.link.metadata]
        metadata = _metadata(fetch, with_metadata[0]) if with_metadata else None
        if metadata and metadata.requires_python:
            requires_python[release] = metadata.requires_python
    companions: dict[str, dict[str, str]] = {}
    for project in COMPANIONS:
        links = [w.link for w in listed if w.wheel.project == project and w.link.metadata]
        companions[project] = _companion_pins(fetch, links, since)
    pypi_default: dict[str, Optional[str]] = {}
    if pypi_url is not None:
        _read_pypi(fetch, pypi_url, since, requires_python, pypi_default, companions)
    releases = sorted({w.wheel.version.public for w in wheels}, key=Version)
    gaps = [f"torch {r}: Requires-Python served neither by the index nor by PyPI" for r in releases
            if r not in requires_python]
    if pypi_url is not None:
        gaps += [f"torch {r}: PyPI's default variant unknown (no Linux x86_64 wheel metadata, or no CUDA runtime "
                 "pin in it)" for r in releases if not pypi_default.get(r)]
    return Snapshot(index_url, pypi_url, str(since), wheels, requires_python, pypi_default, companions,
                    tuple(gaps))


def _read_pypi(fetch: Fetch, pypi_url: str, since: Version, requires_python: dict[str, str],
               pypi_default: dict[str, Optional[str]], companions: dict[str, dict[str, str]]) -> None:
    """PyPI's Requires-Python wins over the index's; its Linux x86_64 wheel's CUDA pins name the default variant."""
    links = _page(fetch, _join(pypi_url, "torch"), JSON_ACCEPT)
    if links is None:
        raise FetchError(f"{_join(pypi_url, 'torch')}: not found")
    for link in links:
        wheel = parse_wheel(link.name)
        if wheel is None or series_of(wheel.version) < since:
            continue
        release = wheel.version.public
        if link.requires_python:
            requires_python[release] = link.requires_python
        if release not in pypi_default and any("linux" in p and p.endswith("_x86_64") for p in wheel.platforms):
            # PyPI serves `.metadata` for every wheel it accepts since 2023; a mirror may drop the attribute
            metadata = _metadata(fetch, link)
            if metadata is not None:
                # no nvidia-cuda-runtime pin: a CPU build or CUDA inside the wheel, which the pins cannot tell apart
                pypi_default[release] = cuda_variant(metadata.requires_dist)
    for project in COMPANIONS:
        page = _page(fetch, _join(pypi_url, project), JSON_ACCEPT) or ()
        for release, pin in _companion_pins(fetch, page, since).items():
            companions[project].setdefault(release, pin)
