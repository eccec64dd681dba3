"""The `check` report as Markdown for a bug report: findings and advice first, then the facts as tables and the
`check --json` document, each in a collapsed <details>, so that `check --from` reads the paste back."""

from __future__ import annotations

import json
import re
from typing import Any

from envdoctor import __version__
from envdoctor.diagnose.advice import Advice
from envdoctor.diagnose.findings import Finding
from envdoctor.diagnose.report import Diagnosis
from envdoctor.facts import Facts
from envdoctor.render.facts_text import Cell, fact_sections, origin_line
from envdoctor.render.findings_text import FINDINGS_OK

GITHUB_BODY_LIMIT = 65_536  # characters in an issue or comment body; GitHub refuses a longer one
DOCUMENT_SUMMARY = "envdoctor check document (read back by <code>envdoctor check --from</code>)"
# Characters that Markdown or HTML would read as syntax inside a line (emphasis in `__init__.py`, a `|` ending a
# table cell, a `<` opening a tag); CommonMark lets any ASCII punctuation be backslash-escaped.
_SPECIAL = re.compile(r"([\\`*_\[\]<|~&])")


def escape(text: str) -> str:
    """Text as Markdown that renders as itself on one line (a table cell, a list item): syntax escaped, line
    breaks as <br>."""
    return "<br>".join(_SPECIAL.sub(r"\\\1", line).strip() for line in text.strip().splitlines())


def _cell(value: Cell) -> str:
    return escape(value if isinstance(value, str) else value.plain)


def _fenced(lines: list[str], language: str = "") -> list[str]:
    """A fenced code block longer than any run of backticks in the lines, so none of them can close it."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, *lines, fence]


def document_json(document: dict[str, Any]) -> str:
    """The check document on one line: compact, ASCII, with no '<', '>' or '&' that HTML could take for markup."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _finding(finding: Finding) -> list[str]:
    lines = [f"**{finding.severity.label}** · {escape(finding.title)} · `{finding.id}`", ""]
    lines += [f"- {escape(name)}: {escape(value)}" for name, value in finding.evidence]
    if finding.fix:
        lines += ["", f"Fix: {escape(finding.fix)}"]
    if finding.command:
        lines += ["", *_fenced([finding.command], "sh")]
    return [*lines, ""]


def _advice(question: str, advice: Advice) -> list[str]:
    plan = advice.plan
    if advice.not_planned:
        return [f"**{escape(question)}**: not planned: {escape(advice.not_planned)}", ""]
    if plan is None:
        return [f"**{escape(question)}**: no torch release in the knowledge base fits:", "",
                *(f"- {escape(reason)}" for reason in advice.passed_over), ""]
    index = f"index {plan.index_url}" if plan.index_url else "from PyPI"
    return [f"**{escape(question)}**: torch {escape(plan.torch)} · {escape(plan.variant)} · {escape(index)}", "",
            *(f"- because {escape(reason)}" for reason in plan.reasons), "",
            *_fenced([plan.pip_command, "# or, with uv:", plan.uv_command], "sh"), ""]


def _table(rows: list[tuple[str, Cell]]) -> list[str]:
    return ["| fact | value |", "| --- | --- |", *(f"| {escape(label)} | {_cell(value)} |" for label, value in rows)]


def _details(summary: str, body: list[str]) -> list[str]:
    # The blank line after <summary> lets GitHub read the body as Markdown rather than HTML.
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def check_markdown(facts: Facts, diagnosis: Diagnosis, document: dict[str, Any],
                   limit: int = GITHUB_BODY_LIMIT) -> str:
    """The report, with `document` (the `check --json` document) embedded on one line for `check --from`. Where
    the whole would exceed `limit` characters, the facts tables are left out (the document holds every fact)."""
    host = facts.origin.hostname or (facts.origin.path and facts.origin.path.rsplit("/", 1)[-1]) or "this machine"
    versions = f"envdoctor {__version__} · knowledge base valid as of {escape(diagnosis.valid_as_of)}"
    if facts.origin.kind == "file":
        versions += f" · {escape(origin_line(facts))}"
    head = [f"### envdoctor check: {escape(host)}, {escape(facts.collected_at)}", "", versions, "",
            "#### Findings", ""]
    for finding in diagnosis.findings:
        head += _finding(finding)
    if not diagnosis.findings:
        head += [f"**ok** · {escape(FINDINGS_OK)}", ""]
    if diagnosis.not_checked:
        head += ["#### Not checked", "", *(f"- {escape(note)}" for note in diagnosis.not_checked), ""]
    if diagnosis.advice:
        head += ["#### Install advice", ""]
    for question, advice in diagnosis.advice:
        head += _advice(question, advice)
    sections = fact_sections(facts, diagnosis.gpus)
    tables: list[str] = []
    for title, rows in sections:
        tables += [f"#### {escape(title)}", "", *_table(rows), ""]
    facts_part = _details("Facts: " + ", ".join(escape(title) for title, _ in sections), tables[:-1])
    tail = _details(DOCUMENT_SUMMARY, _fenced([document_json(document)], "json"))
    text = "\n".join(head + facts_part + tail)
    if len(text) <= limit:
        return text
    note = [f"The facts tables are left out: with them this report would pass GitHub's {limit:,}-character limit. "
            "The document below holds every fact.", ""]
    return "\n".join(head + note + tail)
