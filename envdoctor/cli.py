"""The `envdoctor` command line: parse, dispatch to one module per subcommand, turn errors into one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn, Optional

from envdoctor import __version__
from envdoctor.commands import advise, bench, check, compare
from envdoctor.exitcodes import EXIT_CODES_HELP, ExitCode, UsageError

COMMANDS = (check, advise, bench, compare)


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


def _fail(message: str, code: ExitCode) -> int:
    print(f"envdoctor: error: {message}", file=sys.stderr)
    return int(code)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not hasattr(args, "run"):
            raise UsageError("a command is required, e.g. 'envdoctor check' (see 'envdoctor --help')")
        return int(args.run(args))
    except UsageError as exc:
        return _fail(str(exc), ExitCode.USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted", ExitCode.INTERRUPTED)
    except BrokenPipeError:  # `envdoctor check | head`: the reader left, which is not an error
        sys.stderr.close()
        return int(ExitCode.OK)
