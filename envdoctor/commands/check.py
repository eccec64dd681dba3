"""`envdoctor check`: probe this machine, judge it against the knowledge base, and say how to fix it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from envdoctor.check import CheckOptions, run_check
from envdoctor.children import MAX_TIMEOUT_S
from envdoctor.commands import check_driver_override, print_freshness, require_release, seconds
from envdoctor.diagnose.findings import Severity
from envdoctor.diagnose.report import Diagnosis, run_diagnosis
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError
from envdoctor.facts import Facts
from envdoctor.importers import ReportError, read_facts
from envdoctor.knowledge import knowledge
from envdoctor.probe.deep import probe_deep
from envdoctor.probe.interpreter import InterpreterError
from envdoctor.probe.nvidia import DRIVER_OVERRIDE_VAR
from envdoctor.probe.torch_runtime import DEFAULT_TIMEOUT_S
from envdoctor.render.console import make_console, status
from envdoctor.render.json_doc import check_document, dumps
from envdoctor.render.markdown import GITHUB_BODY_LIMIT, check_markdown
from envdoctor.render.report import render_report


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
    parser.add_argument("--markdown", action="store_true",
                        help="print the report as Markdown for a bug report: findings first, the facts as tables "
                             "and the JSON document in collapsed sections (`check --from` reads it back)")
    parser.add_argument("--no-import", action="store_true",
                        help="do not import torch in a child process (fast; torch's run-time facts are skipped)")
    parser.add_argument("--from", dest="from_file", metavar="FILE",
                        help="diagnose a collect_env report or a saved `check --json` document instead of this "
                             "machine ('-' reads standard input)")
    parser.add_argument("--python", metavar="PATH",
                        help="judge another interpreter's environment (a project's .venv/bin/python, a conda env's "
                             "python): its packages and torch are probed in it; nothing of envdoctor is needed there")
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too (for CI)")
    parser.add_argument("--deep", action="store_true",
                        help="also import torchvision and torchaudio, and run a matmul in each dtype, a convolution "
                             "and (2+ GPUs) an NCCL all-reduce on every device, each in its own child process")
    parser.add_argument("--torch", metavar="RELEASE",
                        help="advise on this torch release (e.g. 2.8) instead of the newest")
    parser.add_argument("--timeout", type=seconds(MAX_TIMEOUT_S), default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"how long the torch import may take (default {DEFAULT_TIMEOUT_S:g})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_driver_override()
    kb = knowledge()
    require_release(kb, args.torch)
    if args.json and args.markdown:
        raise UsageError("--json and --markdown are two formats of the same report: choose one")
    if args.deep and (args.no_import or args.from_file):
        raise UsageError("--deep runs torch on this machine, so it cannot be combined with --no-import or --from")
    if args.python and args.from_file:
        raise UsageError("--python probes an interpreter on this machine, and --from reads a file: choose one")
    if args.from_file is not None:
        try:
            facts = read_facts(args.from_file)
        except ReportError as exc:
            raise UsageError(str(exc)) from None
    else:
        options = CheckOptions(import_torch=not args.no_import, torch_timeout_s=args.timeout,
                               import_companions=args.deep, python=args.python)
        with status("Probing this machine…"):
            try:
                facts = run_check(options)
            except InterpreterError as exc:
                raise UsageError(str(exc)) from None
    if args.deep:
        with status("Running computations on every device…"):
            facts = replace(facts, deep=probe_deep(facts.torch, python=facts.system.python.executable))
    diagnosis = run_diagnosis(facts, kb, args.torch)
    if args.json:
        sys.stdout.write(dumps(check_document(facts, diagnosis)))
    elif args.markdown:
        _print_markdown(facts, diagnosis)
    else:
        render_report(make_console(), facts, diagnosis)
    print_freshness(kb, facts.torch.version or next((d.version for d in facts.packages.get("torch")), None))
    return exit_code(diagnosis, args.strict)


def _print_markdown(facts: Facts, diagnosis: Diagnosis) -> None:
    text = check_markdown(facts, diagnosis, check_document(facts, diagnosis))
    sys.stdout.write(text)
    if len(text) > GITHUB_BODY_LIMIT:
        print(f"envdoctor: warning: this report is {len(text):,} characters, more than GitHub's "
              f"{GITHUB_BODY_LIMIT:,} for an issue body: attach it as a file instead", file=sys.stderr)


def exit_code(diagnosis: Diagnosis, strict: bool) -> ExitCode:
    worst = diagnosis.worst()
    failing = Severity.WARNING if strict else Severity.ERROR
    return ExitCode.FINDINGS if worst is not None and worst >= failing else ExitCode.OK
