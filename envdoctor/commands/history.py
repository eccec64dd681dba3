"""`envdoctor history RESULTS.json…`: one machine's runs over time, with change points and environment changes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from envdoctor.commands import plot_path
from envdoctor.commands.gating import load, write_reports
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError
from envdoctor.outputs import prepared
from envdoctor.plain import to_plain
from envdoctor.render.console import WIDE_PIPE_WIDTH, make_console
from envdoctor.render.history import history_markdown, plot_history, render_history
from envdoctor.render.json_doc import dumps
from envdoctor.results.compare import DEFAULT_GATE, parse_gate
from envdoctor.results.history import history


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "history", help="one metric per cell across many saved runs, with change points and environment changes",
        description="Read results documents (a CI job's saved artefacts, oldest first) and show one metric per "
                    "cell across them. A change point is where the gate, comparing a run with the cell's previous "
                    "run under the same noise rules as compare, says regressed or improved; environment changes "
                    "(torch, driver, GPUs) are annotated where they happen.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", metavar="RESULTS_JSON", help="results documents, oldest first")
    parser.add_argument("--gate", default=DEFAULT_GATE, metavar="METRIC:PERCENT",
                        help=f"the metric to show and the change to mark (default {DEFAULT_GATE})")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write the table as Markdown (also appended "
                        "to $GITHUB_STEP_SUMMARY when that is set)")
    parser.add_argument("--plot", type=plot_path, metavar="FILE", help="draw the metric across runs (.png or .svg)")
    parser.add_argument("--json", action="store_true", help="print the history as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        gate = parse_gate(args.gate)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if len(args.results) < 2:
        raise UsageError("history needs at least two results documents, oldest first")
    with prepared([("--markdown", args.markdown), ("--plot", args.plot)]) as outputs:
        result = history([load(path) for path in args.results], gate)
        if args.json:
            sys.stdout.write(dumps({"schema": "envdoctor.history", "schema_version": 1, **to_plain(result)}))
        else:
            render_history(make_console(pipe_width=WIDE_PIPE_WIDTH), result)
        written = write_reports(outputs, history_markdown(result),
                                lambda image_format: plot_history(result, image_format))
    return ExitCode.OK if written else ExitCode.OUTPUT
