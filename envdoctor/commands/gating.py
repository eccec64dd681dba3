"""The regression gate as `compare` and `bench --baseline` share it: its flags, loading the runs, judging them,
and reporting the verdict (table or JSON, Markdown, $GITHUB_STEP_SUMMARY, chart) with its exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Optional

from envdoctor.commands import plot_path
from envdoctor.exitcodes import ExitCode, UsageError
from envdoctor.outputs import SUMMARY, Output, write_or_warn
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
    written = write_reports(outputs, comparison_markdown(comparison, baseline, current),
                            lambda image_format: plot_comparison(comparison, image_format))
    if comparison.regressions:
        return ExitCode.REGRESSION
    return ExitCode.OK if written else ExitCode.OUTPUT


def write_reports(outputs: Mapping[str, Output], markdown: str, draw: Callable[[str], bytes]) -> bool:
    """Write the Markdown (to --markdown and $GITHUB_STEP_SUMMARY) and the chart `draw` makes in --plot's format;
    False when any of them could not be written (each failure says so in one line)."""
    written = write_or_warn(outputs.get("--markdown"), markdown)
    written = write_or_warn(outputs.get(SUMMARY), markdown + "\n") and written
    chart = outputs.get("--plot")
    if chart is not None:
        try:
            image = draw(chart.path.suffix.lower().lstrip("."))
        except PlotUnavailable as exc:
            print(f"envdoctor: hint: {exc}", file=sys.stderr)
        else:
            written = write_or_warn(chart, image) and written
    return written


def load(path: str) -> BenchResults:
    try:
        return load_results(path)
    except ResultsError as exc:
        raise UsageError(str(exc)) from None
