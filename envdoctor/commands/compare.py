"""`envdoctor compare BASELINE CURRENT`: the noise-aware regression gate for CI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from envdoctor.commands import plot_path
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError
from envdoctor.outputs import SUMMARY, Output, prepared, write_or_warn
from envdoctor.plain import to_plain
from envdoctor.render.comparison import comparison_markdown, render_comparison
from envdoctor.render.console import WIDE_PIPE_WIDTH, make_console
from envdoctor.render.json_doc import dumps
from envdoctor.render.plot import PlotUnavailable, plot_comparison
from envdoctor.results.compare import DEFAULT_GATE, Comparison, Gate, IncomparableError, compare, parse_gate
from envdoctor.results.load import BenchResults, ResultsError, load_results


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags `compare` and `bench --baseline` share."""
    parser.add_argument("--gate", action="append", metavar="METRIC:PERCENT",
                        help=f"fail when a cell's whole confidence interval is beyond this change; repeatable; "
                             f"metrics samples_per_s (higher is better), peak_memory and compile_s (lower is "
                             f"better); default {DEFAULT_GATE}")
    parser.add_argument("--allow-env-change", action="store_true",
                        help="compare across a different GPU, driver branch, CUDA, cuDNN, torch or preset, naming "
                             "the differences as the change under test")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write a Markdown summary here "
                        "(it is also appended to $GITHUB_STEP_SUMMARY when that is set)")
    parser.add_argument("--plot", type=plot_path, metavar="FILE", help="draw baseline against current (.png or "
                        ".svg; needs the plot extra)")


def report_outputs(args: argparse.Namespace) -> list[tuple[str, Optional[Path]]]:
    """The files a comparison's report writes, for outputs.prepared."""
    return [("--markdown", args.markdown), ("--plot", args.plot)]


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


def gates_from(args: argparse.Namespace) -> list[Gate]:
    try:
        return [parse_gate(text) for text in (args.gate or [DEFAULT_GATE])]
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def judge(baseline: BenchResults, current: BenchResults, args: argparse.Namespace) -> Comparison:
    try:
        return compare(baseline, current, gates_from(args), args.allow_env_change)
    except IncomparableError as exc:
        raise UsageError(str(exc)) from None


def report(comparison: Comparison, args: argparse.Namespace, baseline: str, current: str,
           outputs: Mapping[str, Output], show: bool = True) -> int:
    """Print (unless not `show`), write the Markdown and the chart, and pick the exit code: 4 on a regression,
    else 3 when a file could not be written."""
    if show and args.json:
        sys.stdout.write(dumps({"schema": "envdoctor.compare", "schema_version": 1, "baseline": baseline,
                                "current": current, "regression": bool(comparison.regressions),
                                **to_plain(comparison)}))
    elif show:
        render_comparison(make_console(pipe_width=WIDE_PIPE_WIDTH), comparison)
    markdown = comparison_markdown(comparison, baseline, current)
    written = write_or_warn(outputs.get("--markdown"), markdown)
    written = write_or_warn(outputs.get(SUMMARY), markdown + "\n") and written
    chart = outputs.get("--plot")
    if chart is not None:
        try:
            image = plot_comparison(comparison, chart.path.suffix.lower().lstrip("."))
        except PlotUnavailable as exc:
            print(f"envdoctor: hint: {exc}", file=sys.stderr)
        else:
            written = write_or_warn(chart, image) and written
    if comparison.regressions:
        return ExitCode.REGRESSION
    return ExitCode.OK if written else ExitCode.OUTPUT


def load(path: str) -> BenchResults:
    try:
        return load_results(path)
    except ResultsError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    gates_from(args)  # a bad gate is reported before any file is read
    with prepared(report_outputs(args)) as outputs:
        comparison = judge(load(args.baseline), load(args.current), args)
        return report(comparison, args, args.baseline, args.current, outputs)
