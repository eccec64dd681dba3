"""`envdoctor update`: read the PyTorch wheel index and PyPI, and write a dated knowledge overlay to the cache.

The only command that touches the network. A page that cannot be read ends the run with one line and leaves the
previous overlay as it was.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import date
from typing import Any, Optional

from packaging.version import InvalidVersion, Version

from envdoctor.commands import seconds
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError
from envdoctor.index.crawl import crawl
from envdoctor.index.derive import overlay_document
from envdoctor.index.fetch import Fetch, FetchError, fetcher
from envdoctor.knowledge import Knowledge
from envdoctor.knowledge.overlay import CACHE_DIR_VAR, overlay_path
from envdoctor.outputs import prepare

DEFAULT_INDEX_URL = "https://download.pytorch.org/whl/"
DEFAULT_PYPI_URL = "https://pypi.org/simple/"
DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class UpdateOptions:
    """What `update` reads and since which release; validated on construction."""

    since: str  # the oldest release series to gather ("2.14")
    index_url: str = DEFAULT_INDEX_URL
    pypi_url: Optional[str] = DEFAULT_PYPI_URL  # None: do not read PyPI (an air-gapped mirror)
    timeout_s: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        for flag, url in (("--index-url", self.index_url), ("--pypi-url", self.pypi_url)):
            if url is not None and not url.startswith(("http://", "https://", "file://")):
                raise UsageError(f"{flag} {url!r}: only http://, https:// and file:// URLs can be read")
        try:
            Version(self.since)
        except InvalidVersion:
            raise UsageError(f"--since {self.since!r} is not a release like 2.14") from None


def run_update(options: UpdateOptions, fetch: Fetch, today: date) -> dict[str, Any]:
    """Read the index (and PyPI) and return the overlay document; FetchError when a page cannot be read."""
    snapshot = crawl(fetch, options.index_url, options.pypi_url, Version(options.since))
    return overlay_document(snapshot, today.isoformat())


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "update",
        help="refresh the knowledge base from the PyTorch wheel index (the only command using the network)",
        description="Read the PyTorch wheel index (PEP 503 pages and PEP 658 metadata) and PyPI's JSON simple API, "
                    "derive per release its variants, Python tags, platforms, glibc and macOS floors, "
                    "Requires-Python, PyPI's default variant and companion pins, and write a dated overlay to "
                    f"the cache directory (${CACHE_DIR_VAR}, else $XDG_CACHE_HOME/envdoctor, else "
                    "~/.cache/envdoctor). On any error the previous overlay is kept.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--index-url", default=DEFAULT_INDEX_URL, metavar="URL",
                        help=f"the wheel index: http(s)://, a file:// tree or wheelhouse (default {DEFAULT_INDEX_URL})")
    parser.add_argument("--pypi-url", default=DEFAULT_PYPI_URL, metavar="URL",
                        help=f"PyPI's simple API (default {DEFAULT_PYPI_URL})")
    parser.add_argument("--no-pypi", action="store_true", help="do not read PyPI (a mirror without it)")
    parser.add_argument("--since", metavar="RELEASE",
                        help="gather releases from this series on (default: the newest series bundled)")
    parser.add_argument("--timeout", type=seconds(MAX_TIMEOUT_S), default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"per request (default {DEFAULT_TIMEOUT_S:g}, at most {MAX_TIMEOUT_S:g})")
    parser.add_argument("--json", action="store_true", help="print the overlay written")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    options = UpdateOptions(index_url=args.index_url, pypi_url=None if args.no_pypi else args.pypi_url,
                            since=args.since or Knowledge().releases[0].series, timeout_s=args.timeout)
    output = prepare("the knowledge overlay", overlay_path())  # checked (and locked) before any request
    try:
        try:
            document = run_update(options, fetcher(options.timeout_s), date.today())
        except FetchError as exc:
            raise UsageError(f"{exc} (the previous knowledge overlay is kept)") from None
        text = json.dumps(document, indent=1, sort_keys=False) + "\n"
        output.write(text)
    finally:
        output.release()
    if args.json:
        sys.stdout.write(text)
    else:
        series = ", ".join(r["version"] for r in document["releases"]) or "none"
        print(f"knowledge overlay written to {output.path} (as of {document['valid_as_of']}; "
              f"releases read: {series})")
    return ExitCode.OK
