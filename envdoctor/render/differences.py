"""Two machines compared, as a terminal report: the verdict, the differences in one table grouped and ranked (the
most likely to break training first), then what could not be compared."""

from __future__ import annotations

from typing import Optional

from rich.console import Console
from rich.table import Table
from rich.text import Text

from envdoctor.diagnose.differences import MATTERS, Group, MachineDiff, Rank

_STYLE = {Rank.BREAKS: "bold red", Rank.HIGH: "red", Rank.MEDIUM: "yellow", Rank.LOW: "", Rank.NOISE: "dim"}


def headline(diff: MachineDiff) -> str:
    """"2 differences that matter (worst: breaks), 5 minor, 3 not comparable"."""
    matters = sum(d.rank >= MATTERS for d in diff.differences)
    minor = len(diff.differences) - matters
    worst = diff.worst()
    if worst is None:
        parts = ["no difference"]
    else:
        parts = [f"{matters} difference{'s' * (matters != 1)} that matter (worst: {worst.label})" if matters
                 else "nothing that matters differs"]
    parts += [f"{minor} minor"] if minor else []
    parts += [f"{len(diff.not_comparable)} not comparable"] if diff.not_comparable else []
    return ", ".join(parts)


def shown(value: Optional[str], group: Group) -> str:
    """A value as the table shows it: absent is "not set" for a variable, "none" elsewhere."""
    if value is not None:
        return value
    return "not set" if group is Group.ENVIRONMENT else "none"


def _table(diff: MachineDiff) -> Table:
    """One table, a section per group under its name, each group's rows the most likely to break training first."""
    table = Table(pad_edge=False)
    table.add_column("rank", no_wrap=True)
    table.add_column("fact", overflow="fold", max_width=32)
    table.add_column("A", overflow="fold", max_width=28)
    table.add_column("B", overflow="fold", max_width=28)
    table.add_column("why it matters", ratio=1)
    for group in Group:
        rows = [d for d in diff.differences if d.group is group]
        if rows:
            table.add_row("", Text(group.value, style="bold"))
        for i, d in enumerate(rows):
            table.add_row(Text(d.rank.label, style=_STYLE[d.rank]), d.fact, shown(d.a, group), shown(d.b, group),
                          d.why, end_section=i == len(rows) - 1)
    return table


def render_diff(console: Console, diff: MachineDiff) -> None:
    console.print(Text(f"A: {diff.a}\nB: {diff.b}"), soft_wrap=True)
    style = "bold red" if diff.matters else "bold green"
    console.print(Text(f"{headline(diff)} (knowledge base valid as of {diff.valid_as_of})", style=style))
    if diff.differences:
        console.print(_table(diff))
    if diff.not_comparable:
        console.print()
        console.print(Text("Not comparable: known on one side only, never counted as a difference", style="bold"))
        for n in diff.not_comparable:
            line = Text(f"  {n.fact}: ", style="cyan")
            line.append(f"unknown on {n.unknown_on} because {n.reason}; {n.known_on}: {shown(n.value, n.group)}")
            console.print(line, soft_wrap=True)  # one line each, however long: the terminal wraps it
