"""`envdoctor check`: probe this machine and report every fact, with where it came from."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

from envdoctor.check import CheckOptions, run_check
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError
from envdoctor.probe.nvidia import DRIVER_OVERRIDE_VAR
from envdoctor.probe.torch_runtime import DEFAULT_TIMEOUT_S
from envdoctor.render.console import make_console, status
from envdoctor.render.facts_text import render_facts
from envdoctor.render.json_doc import check_document, dumps


def positive_seconds(text: str) -> float:
    """argparse type for a timeout."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="probe this machine's Python, OS, CPU, GPUs, driver, CUDA and torch",
        description="Probe this machine: OS, Python, CPU, NVIDIA driver and GPUs, other accelerators, the installed "
                    "torch family (without importing it), torch at run time (in a child process), and a local "
                    f"CUDA toolkit. {DRIVER_OVERRIDE_VAR} overrides the detected driver version.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print a versioned JSON document instead of the report")
    parser.add_argument("--no-import", action="store_true",
                        help="do not import torch in a child process (fast; torch's run-time facts are skipped)")
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"how long the torch import may take (default {DEFAULT_TIMEOUT_S:g})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    override = os.environ.get(DRIVER_OVERRIDE_VAR, "").strip()
    if override and not re.fullmatch(r"\d+(\.\d+){0,2}", override):
        raise UsageError(f"{DRIVER_OVERRIDE_VAR}={override!r} is not a driver version like 550.54.14")
    options = CheckOptions(import_torch=not args.no_import, torch_timeout_s=args.timeout)
    with status("Probing this machine…"):
        facts = run_check(options)
    if args.json:
        sys.stdout.write(dumps(check_document(facts)))
    else:
        render_facts(make_console(), facts)
    return ExitCode.OK
