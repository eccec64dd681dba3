"""The `envdoctor` command line: parse, dispatch to one module per subcommand, turn errors into one line."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, Optional

from envdoctor import __version__
from envdoctor.children import end_all
from envdoctor.commands import advise, bench, check, compare, diff, fleet, history, update
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError
from envdoctor.lifetime import describe, exit_code, stop_signals_raise

COMMANDS = (check, advise, diff, bench, compare, history, fleet, update)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so every bad flag is one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="envdoctor",
        description="Is this PyTorch environment right for this hardware, and how do I fix it?",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"envdoctor {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"envdoctor: error: {message}", file=sys.stderr)
    return int(code)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    with stop_signals_raise():
        try:
            args = parser.parse_args(argv)
            if not hasattr(args, "run"):
                raise UsageError("a command is required, e.g. 'envdoctor check' (see 'envdoctor --help')")
            code = int(args.run(args))
            sys.stdout.flush()  # a full disk or closed pipe is found here, not by the interpreter on its way out
            return code
        except UsageError as exc:
            return _fail(str(exc), ExitCode.USAGE)
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP
            return _fail(describe(exc), exit_code(exc))
        except BrokenPipeError:  # `envdoctor check | head`: the reader left, which is not an error
            _silence_stdout()
            return int(ExitCode.OK)
        except OSError as exc:  # writing the output failed: standard output on a full disk, a results file
            _silence_stdout()
            return _fail(f"cannot write the output: {exc.strerror or exc}"
                         + (f": {exc.filename}" if exc.filename else ""), ExitCode.OUTPUT)
        finally:
            end_all()


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush does not fail a second time."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
