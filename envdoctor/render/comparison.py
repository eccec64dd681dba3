"""A comparison as a terminal table and as Markdown for CI summaries: the verdict first, then what changed."""

from __future__ import annotations

from collections import Counter
from typing import Optional

from rich.console import Console
from rich.table import Table
from rich.text import Text

from envdoctor.results.compare import CellComparison, Comparison

_STYLE = {"regressed": "bold red", "status-regressed": "bold red", "improved": "green", "status-improved": "green",
          "inconclusive": "yellow", "unchanged": ""}


def headline(comparison: Comparison) -> str:
    counts = Counter(c.verdict for c in comparison.cells)
    gates = ", ".join(g.label for g in comparison.gates)
    parts = [f"{counts[v]} {v}" for v in ("regressed", "status-regressed", "improved", "status-improved",
                                         "inconclusive", "unchanged") if counts[v]]
    verdict = "REGRESSION" if comparison.regressions else "no regression"
    return f"{verdict}: {', '.join(parts)} (gates: {gates})"


def format_metric(value: Optional[float], metric: str) -> str:
    if value is None:
        return "-"
    if metric == "peak_memory":
        return f"{value / 1024**2:,.0f} MiB"
    return f"{value:,.2f}" if metric == "compile_s" else f"{value:,.1f}"


def _interval(c: CellComparison) -> str:
    if c.ratio is None:
        return "-"
    if c.low == c.high:
        return f"{c.ratio:.3f}"
    return f"{c.ratio:.3f} [{c.low:.3f}, {c.high:.3f}]"


def render_comparison(console: Console, comparison: Comparison) -> None:
    console.print(Text(headline(comparison), style="bold red" if comparison.regressions else "bold green"))
    table = Table(pad_edge=False)
    for header in ("cell", "gate", "baseline", "current", "ratio [95% CI]", "verdict"):
        table.add_column(header, no_wrap=header != "verdict")
    for c in comparison.cells:
        verdict = Text(c.verdict + (f" ({c.note})" if c.note else ""), style=_STYLE.get(c.verdict, ""))
        table.add_row(c.key, c.gate.label, format_metric(c.baseline, c.gate.metric),
                      format_metric(c.current, c.gate.metric), _interval(c), verdict)
    console.print(table)
    for key in comparison.only_baseline:
        console.print(f"only in the baseline: {key}", highlight=False)
    for key in comparison.only_current:
        console.print(f"only in this run: {key}", highlight=False)
    for difference in comparison.env_differences:
        console.print(f"environment change under test: {difference}", highlight=False)


def comparison_markdown(comparison: Comparison, baseline: str, current: str) -> str:
    lines = [f"## envdoctor: {headline(comparison)}", "", f"Baseline `{baseline}`, current `{current}`.", ""]
    changed = [c for c in comparison.cells if c.verdict != "unchanged"]
    if changed:
        lines += ["| cell | gate | baseline | current | ratio [95% CI] | verdict |", "|---|---|---|---|---|---|"]
        order = {"regressed": 0, "status-regressed": 0, "improved": 1, "status-improved": 1, "inconclusive": 2}
        for c in sorted(changed, key=lambda c: order.get(c.verdict, 3)):
            verdict = c.verdict + (f" ({c.note})" if c.note else "")
            lines.append(f"| `{c.key}` | {c.gate.label} | {format_metric(c.baseline, c.gate.metric)} | "
                         f"{format_metric(c.current, c.gate.metric)} | {_interval(c)} | {verdict} |")
        lines.append("")
    else:
        lines += ["Every gated cell is unchanged.", ""]
    if comparison.only_baseline or comparison.only_current:
        lines += [f"- only in the baseline: `{k}`" for k in comparison.only_baseline]
        lines += [f"- only in this run: `{k}`" for k in comparison.only_current]
        lines.append("")
    if comparison.env_differences:
        lines += ["### Environment differences (the change under test)", ""]
        lines += [f"- {d}" for d in comparison.env_differences]
        lines.append("")
    return "\n".join(lines)
