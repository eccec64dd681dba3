"""Exit codes, in one place: the CLI, its --help and the README quote these."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # the command did its work
    FINDINGS = 1  # check: an error finding (or, with --strict, a warning); advise: no release fits; diff: a
    #               difference that matters (rank medium or above); fleet: an odd one out, or a file skipped
    USAGE = 2  # a bad flag, value or input file, an index page update cannot read; nothing was done
    OUTPUT = 3  # an output could not be written (bench: the results went to a fallback file it names)
    REGRESSION = 4  # compare, bench --baseline: a gate found a regression
    INTERRUPTED = 130  # Ctrl-C (SIGINT); SIGHUP gives 129 and SIGTERM 143, 128 + the signal's number


EXIT_CODES_HELP = """\
exit codes:
  0    the command did its work (check: no error finding)
  1    check found an error (with --strict: an error or a warning); advise found no fitting release;
       diff found a difference that matters (ranked medium, high or breaks); fleet found
       an odd one out, or skipped a file
  2    bad usage or input: an unknown flag, an invalid value, an unreadable file,
       results that cannot be compared; update: an index page that cannot be read
       (the previous knowledge overlay is kept)
  3    an output could not be written (full disk, a directory, no permission); bench
       saves its results to a fallback file instead and names it
  4    compare, bench --baseline: a regression beyond a gate's threshold
  129  hung up (SIGHUP)   130  interrupted (Ctrl-C)   143  terminated (SIGTERM)"""


class UsageError(Exception):
    """Bad input from the user: reported as one line and exit code 2, never a traceback."""
