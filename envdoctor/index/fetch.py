"""Reading index pages over http(s) or from a file:// tree: the only module of envdoctor that opens a URL.

A file:// directory is read through its `index.html` (a PEP 503 tree), or, without one, as a listing of its
entries (a flat wheelhouse, or the levels of a tree that only the leaves give pages for).
"""

from __future__ import annotations

import html
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

MAX_BYTES = 64 * 1024 * 1024  # a page bigger than this is not an index page
CHUNK_BYTES = 256 * 1024
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


class FetchError(Exception):
    """A page that could not be read: unreachable, timed out, an HTTP error, cut short. One line."""


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    content_type: str
    data: bytes


# A fetcher: (url, accept header) → the response, None for a page that does not exist (HTTP 404/410, a missing
# file), FetchError for anything else. Tests inject one to map public hosts onto a local server.
Fetch = Callable[[str, str], Optional[Response]]


def fetcher(timeout_s: float) -> Fetch:
    """The real fetcher, every request bounded by `timeout_s` (connect and each read)."""

    def fetch(url: str, accept: str) -> Optional[Response]:
        scheme = urlsplit(url).scheme
        if scheme == "file":
            return _read_file(url)
        if scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http://, https:// and file:// URLs can be read")
        return _read_http(url, accept, timeout_s)

    return fetch


def _read_http(url: str, accept: str, timeout_s: float) -> Optional[Response]:
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "envdoctor-update"})
    deadline = time.monotonic() + timeout_s  # the socket timeout bounds each read; this bounds the whole page
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(CHUNK_BYTES):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FetchError(f"{url}: larger than {MAX_BYTES // (1024 * 1024)} MiB, not an index page")
                if time.monotonic() > deadline:
                    raise FetchError(f"{url}: not read completely within {timeout_s:g} s")
            return Response(response.geturl(), response.headers.get("Content-Type", ""), b"".join(chunks))
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            return None
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except http.client.IncompleteRead as exc:
        raise FetchError(f"{url}: the page was cut short ({len(exc.partial)} bytes read)") from None
    except (TimeoutError, socket.timeout):
        raise FetchError(f"{url}: no answer within {timeout_s:g} s") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise FetchError(f"{url}: no answer within {timeout_s:g} s") from None
        raise FetchError(f"{url}: {getattr(reason, 'strerror', None) or reason}") from None
    except (http.client.HTTPException, ConnectionError) as exc:
        raise FetchError(f"{url}: the connection failed ({exc.__class__.__name__})") from None


def _read_file(url: str) -> Optional[Response]:
    path = Path(url2pathname(urlsplit(url).path))
    try:
        if path.is_dir():
            index = path / "index.html"
            if index.is_file():
                return Response(url, "text/html", index.read_bytes())
            return Response(url, "text/html", _listing(path))
        if path.is_file():
            kind = "application/json" if path.suffix == ".json" else "text/html"
            return Response(url, kind, path.read_bytes())
    except OSError as exc:
        raise FetchError(f"{url}: {exc.strerror or exc}") from None
    return None


def _listing(directory: Path) -> bytes:
    """A directory as a PEP 503 page: one anchor per entry, directories with a trailing slash."""
    rows = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        name = entry.name + ("/" if entry.is_dir() else "")
        rows.append(f'<a href="{quote(name)}">{html.escape(name)}</a><br/>')
    return ("<!DOCTYPE html>\n<html><body>\n" + "\n".join(rows) + "\n</body></html>\n").encode("utf-8")
