"""Facts from a file rather than a probe: a collect_env report or a saved `envdoctor check --json` document."""

from __future__ import annotations

import json
import sys

from envdoctor.facts import Facts
from envdoctor.importers.check_json import facts_from_document
from envdoctor.importers.collect_env import facts_from_report

MAX_BYTES = 4 * 1024 * 1024  # a report is a few kilobytes; anything this big is something else


class ReportError(ValueError):
    """The file is not something `check --from` can read; the message is one line for the user."""


def _read(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read(MAX_BYTES + 1)
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None


def _text(path: str) -> tuple[str, str]:
    """The file's text and the name to call it by; ReportError for an empty, binary or oversized file."""
    data = _read(path)
    name = "standard input" if path == "-" else path
    if len(data) > MAX_BYTES:
        raise ReportError(f"{name} is larger than {MAX_BYTES // 1024**2} MiB: not a collect_env report")
    if not data.strip():
        raise ReportError(f"{name} is empty")
    if b"\0" in data:
        raise ReportError(f"{name} is a binary file, not a collect_env report or envdoctor JSON")
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError:
        return data.decode("latin-1"), name


def _document(text: str, name: str, path: str) -> Facts:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    try:
        return facts_from_document(document, path)
    except ValueError as exc:
        raise ReportError(f"{name}: {exc}") from None


def read_check_document(path: str) -> Facts:
    """The facts of a saved `envdoctor check --json` document, and of nothing else."""
    text, name = _text(path)
    if not text.lstrip().startswith("{"):
        raise ReportError(f"{name} is not an envdoctor check --json document (save one with "
                          "`envdoctor check --json > FILE` on the machine to plan for)")
    return _document(text, name, path)


def read_facts(path: str) -> Facts:
    """The facts a file describes. Raises ReportError for anything that is not a report."""
    text, name = _text(path)
    if text.lstrip().startswith(("{", "[")):
        return _document(text, name, path)
    try:
        return facts_from_report(text, path)
    except ValueError as exc:
        raise ReportError(f"{name}: {exc}") from None
