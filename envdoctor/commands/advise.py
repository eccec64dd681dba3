"""`envdoctor advise`: the install plan for a machine described on the command line rather than probed."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, Optional

from envdoctor.commands import print_freshness, require_release
from envdoctor.diagnose.advice import plan_install
from envdoctor.diagnose.machine import Machine
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError
from envdoctor.knowledge import Capability, Knowledge, knowledge
from envdoctor.render.console import make_console
from envdoctor.render.findings_text import render_advice
from envdoctor.render.json_doc import ADVICE_SCHEMA, advice_plain, dumps

DEFAULT_ARCH = {"linux": "x86_64", "windows": "x86_64", "macos": "arm64"}


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "advise",
        help="the torch install plan for a described machine (image builds, fleet planning)",
        description="Which torch, which wheel variant and index URL, and the exact pip and uv commands, for a "
                    "machine described by its driver, GPUs, Python and OS. Nothing is probed or installed.",
        epilog="example: envdoctor advise --driver 470.82.01 --gpu 6.1 --python 3.10 --os linux --torch 2.4\n\n"
               + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--driver", metavar="VERSION", help="NVIDIA driver version, e.g. 550.54.14 (omit for none)")
    parser.add_argument("--gpu", action="append", default=[], metavar="GPU",
                        help="compute capability (8.6) or model name (\"GeForce GTX 1080\"); repeat for several")
    parser.add_argument("--python", required=True, metavar="X.Y", help="Python version, e.g. 3.11")
    parser.add_argument("--os", required=True, choices=("linux", "windows", "macos"))
    parser.add_argument("--arch", choices=("x86_64", "aarch64", "arm64"), help="default: x86_64, arm64 on macOS")
    parser.add_argument("--glibc", metavar="X.Y", help="the Linux system's glibc, e.g. 2.31")
    parser.add_argument("--torch", metavar="RELEASE", help="plan for this release (2.4) instead of the newest")
    parser.add_argument("--json", action="store_true", help="print a JSON document")
    parser.set_defaults(run=run)


def _version(flag: str, value: Optional[str], pattern: str, example: str) -> Optional[str]:
    if value is not None and not re.fullmatch(pattern, value):
        raise UsageError(f"{flag} {value!r} is not a version like {example}")
    return value


def parse_gpu(value: str, kb: Knowledge) -> tuple[str, Capability]:
    """A GPU given by compute capability ("8.6") or by model name, as (name, capability)."""
    match = re.fullmatch(r"(\d{1,2})\.(\d)", value.strip())
    if match:
        capability = (int(match.group(1)), int(match.group(2)))
        error = kb.capability_error(capability)
        if error is not None:
            raise UsageError(f"--gpu {value!r}: {error}")
        return f"compute capability {value}", capability
    model = kb.gpu_capability(value)
    if model is None:
        raise UsageError(f"--gpu {value!r}: neither a compute capability like 8.6 nor a GPU model the knowledge "
                         "base knows")
    return model.name, model.capability


def machine_from_args(args: argparse.Namespace, kb: Knowledge) -> Machine:
    driver = _version("--driver", args.driver, r"\d+(\.\d+){0,2}", "550.54.14")
    python = _version("--python", args.python, r"3\.\d+", "3.11")
    glibc = _version("--glibc", args.glibc, r"\d+\.\d+", "2.31")
    gpus = [parse_gpu(g, kb) for g in args.gpu]
    if gpus and driver is None:
        raise UsageError("--gpu needs --driver: which NVIDIA driver will run these GPUs?")
    if args.os == "macos" and (driver or gpus):
        raise UsageError("--driver and --gpu describe NVIDIA hardware, which macOS builds of torch cannot use")
    return Machine(os=args.os, arch=args.arch or DEFAULT_ARCH[args.os], python=python,
                   driver=driver, gpu_names=tuple(n for n, _ in gpus),
                   capabilities=tuple(c for _, c in gpus), glibc=glibc)


def run(args: argparse.Namespace) -> int:
    kb = knowledge()
    machine = machine_from_args(args, kb)
    require_release(kb, args.torch)
    question = f"torch {args.torch} for this machine" if args.torch else "The newest torch for this machine"
    advice = plan_install(machine, kb, args.torch)
    if args.json:
        sys.stdout.write(dumps({"schema": ADVICE_SCHEMA, "schema_version": 1, "knowledge_valid_as_of": kb.valid_as_of,
                                **advice_plain(question, advice)}))
    else:
        console = make_console()
        render_advice(console, question, advice)
        if advice.plan is not None:  # without a plan, render_advice lists these reasons already
            for reason in advice.passed_over:
                console.print(f"  passed over: {reason}", style="dim", markup=False)
    print_freshness(kb, args.torch)
    return ExitCode.OK if advice.plan is not None else ExitCode.FINDINGS
