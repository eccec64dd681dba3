"""`envdoctor bench`: train the reference workloads on every device and report how fast, in each mode."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from envdoctor.bench.config import AMP_DTYPES, COMPILE_MODES, PRESETS, WORKLOADS, BenchConfig, ConfigError
from envdoctor.bench.devices import bench_devices, select
from envdoctor.bench.fingerprint import fingerprint, git_commit, topology
from envdoctor.bench.plan import plan_cells, plan_document
from envdoctor.bench.runner import BenchRun
from envdoctor.check import CheckOptions, run_check
from envdoctor.commands import check_driver_override
from envdoctor.commands.gating import add_gate_arguments, gates_from, judge, load, report, report_outputs
from envdoctor.diagnose.variables import launch_blocking
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError
from envdoctor.facts import Facts
from envdoctor.importers import ReportError, read_check_document
from envdoctor.knowledge import knowledge
from envdoctor.lifetime import describe, exit_code
from envdoctor.outputs import Output, fallback_write, prepared
from envdoctor.plain import to_plain
from envdoctor.render.bench_plan import render_plan
from envdoctor.render.bench_table import bench_progress, render_bench, render_noise, render_sweeps
from envdoctor.render.console import WIDE_PIPE_WIDTH, make_console, status
from envdoctor.render.json_doc import dumps
from envdoctor.results.load import BenchResults
from envdoctor.results.model import CellResult, SweepResult, bench_document
from envdoctor.results.noise import machine_noise
from envdoctor.results.pytest_benchmark import export

GATED_ROUNDS = 3  # a gated run's default rounds: the fewest that show between-process noise


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "bench",
        help="train reference workloads (MLP, CNN, transformer) and measure throughput, memory and MFU",
        description="Train the reference workloads on synthetic data, each workload x mode x device in its own "
                    "child process, and report throughput, step-time spread, peak memory, compile time, "
                    "achieved FLOP/s and MFU. Eager always runs; --compile and --amp add modes.",
        epilog=EXIT_CODES_HELP + "\n  (bench: a failed cell is recorded in the results; it does not fail the run)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workload", type=_list, default=list(WORKLOADS), metavar="LIST",
                        help=f"comma-separated, from {','.join(WORKLOADS)} (default: all)")
    parser.add_argument("--device", type=_list, default=None, metavar="LIST",
                        help="cpu, cuda (every GPU), cuda:N, mps; comma-separated (default: every available device)")
    parser.add_argument("--preset", choices=PRESETS, help="sizes (default: reference on a GPU, tiny elsewhere)")
    parser.add_argument("--compile", action="store_true", help="add torch.compile cells")
    parser.add_argument("--compile-mode", choices=COMPILE_MODES, default="default")
    parser.add_argument("--amp", action="store_true", help="add autocast cells (and compile+AMP with --compile)")
    parser.add_argument("--amp-dtype", choices=AMP_DTYPES, help="default: bfloat16 where supported, else float16")
    parser.add_argument("--repeat", type=int, metavar="N",
                        help=f"rounds of every cell, each in a fresh process, interleaved (default 1; "
                             f"{GATED_ROUNDS} with --baseline or --save-baseline, so that the gate sees this machine's "
                             "run-to-run noise)")
    parser.add_argument("--noise", type=int, metavar="N",
                        help="measure this machine's run-to-run noise: every cell N times (at least 3), each in a "
                             "fresh process, and report the smallest gate it can hold (run once per runner type)")
    parser.add_argument("--min-time", type=float, default=1.0, metavar="SECONDS",
                        help="least measured time per cell and round (default 1)")
    parser.add_argument("--warmup", type=int, default=3, metavar="STEPS", help="warm-up steps (default 3)")
    parser.add_argument("--timeout", type=float, default=900.0, metavar="SECONDS", help="per cell (default 900)")
    parser.add_argument("--auto-batch", action="store_true", help="on out-of-memory, halve the batch and retry")
    parser.add_argument("--ddp", action="store_true",
                        help="add DistributedDataParallel cells (torchrun: one process per GPU, or --nproc on the "
                             "CPU) and an all-reduce sweep")
    parser.add_argument("--nproc", type=int, default=2, metavar="N", help="DDP processes on the CPU (default 2)")
    parser.add_argument("--nnodes", type=int, default=1, metavar="N", help="DDP: nodes taking part (default 1)")
    parser.add_argument("--node-rank", type=int, default=0, metavar="R", help="DDP: this node's rank (default 0)")
    parser.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="DDP across nodes: torchrun's rendezvous")
    parser.add_argument("--output", type=Path, metavar="FILE",
                        help="write the results document here, after every finished cell")
    parser.add_argument("--json", action="store_true", help="print the results document instead of the table")
    parser.add_argument("--baseline", metavar="FILE",
                        help="compare with this results document and exit 4 on a regression (tripped cells are "
                             "run once more before the verdict)")
    parser.add_argument("--save-baseline", type=Path, metavar="FILE", help="write the results here as a baseline")
    parser.add_argument("--export-pytest-benchmark", type=Path, metavar="FILE",
                        help="also write the run in pytest-benchmark's JSON layout")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (per cell: device, sizes, batch, AMP dtype and why, estimated memory, "
                             "the peak MFU uses, DDP devices) and run nothing")
    parser.add_argument("--from", dest="from_file", metavar="CHECK_JSON",
                        help="with --dry-run: plan for the machine a saved `envdoctor check --json` describes")
    add_gate_arguments(parser)
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    try:
        return BenchConfig(workloads=tuple(args.workload), devices=tuple(args.device) if args.device else None,
                           preset=args.preset, compile=args.compile, amp=args.amp, compile_mode=args.compile_mode,
                           amp_dtype=args.amp_dtype, min_time_s=args.min_time,
                           repeat=args.noise or args.repeat or (GATED_ROUNDS if args.baseline or args.save_baseline
                                                                else 1),
                           warmup_steps=args.warmup, timeout_s=args.timeout, auto_batch=args.auto_batch,
                           ddp=args.ddp, nproc=args.nproc, nnodes=args.nnodes, node_rank=args.node_rank,
                           rdzv_endpoint=args.rdzv_endpoint)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _facts(args: argparse.Namespace) -> Facts:
    """This machine's facts, or those of the saved check document --from names."""
    if args.from_file is None:
        with status("Probing this machine…"):
            return run_check(CheckOptions())
    try:
        return read_check_document(args.from_file)
    except ReportError as exc:
        raise UsageError(str(exc)) from None


