"""Shared test helpers: recorded fixtures and a fake host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Union

from envdoctor.probe.host import CommandResult, Host

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_text(relative: str) -> str:
    return (FIXTURES / relative).read_text(encoding="utf-8")


Answer = Union[str, CommandResult]


class FakeCommands:
    """A command runner answering from recorded outputs, keyed by (program name, *args); records every call."""

    def __init__(self, answers: Mapping[tuple[str, ...], Answer]) -> None:
        self.answers = dict(answers)
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        key = (Path(argv[0]).name, *argv[1:])
        self.calls.append(key)
        answer = self.answers.get(key)
        if answer is None:
            return CommandResult(tuple(argv), None, "", "", "not found")
        if isinstance(answer, CommandResult):
            return answer
        return CommandResult(tuple(argv), 0, answer, "")


def make_host(root: Path, answers: Mapping[tuple[str, ...], Answer] = (), env: Mapping[str, str] = (),
              system: str = "Linux", files: Mapping[str, str] = (), executables: Sequence[str] = ()) -> Host:
    """A host whose file system is `root` with `files` written in, and whose commands answer from `answers`."""
    for path, text in dict(files).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for path in executables:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("#!/bin/sh\n", encoding="utf-8")
        target.chmod(0o755)
    return Host(run=FakeCommands(answers), root=root, env=dict(env), system=system)
