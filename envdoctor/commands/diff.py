"""`envdoctor diff A B`: what differs between two machines' reports, ranked by how likely it is to break training."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from envdoctor.diagnose.machine_diff import diff_facts
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError
from envdoctor.facts import Facts
from envdoctor.importers import ReportError, read_facts
from envdoctor.knowledge import knowledge
from envdoctor.render.console import WIDE_PIPE_WIDTH, make_console
from envdoctor.render.differences import render_diff
from envdoctor.render.json_doc import diff_document, dumps

SOURCE_HELP = "a `check --json` document or a collect_env report ('-' reads standard input)"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "diff", help="what differs between two machines' reports, ranked by how likely it is to break training",
        description="Compare two machines, each described by a saved `envdoctor check --json` document or a "
                    "`python -m torch.utils.collect_env` report, in any mix: driver and GPUs, torch and its "
                    "companions, the CUDA libraries torch loaded, Python and OS, environment variables, and each "
                    "side's findings. Each difference is ranked from the knowledge base (breaks, high, medium, low, "
                    "noise); a fact one side does not know is listed as not comparable, never as a difference.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", metavar="A", help=SOURCE_HELP)
    parser.add_argument("b", metavar="B", help=SOURCE_HELP)
    parser.add_argument("--json", action="store_true", help="print the comparison as a versioned JSON document")
    parser.set_defaults(run=run)


def _read(path: str) -> Facts:
    try:
        return read_facts(path)
    except ReportError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    if args.a == "-" and args.b == "-":
        raise UsageError("only one of A and B can be read from standard input")
    kb = knowledge()
    diff = diff_facts(_read(args.a), _read(args.b), kb)
    if args.json:
        sys.stdout.write(dumps(diff_document(diff)))
    else:
        render_diff(make_console(pipe_width=WIDE_PIPE_WIDTH), diff)
    return ExitCode.FINDINGS if diff.matters else ExitCode.OK