def _refuse_impossible(args: argparse.Namespace) -> None:
    if args.from_file is not None and not args.dry_run:
        raise UsageError("--from needs --dry-run: bench runs on this machine, and plans for the one a file describes")
    if args.dry_run:
        given = [flag for flag, value in (("--output", args.output), ("--baseline", args.baseline),
                                          ("--save-baseline", args.save_baseline),
                                          ("--export-pytest-benchmark", args.export_pytest_benchmark),
                                          ("--markdown", args.markdown), ("--plot", args.plot)) if value]
        if given:
            raise UsageError(f"--dry-run runs nothing, so {', '.join(given)} would have nothing to write or compare")
    if args.baseline is None and (args.markdown or args.plot):
        raise UsageError("--markdown and --plot report a comparison, so they need --baseline")
    if args.noise is not None:
        if args.noise < 3:
            raise UsageError(f"--noise {args.noise}: at least 3 rounds are needed to see run-to-run noise")
        clashing = [flag for flag, value in (("--repeat", args.repeat), ("--baseline", args.baseline),
                                             ("--save-baseline", args.save_baseline)) if value]
        if clashing:
            raise UsageError(f"--noise measures the machine, so it takes no {', '.join(clashing)}")


def _outputs(args: argparse.Namespace) -> list[tuple[str, Optional[Path]]]:
    return [("--output", args.output), ("--save-baseline", args.save_baseline),
            ("--export-pytest-benchmark", args.export_pytest_benchmark), *report_outputs(args)]


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    _refuse_impossible(args)
    check_driver_override()
    baseline = load(args.baseline) if args.baseline else None  # an unusable baseline fails before any work
    if baseline is not None:
        gates_from(args)
    with prepared(_outputs(args)) as outputs:  # so does an output that cannot be written
        return _run(args, config, baseline, outputs)


