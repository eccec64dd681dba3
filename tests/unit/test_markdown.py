"""`check --markdown`: a report for a bug report that `check --from` reads back to the same findings. The Markdown is
checked by the small parser below, never against the renderer's own output."""

from __future__ import annotations

import json
import re
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cli import main
from envdoctor.diagnose.findings import Finding, Severity
from envdoctor.diagnose.report import Diagnosis
from envdoctor.render.json_doc import check_document, dumps
from envdoctor.render.markdown import check_markdown
from tests.helpers import FIXTURES, sample_facts

CASES = sorted((FIXTURES / "collect_env").glob("*.txt"))
# A cell's unescaped '|' splits it; '\|' does not (GitHub's tables).
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark: a backslash before ASCII punctuation


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["check", *argv, "--json"]) in (0, 1)
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def run_markdown(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["check", *argv, "--markdown"]) in (0, 1)
    return capsys.readouterr().out


def judged(document: dict[str, Any]) -> dict[str, Any]:
    """What a diagnosis said, and the facts without where and when they were read."""
    facts = {k: v for k, v in document["facts"].items() if k not in ("origin", "collected_at")}
    return {"findings": document["findings"], "not_checked": document["not_checked"],
            "advice": document["advice"], "facts": facts}


def origin(document: dict[str, Any]) -> dict[str, Any]:
    return {k: document["facts"]["origin"][k] for k in ("kind", "hostname", "path")}


def embedded(markdown: str) -> dict[str, Any]:
    """The document in a ```json fence, read by this test alone."""
    lines = markdown.splitlines()
    start = lines.index("```json")
    assert lines[start + 2] == "```", "the document is one line"
    document: dict[str, Any] = json.loads(lines[start + 1])
    return document


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table: its rows, each a list of raw cells; rows of one table are consecutive '|' lines."""
    found: list[list[list[str]]] = []
    previous = False
    for line in markdown.splitlines():
        row = line.startswith("|")
        if row:
            if not previous:
                found.append([])
            found[-1].append(_CELL_SPLIT.split(line)[1:-1])
        previous = row
    return found


def unescape(cell: str) -> str:
    return _ESCAPED.sub(r"\1", cell.strip()).replace("<br>", "\n")


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_a_real_report_reads_back_from_its_markdown(case: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    direct = run_json(capsys, "--from", str(case))
    pasted = tmp_path / "issue.md"
    pasted.write_text(run_markdown(capsys, "--from", str(case)))
    back = run_json(capsys, "--from", str(pasted))
    assert judged(back) == judged(direct)
    assert origin(back) == {"kind": "file", "hostname": None, "path": str(pasted)}


def test_the_real_reports_have_findings_to_compare() -> None:
    ids = {i for c in CASES for i in json.loads(c.with_suffix(".json").read_text())["expected_ids"]}
    assert len(ids) >= 5  # the round trip above carries errors of five kinds, not only healthy reports


@pytest.mark.slow  # lscpu and the other probes run as subprocesses
def test_this_machine_reads_back_from_its_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    markdown = run_markdown(capsys, "--no-import")
    live = embedded(markdown)
    assert live["facts"]["origin"]["kind"] == "probe"
    pasted = tmp_path / "issue.md"
    pasted.write_text(markdown)
    back = run_json(capsys, "--from", str(pasted))
    assert judged(back) == judged(live)
    assert origin(back) == {"kind": "file", "hostname": socket.gethostname(), "path": str(pasted)}


def test_findings_come_before_the_collapsed_facts(capsys: pytest.CaptureFixture[str]) -> None:
    case = FIXTURES / "collect_env" / "21_geforce210-win7-torch120-cu100-driver342.txt"
    lines = run_markdown(capsys, "--from", str(case)).splitlines()
    assert lines[0].startswith("### envdoctor check: ") and "knowledge base valid as of" in lines[2]
    collapsed = lines.index("<details>")
    for id_ in ("driver-too-old", "gpu-arch-unsupported", "companion-mismatch"):
        (line,) = [n for n, line in enumerate(lines) if line.startswith("**error** ") and f"`{id_}`" in line]
        assert line < collapsed
    assert lines.index("#### Install advice") < collapsed
    summaries = [line for line in lines if line.startswith("<summary>")]
    assert len(summaries) == 2 and summaries[0].startswith("<summary>Facts")
    assert lines.count("<details>") == lines.count("</details>") == 2


def test_every_table_is_well_formed(capsys: pytest.CaptureFixture[str]) -> None:
    facts = sample_facts()
    nasty = "Xeon | <script>x</script> `rm` __init__.py [link](u) *a* ~b~ &amp;\nsecond line"
    facts = replace(facts, system=replace(facts.system, cpu=replace(facts.system.cpu, model=nasty)))
    found = tables(check_markdown(facts, Diagnosis((), (), "2026-12-01"), check_document(facts)))
    assert len(found) >= 4
    for table in found:
        assert {len(row) for row in table} == {2}
        assert [cell.strip() for cell in table[1]] == ["---", "---"]
        for row in table[2:]:
            for cell in row:
                assert not re.search(r"(?<!\\)[<`*_\[~&]", cell.replace("<br>", "")), cell
    cpu = [row[1] for table in found for row in table if row[0].strip() == "CPU"]
    assert len(cpu) == 1 and unescape(cpu[0]).startswith(nasty)


def test_a_command_with_backticks_keeps_its_fence() -> None:
    command = "echo ```` && python -m pip install 'torch<2.5'"
    finding = Finding("x-test", Severity.ERROR, "a | b", (("fact", "one\ntwo"),), "do it", command)
    facts = sample_facts()
    lines = check_markdown(facts, Diagnosis((finding,), (), "2026-12-01"), check_document(facts)).splitlines()
    opener = next(n for n, line in enumerate(lines) if line.startswith("`````"))
    assert lines[opener] == "`````sh" and lines[opener + 1] == command and lines[opener + 2] == "`````"
    assert "- fact: one<br>two" in lines and any(r"a \| b" in line for line in lines)


@pytest.fixture
def report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, list[dict[str, Any]]]:
    """A Markdown report with three findings, and those findings."""
    case = FIXTURES / "collect_env" / "21_geforce210-win7-torch120-cu100-driver342.txt"
    findings = run_json(capsys, "--from", str(case))["findings"]
    assert len(findings) >= 3
    return run_markdown(capsys, "--from", str(case)), findings


def _rendered(markdown: str) -> str:
    """Roughly what copying from GitHub's rendered page (sections expanded) gives: no fences and no HTML tags."""
    return "\n".join(line for line in markdown.splitlines()
                     if not line.startswith(("```", "<details", "</details", "<summary")))


