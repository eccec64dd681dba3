"""`envdoctor fleet FILES|DIR`: many nodes' `check --json` documents and bench results, their configurations grouped
and the odd ones out named."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Union

from envdoctor.diagnose.fleet import judge_fleet, pair
from envdoctor.diagnose.fleet.model import FleetReport, Skipped
from envdoctor.exitcodes import ExitCode, UsageError
from envdoctor.facts import Facts
from envdoctor.facts.report import CHECK_SCHEMA
from envdoctor.importers import ReportError, read_check_document
from envdoctor.outputs import SUMMARY, prepared, write_or_warn
from envdoctor.plain import parse_json, to_plain
from envdoctor.render.console import WIDE_PIPE_WIDTH, make_console
from envdoctor.render.fleet import fleet_markdown, render_fleet
from envdoctor.render.json_doc import dumps
from envdoctor.results.load import BenchResults, ResultsError, load_results
from envdoctor.results.model import BENCH_SCHEMA

FLEET_SCHEMA, FLEET_SCHEMA_VERSION = "envdoctor.fleet", 1
MAX_BYTES = 64 * 1024 * 1024  # a bench results document with every raw step time is a few megabytes at most

EXIT_CODES = """\
exit codes:
  0    no odd one out, and every file was read
  1    a node is an odd one out (software unlike its peers', a GPU throttling, at lower
       clocks, power limit or PCIe width, a throughput outlier, a cell that failed where
       its peers ran it), or a file was skipped (unreadable, not an envdoctor document,
       or a second one of its kind for a host): the report lists it and the rest is judged
  2    bad usage: a path that does not exist, no *.json file, or no file that is an
       envdoctor check or bench document
  3    --markdown FILE could not be written"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "fleet", help="many nodes' check and bench documents: configurations grouped, the odd ones out named",
        description="Read each node's `envdoctor check --json` document and `envdoctor bench --output` results "
                    "(a directory means every *.json in it), pair them by host name, group the nodes by "
                    "configuration and name the odd ones out: a driver, torch, CUDA, cuDNN or NCCL unlike the "
                    "majority of the nodes with the same GPU model; a GPU throttling, or at a lower max clock, power "
                    "limit or PCIe link width than its peers; a node whose throughput in a bench cell is an outlier "
                    "by the modified z-score (median and MAD). See docs/fleet.md.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="FILES|DIR", help="documents, or directories of *.json")
    parser.add_argument("--json", action="store_true", help="print the report as a versioned JSON document")
    parser.add_argument("--markdown", nargs="?", const="-", metavar="FILE",
                        help="the report as Markdown: to standard output, or to FILE (also appended to "
                             "$GITHUB_STEP_SUMMARY when that is set)")
    parser.set_defaults(run=run)


def _files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if p.is_file())
            if not found:
                raise UsageError(f"{path} holds no *.json file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise UsageError(f"{path} is neither a file nor a directory")
        else:
            raise UsageError(f"{path}: no such file or directory")
    return files


def read_document(path: Path) -> Union[Facts, BenchResults]:
    """A check document's facts or a bench results document; ValueError with a one-line reason otherwise."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // 1024**2} MiB: not an envdoctor document")
        document = parse_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError("not a text file") from None
    schema = document.get("schema") if isinstance(document, dict) else None
    try:
        if schema == CHECK_SCHEMA:
            return read_check_document(str(path))
        if schema == BENCH_SCHEMA:
            return load_results(str(path))
    except (ReportError, ResultsError) as exc:
        raise ValueError(str(exc)) from None
    raise ValueError(f"not an envdoctor check or bench document (its \"schema\" is {schema!r})")


def fleet_report(files: list[Path]) -> FleetReport:
    """Read every file, pair the documents into nodes and judge them; unreadable files are skipped and listed."""
    checks: list[Facts] = []
    benches: list[BenchResults] = []
    skipped: list[Skipped] = []
    for path in files:
        try:
            document = read_document(path)
        except ValueError as exc:
            skipped.append(Skipped(str(path), str(exc)))
            continue
        if isinstance(document, Facts):
            checks.append(document)
        else:
            benches.append(document)
    if not checks and not benches:
        raise UsageError(f"none of the {len(files)} files is an envdoctor check or bench document "
                         f"({skipped[0].path}: {skipped[0].reason})")
    nodes, duplicates = pair(checks, benches)
    return judge_fleet(nodes, skipped + duplicates)


def run(args: argparse.Namespace) -> int:
    if args.json and args.markdown == "-":
        raise UsageError("--json and --markdown without a FILE both print to standard output; give --markdown a FILE")
    to_file = Path(args.markdown) if args.markdown not in (None, "-") else None
    with prepared([("--markdown", to_file)]) as outputs:
        report = fleet_report(_files(args.paths))
        for skipped in report.skipped if args.json else ():  # the table and the Markdown list them themselves
            print(f"envdoctor: warning: skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
        markdown = fleet_markdown(report)
        if args.json:
            sys.stdout.write(dumps({"schema": FLEET_SCHEMA, "schema_version": FLEET_SCHEMA_VERSION,
                                    "odd_one_out": bool(report.oddities), "odd_hosts": list(report.odd_hosts),
                                    **to_plain(report)}))
        elif args.markdown == "-":
            sys.stdout.write(markdown)
        else:
            render_fleet(make_console(pipe_width=WIDE_PIPE_WIDTH), report)
        written = write_or_warn(outputs.get("--markdown"), markdown)
        written = write_or_warn(outputs.get(SUMMARY), markdown + "\n") and written
    if not report.clean:
        return ExitCode.FINDINGS
    return ExitCode.OK if written else ExitCode.OUTPUT
