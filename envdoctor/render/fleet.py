"""`envdoctor fleet`: the verdict, the configuration groups, the odd ones out and each bench cell across nodes, as a
terminal report and as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from envdoctor.diagnose.fleet.config import FIELDS, LABELS
from envdoctor.diagnose.fleet.model import CellSpread, FleetReport, Note
from envdoctor.results.robust import OUTLIER_Z

HOSTS_SHOWN = 8  # a group of 500 nodes lists its first few; --json lists them all


def headline(report: FleetReport) -> str:
    nodes = f"{len(report.nodes)} node{'s' if len(report.nodes) != 1 else ''}"
    groups = f"{len(report.groups)} configuration{'s' if len(report.groups) != 1 else ''}"
    odd = report.odd_hosts
    verdict = (f"{len(odd)} odd one{'s' if len(odd) != 1 else ''} out among {nodes} ({', '.join(odd)})" if odd
               else f"no odd one out among {nodes}")
    skipped = f"; {len(report.skipped)} file(s) skipped" if report.skipped else ""
    return f"{verdict}, {groups}{skipped}"


def _hosts(hosts: Sequence[str]) -> str:
    """The first HOSTS_SHOWN, and how many more."""
    shown = ", ".join(hosts[:HOSTS_SHOWN])
    return shown + (f" and {len(hosts) - HOSTS_SHOWN} more" if len(hosts) > HOSTS_SHOWN else "")


def _judged(cell: CellSpread) -> str:
    if cell.not_judged:
        return f"not judged: {cell.not_judged}"
    outliers = [s.host for s in cell.scores if s.z is not None and abs(s.z) > OUTLIER_Z]
    return f"outlier: {', '.join(outliers)}" if outliers else "no outlier"


def grouped_notes(notes: Sequence[Note]) -> list[str]:
    """One line per distinct note, naming where it holds: 500 nodes whose clocks nvidia-smi did not show are one
    line, not 4000."""
    where: dict[str, list[str]] = {}
    for note in notes:
        where.setdefault(note.text, []).append(f"{note.host} {note.subject}" if note.host else note.subject)
    return [f"{text} ({_hosts(places)})" for text, places in where.items()]


def _cell_name(cell: CellSpread) -> str:
    return f"{cell.key} ({cell.dtype or '?'}, batch {cell.batch_size}, {cell.preset})"


def render_fleet(console: Console, report: FleetReport) -> None:
    console.print(Text(headline(report), style="bold green" if report.clean else "bold red"))
    groups = Table(title="Configurations", title_justify="left", title_style="bold", pad_edge=False)
    for header in ("nodes", *(LABELS[f] for f in FIELDS), "hosts"):
        groups.add_column(header, justify="right" if header == "nodes" else "left")
    for group in report.groups:
        groups.add_row(str(len(group.hosts)), *(group.config[f] for f in FIELDS), _hosts(group.hosts))
    console.print(groups)
    if report.oddities:
        odd = Table(title="Odd ones out", title_justify="left", title_style="bold red", pad_edge=False)
        for header in ("host", "check", "where", "why"):
            odd.add_column(header, no_wrap=header != "why")
        for o in report.oddities:
            odd.add_row(o.host, o.check, o.subject, o.detail)
        console.print(odd)
    if report.cells:
        speed = Table(title=f"Throughput across nodes (samples/s; modified z-score, |z| > {OUTLIER_Z} is an outlier)",
                      title_justify="left", title_style="bold", pad_edge=False)
        for header in ("cell", "device", "nodes", "median", "MAD", "verdict"):
            speed.add_column(header, justify="right" if header in ("nodes", "median", "MAD") else "left",
                             no_wrap=header not in ("verdict", "device"))
        for cell in report.cells:
            speed.add_row(_cell_name(cell), cell.device, str(len(cell.scores)), f"{cell.median:,.1f}",
                          f"{cell.mad:,.1f}", _judged(cell))
        console.print(speed)
    for skipped in report.skipped:
        console.print(Text(f"skipped {skipped.path}: {skipped.reason}", style="red"), soft_wrap=True)
    for line in grouped_notes(report.notes):
        console.print(Text(line, style="dim"), soft_wrap=True)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def fleet_markdown(report: FleetReport) -> str:
    lines = [f"## envdoctor fleet: {headline(report)}", "", "### Configurations", "",
             _row(["nodes", *(LABELS[f] for f in FIELDS), "hosts"]), "|---:|" + "---|" * (len(FIELDS) + 1)]
    lines += [_row([str(len(g.hosts)), *(g.config[f] for f in FIELDS), _hosts(g.hosts)]) for g in report.groups]
    if report.oddities:
        lines += ["", "### Odd ones out", "", _row(["host", "check", "where", "why"]), "|---|---|---|---|"]
        lines += [_row([o.host, o.check, o.subject, o.detail]) for o in report.oddities]
    if report.cells:
        lines += ["", "### Throughput across nodes", "",
                  f"samples/s per cell; modified z-score (Iglewicz and Hoaglin), |z| > {OUTLIER_Z} is an outlier.", "",
                  _row(["cell", "device", "nodes", "median", "MAD", "verdict"]), "|---|---|---:|---:|---:|---|"]
        lines += [_row([_cell_name(c), c.device, str(len(c.scores)), f"{c.median:,.1f}", f"{c.mad:,.1f}",
                        _judged(c)]) for c in report.cells]
    if report.skipped:
        lines += ["", "### Skipped files", ""] + [f"- `{s.path}`: {s.reason}" for s in report.skipped]
    if report.notes:
        lines += ["", "<details><summary>Not judged (unknown values, too few peers)</summary>", ""]
        lines += [f"- {line}" for line in grouped_notes(report.notes)]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