@pytest.mark.parametrize("copy", [
    pytest.param(lambda md: md.replace("\n", "\r\n"), id="crlf"),
    pytest.param(lambda md: "".join(f"> {line}\n" for line in md.splitlines()), id="quoted"),
    pytest.param(lambda md: "".join(f"> > {line}\r\n" for line in md.splitlines()), id="quoted-twice-crlf"),
    pytest.param(lambda md: "".join(f"{line}   \n" for line in md.splitlines()), id="trailing-spaces"),
    pytest.param(lambda md: f"My training crashes, see below.\n\n{md}\nThanks!\n", id="inside-an-issue"),
    pytest.param(_rendered, id="rendered-page"),
    pytest.param(lambda md: md + "\n---\n> " + md.replace("\n", "\n> "), id="quoted-again-in-a-reply"),
])
def test_copies_of_the_markdown_read_back(copy: Any, report: tuple[str, list[dict[str, Any]]], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    markdown, findings = report
    pasted = tmp_path / "copy.md"
    pasted.write_bytes(copy(markdown).encode())
    assert run_json(capsys, "--from", str(pasted))["findings"] == findings


def test_a_pasted_json_document_reads_back_quoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = FIXTURES / "collect_env" / "21_geforce210-win7-torch120-cu100-driver342.txt"
    assert main(["check", "--from", str(case), "--json"]) == 1
    pretty = capsys.readouterr().out  # `check --json`, indented, pasted by hand into an issue and quoted in a reply
    pasted = tmp_path / "reply.md"
    pasted.write_text("".join(f"> > {line}\n" for line in f"Here:\n```json\n{pretty}```\n".splitlines()))
    assert judged(run_json(capsys, "--from", str(pasted))) == judged(json.loads(pretty))


def test_utf16_markdown_reads_back(report: tuple[str, list[dict[str, Any]]], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    markdown, findings = report  # PowerShell's `>` writes UTF-16
    pasted = tmp_path / "copy.md"
    pasted.write_bytes(markdown.encode("utf-16"))
    assert run_json(capsys, "--from", str(pasted))["findings"] == findings


def _without_document(markdown: str) -> str:
    return markdown[:markdown.index("<details>\n<summary>envdoctor check document")]


def _cut(markdown: str) -> str:
    """The report with its document's line cut in half, as a length limit would."""
    lines = markdown.splitlines()
    start = lines.index("```json") + 1
    return "\n".join([*lines[:start], lines[start][:len(lines[start]) // 2], *lines[start + 1:]])


def _two(markdown: str) -> str:
    other = json.dumps(dict(embedded(markdown), envdoctor_version="0.0.9"), separators=(",", ":"))
    return f"{markdown}\n```json\n{other}\n```\n"


@pytest.mark.parametrize(("text", "message"), [
    pytest.param(lambda md: "## Bug\n\nMy model crashes.\n\n```\nRuntimeError: CUDA error\n```\n",
                 "is Markdown with no envdoctor check document", id="hand-written"),
    pytest.param(_without_document, "is Markdown with no envdoctor check document", id="document-left-out"),
    pytest.param(_cut, "its envdoctor check document is damaged: cut short", id="document-cut"),
    pytest.param(_two, "holds 2 different envdoctor check documents", id="two-documents"),
])
def test_markdown_without_a_document_is_one_line(text: Any, message: str, report: tuple[str, list[Any]],
                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pasted = tmp_path / "issue.md"
    pasted.write_text(text(report[0]))
    assert main(["check", "--from", str(pasted)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_markdown_cut_at_every_line(report: tuple[str, list[dict[str, Any]]], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A paste cut anywhere is read whole or refused in one line: never half-read into other findings."""
    markdown, findings = report
    lines = markdown.splitlines(keepends=True)
    pasted = tmp_path / "cut.md"
    for cut in range(1, len(lines)):
        pasted.write_text("".join(lines[:cut]))
        code = main(["check", "--from", str(pasted), "--json"])
        out, err = capsys.readouterr()
        if code == 2:
            assert err.count("\n") == 1 and "Traceback" not in err
        else:
            assert json.loads(out)["findings"] == findings, f"cut at line {cut}"


def test_markdown_and_json_together_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--no-import", "--json", "--markdown"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--json and --markdown" in err


def test_past_githubs_limit_the_tables_go_and_the_document_stays(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    facts = sample_facts()
    full = check_markdown(facts, Diagnosis((), (), "2026-12-01"), check_document(facts))
    short = check_markdown(facts, Diagnosis((), (), "2026-12-01"), check_document(facts), limit=len(full) - 1)
    assert tables(full) and not tables(short) and "facts tables are left out" in short
    assert embedded(short) == embedded(full)
    saved = tmp_path / "facts.json"
    saved.write_text(dumps(check_document(facts)))
    pasted = tmp_path / "issue.md"
    pasted.write_text(short)
    assert judged(run_json(capsys, "--from", str(pasted))) == judged(run_json(capsys, "--from", str(saved)))


def test_a_report_too_long_even_without_tables_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = sample_facts()
    traceback = "".join(f'  File "/site-packages/torch/_{n}.py", line {n}, in <module>\n' for n in range(1500))
    facts = replace(facts, torch=replace(facts.torch, status="import_failed", error=traceback))
    saved = tmp_path / "facts.json"
    saved.write_text(dumps(check_document(facts)))
    assert main(["check", "--from", str(saved), "--markdown"]) == 1  # torch does not import: an error
    markdown, err = capsys.readouterr()
    assert len(markdown) > 65_536 and not tables(markdown)
    assert [line for line in err.splitlines() if "warning" in line] == [
        f"envdoctor: warning: this report is {len(markdown):,} characters, more than GitHub's 65,536 for an issue "
        "body: attach it as a file instead"]
    pasted = tmp_path / "issue.md"
    pasted.write_text(markdown)
    assert judged(run_json(capsys, "--from", str(pasted))) == judged(run_json(capsys, "--from", str(saved)))
