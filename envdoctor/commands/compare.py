"""`envdoctor compare BASELINE CURRENT`: the noise-aware regression gate for CI."""

from __future__ import annotations

import argparse
from typing import Any

from envdoctor.commands.gating import add_gate_arguments, gates_from, judge, load, report, report_outputs
from envdoctor.exitcodes import EXIT_CODES_HELP
from envdoctor.outputs import prepared


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "compare", help="compare a bench run against a baseline and fail on a regression",
        description="Compare two bench results documents cell by cell: each metric's ratio with a bootstrap "
                    "confidence interval from both runs' raw step times, and a verdict (regressed, improved, "
                    "unchanged, or inconclusive when the interval straddles the threshold).",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", metavar="BASELINE")
    parser.add_argument("current", metavar="CURRENT")
    add_gate_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    gates_from(args)  # a bad gate is reported before any file is read
    with prepared(report_outputs(args)) as outputs:
        comparison = judge(load(args.baseline), load(args.current), args)
        return report(comparison, args, args.baseline, args.current, outputs)