def _run(args: argparse.Namespace, config: BenchConfig, baseline: Optional[BenchResults],
         outputs: Mapping[str, Output]) -> int:
    facts = _facts(args)
    where = f"the machine in {args.from_file}" if args.from_file else "this machine"
    if facts.torch.status != "ok":
        raise UsageError(f"bench needs a torch that imports, and on {where} it does not ({facts.torch.status}); "
                         "see `envdoctor check" + (f" --from {args.from_file}`" if args.from_file else "`"))
    if not args.from_file and launch_blocking(facts.system.environment):
        print("envdoctor: warning: CUDA_LAUNCH_BLOCKING=1 makes every CUDA kernel launch wait for the kernel to "
              "finish: GPU figures from this run are not representative (unset it to benchmark)", file=sys.stderr)
    try:
        devices = select(config.devices, bench_devices(facts, knowledge()))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    inherited = None if args.from_file else os.environ.get("CUDA_VISIBLE_DEVICES")
    plans = plan_cells(config, devices, inherited)
    if args.dry_run:
        if args.json:
            sys.stdout.write(dumps(plan_document(devices, plans, where)))
        else:
            render_plan(make_console(pipe_width=WIDE_PIPE_WIDTH), devices, plans, where, config.amp_dtype)
        return ExitCode.OK
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    machine = fingerprint(facts, devices, git_commit())
    bench = BenchRun(config, plans, topology(devices))
    config_plain = {**dataclasses.asdict(config), "devices": [d.name for d in devices],
                    "presets": {d.name: config.preset_for(d.kind) for d in devices},
                    "batches": {p.key: p.batch for p in plans}}
    results = ResultsFiles(outputs)

    def document(complete: bool, interrupted: bool) -> dict[str, Any]:
        doc = bench_document(bench.cells, config_plain, machine, created, complete, interrupted, bench.sweeps)
        if args.noise:
            noises, gate = machine_noise(bench.cells)
            doc["noise"] = {"cells": [to_plain(n) for n in noises], "gate": gate}
        return doc

    stop: Optional[KeyboardInterrupt] = None
    with bench_progress(bench.total) as advance:
        try:
            bench.run(on_start=lambda i, n, label: advance(i, label),
                      on_cell=lambda cells: results.save("--output", dumps(document(False, False))))
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: keep what finished
            stop = exc
    final = document(stop is None, stop is not None)
    results.save("--output", dumps(final))
    _report(args, bench.cells, bench.sweeps, final, stop is not None)
    code = int(ExitCode.OK)
    if stop is None:
        results.save("--save-baseline", dumps(final))
        results.save("--export-pytest-benchmark", dumps(export(bench.cells, machine, created)))
        if baseline is not None:
            code = _gate(args, bench, baseline, BenchResults("this run", machine, config_plain, tuple(bench.cells)),
                         results, outputs, document)
    unsaved = results.rescue()
    if stop is not None:
        done = sum(c.status == "ok" for c in bench.cells)
        print(f"envdoctor: {describe(stop)}: {done} finished cell(s) kept"
              + (f" in {args.output}" if args.output and not unsaved else ""), file=sys.stderr)
        return exit_code(stop)
    return int(ExitCode.OUTPUT) if unsaved and code == ExitCode.OK else code


class ResultsFiles:
    """The run's results files. A write that fails (a full disk, a vanished directory) never stops the run: the
    newest document is kept, the write is tried again with the next one, and `rescue` saves whatever is still
    unwritten at the end to a fallback file."""

    def __init__(self, outputs: Mapping[str, Output]) -> None:
        self.outputs = outputs
        self.unwritten: dict[str, tuple[str, str]] = {}  # flag -> (the document, why it could not be written)

    def save(self, flag: str, text: str) -> None:
        output = self.outputs.get(flag)
        if output is None:
            return
        try:
            output.write(text)
        except OSError as exc:
            if flag not in self.unwritten:
                print(f"envdoctor: warning: cannot write {flag} {output.path}: {exc.strerror or exc}; the run goes "
                      "on and its results are kept", file=sys.stderr)
            self.unwritten[flag] = (text, exc.strerror or str(exc))
        else:
            self.unwritten.pop(flag, None)

    def rescue(self) -> bool:
        """Save every still-unwritten document to a fallback file and say where; True if there was any."""
        for flag, (text, why) in self.unwritten.items():
            try:
                where = f"saved to {fallback_write(text, flag.lstrip('-'))} instead"
            except OSError as exc:
                where = f"not saved anywhere ({exc.strerror}), so they are printed above"
                print(text, file=sys.stderr)
            print(f"envdoctor: error: {flag} {self.outputs[flag].path} could not be written ({why}); the results "
                  f"were {where}", file=sys.stderr)
        return bool(self.unwritten)


def _gate(args: argparse.Namespace, bench: BenchRun, baseline: BenchResults, current: BenchResults,
          results: ResultsFiles, outputs: Mapping[str, Output],
          document: Callable[[bool, bool], dict[str, Any]]) -> int:
    """Compare with the baseline; when a gate trips, run the tripped cells once more, then judge again."""
    comparison = judge(baseline, current, args)
    tripped = sorted({c.key for c in comparison.regressions if c.verdict == "regressed"})
    if tripped:
        print(f"envdoctor: {len(tripped)} cell(s) tripped a gate; running them once more before the verdict",
              file=sys.stderr)
        bench.run_again(tripped)
        results.save("--output", dumps(document(True, False)))
        comparison = judge(baseline, current, args)
    # With --json, standard output holds the results document alone; `compare --json` gives the comparison's.
    return report(comparison, args, args.baseline, str(args.output or "this run"), outputs, show=not args.json)


def _report(args: argparse.Namespace, cells: list[CellResult], sweeps: list[SweepResult], document: dict[str, Any],
            interrupted: bool) -> None:
    if args.json:
        sys.stdout.write(dumps(document))
        return
    title = "envdoctor bench" + (" (interrupted: finished cells only)" if interrupted else "")
    console = make_console(pipe_width=WIDE_PIPE_WIDTH)
    render_bench(console, cells, title)
    render_sweeps(console, sweeps)
    if args.noise:
        render_noise(console, *machine_noise(cells))
    if args.output is not None:
        make_console().print(f"results: {args.output}", highlight=False)


