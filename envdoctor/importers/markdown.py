"""The `check --json` document inside a Markdown report (`check --markdown`), however it was copied back: the
issue's raw body, the rendered page (no fences), a quoted reply ("> " before each line), CRLF line ends."""

from __future__ import annotations

import re

from envdoctor.facts.report import CHECK_SCHEMA
from envdoctor.plain import json_end

# The document's first key is its schema (render/json_doc.check_document); whitespace allowed for a pretty one.
_START = re.compile(r'\{\s*"schema"\s*:\s*"' + re.escape(CHECK_SCHEMA) + '"')
# A quoted reply's markers, nested or not. No line of a JSON document starts with '>', so stripping is safe.
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)
# A heading, a fence, a table row or an HTML block: text written as Markdown.
_MARKDOWN = re.compile(r"^[ \t]*(?:#{1,6}[ \t]|```|~~~|<details|\|.*\|[ \t]*$)", re.MULTILINE)


def embedded_documents(text: str) -> list[str]:
    """The JSON text of every envdoctor check document in `text`, in order, each cut out whole. ValueError when
    one is cut short or absurdly nested."""
    plain = _QUOTE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Inside a document's strings every '"' is escaped, so each match starts a document of its own.
    return [plain[match.start():json_end(plain, match.start())] for match in _START.finditer(plain)]


def looks_like_markdown(text: str) -> bool:
    """Whether `text` was written as Markdown (an issue's body) rather than pasted from a terminal."""
    return _MARKDOWN.search(text) is not None
