"""Facts from a file rather than a probe: a collect_env report or a saved `envdoctor check --json` document."""

from __future__ import annotations

import codecs
import sys
from typing import Optional

from envdoctor.facts import Facts
from envdoctor.importers.check_json import facts_from_document
from envdoctor.importers.collect_env import facts_from_report
from envdoctor.importers.markdown import embedded_documents, looks_like_markdown
from envdoctor.plain import parse_json

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


# Byte-order marks, longest first (UTF-32 LE's begins with UTF-16 LE's).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode(data: bytes) -> Optional[str]:
    """A report's text, whatever saved it: UTF-8 with or without a BOM; UTF-16 or UTF-32 with a BOM; UTF-16
    without one, known by its NUL bytes (PowerShell's `>` writes UTF-16); Latin-1 as a last resort. None for
    anything else with NUL bytes in it (a binary file)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    sample = data[:4096]
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    for codec, nuls, others in (("utf-16-le", odd_nuls, even_nuls), ("utf-16-be", even_nuls, odd_nuls)):
        if len(data) % 2 == 0 and others == 0 and nuls > len(sample) // 4:  # ASCII text: every other byte NUL
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _text(path: str) -> tuple[str, str]:
    """The file's text and the name to call it by; ReportError for an empty, binary or oversized file."""
    data = _read(path)
    name = "standard input" if path == "-" else path
    if len(data) > MAX_BYTES:
        raise ReportError(f"{name} is larger than {MAX_BYTES // 1024**2} MiB: not a collect_env report")
    text = decode(data)
    if text is None:
        raise ReportError(f"{name} is a binary file, not a collect_env report or envdoctor JSON")
    if not text.strip():
        raise ReportError(f"{name} is empty")
    return text, name


def _document(text: str, name: str, path: str) -> Facts:
    try:
        return facts_from_document(parse_json(text), path)
    except ValueError as exc:
        raise ReportError(f"{name}: {exc}") from None


def read_check_document(path: str) -> Facts:
    """The facts of a saved `envdoctor check --json` document, and of nothing else."""
    text, name = _text(path)
    if not text.lstrip().startswith("{"):
        raise ReportError(f"{name} is not an envdoctor check --json document (save one with "
                          "`envdoctor check --json > FILE` on the machine to plan for)")
    return _document(text, name, path)


def _embedded(text: str, name: str, path: str) -> Optional[Facts]:
    """The facts of the one check document inside a Markdown report, or None if it holds none."""
    try:
        documents = embedded_documents(text)
    except ValueError as exc:
        raise ReportError(f"{name}: its envdoctor check document is damaged: {exc}") from None
    if len(set(documents)) > 1:
        raise ReportError(f"{name} holds {len(set(documents))} different envdoctor check documents: "
                          "save each in a file of its own")
    return _document(documents[0], f"{name}: its envdoctor check document", path) if documents else None


def read_facts(path: str) -> Facts:
    """The facts a file describes: a check document, a Markdown report holding one (`check --markdown`), or a
    collect_env report. Raises ReportError for anything else."""
    text, name = _text(path)
    if text.lstrip().startswith(("{", "[")):
        return _document(text, name, path)
    facts = _embedded(text, name, path)
    if facts is not None:
        return facts
    try:
        return facts_from_report(text, path)
    except ValueError as exc:
        if looks_like_markdown(text):
            raise ReportError(f"{name} is Markdown with no envdoctor check document in it (paste all of "
                              "`envdoctor check --markdown`, its collapsed sections too) and no collect_env "
                              "report") from None
        raise ReportError(f"{name}: {exc}") from None
