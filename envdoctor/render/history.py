"""`envdoctor history`: one metric per cell across runs, as a terminal table, Markdown and a chart."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from envdoctor.render.comparison import format_metric
from envdoctor.render.plot import PlotUnavailable
from envdoctor.results.history import History, Point

_MARK = {"regressed": ("v", "bold red"), "improved": ("^", "green")}


def _cell(point: Point, metric: str) -> Text:
    mark, style = _MARK.get(point.change, ("", ""))
    return Text(f"{format_metric(point.value, metric)}{' ' + mark if mark else ''}", style=style)


def render_history(console: Console, result: History) -> None:
    metric = result.gate.metric
    table = Table(title=f"{metric} across {len(result.runs)} runs, oldest first (v regressed, ^ improved: "
                        f"{result.gate.label} against the cell's previous run)", title_justify="left",
                  title_style="bold", pad_edge=False)
    table.add_column("cell", no_wrap=True)
    for index in range(len(result.runs)):
        table.add_column(f"#{index + 1}", justify="right", no_wrap=True)
    for key, points in result.cells:
        table.add_row(key, *(_cell(p, metric) for p in points))
    console.print(table)
    for index, run in enumerate(result.runs, start=1):
        console.print(Text(f"#{index} {run}", style="dim"), soft_wrap=True)
    for index, changes in result.env_changes:
        console.print(Text(f"environment changed at #{index + 1}: {'; '.join(changes)}", style="yellow"),
                      soft_wrap=True)


def history_markdown(result: History) -> str:
    metric = result.gate.metric
    lines = [f"## envdoctor history: {metric}, {len(result.runs)} runs, {result.gate.label}", "",
             "| cell | " + " | ".join(f"#{i + 1}" for i in range(len(result.runs))) + " |",
             "|---|" + "---:|" * len(result.runs)]
    for key, points in result.cells:
        cells = [format_metric(p.value, metric) + (f" **{p.change}**" if p.change else "") for p in points]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(f"- #{i} `{run}`" for i, run in enumerate(result.runs, start=1))
    lines.extend(f"- environment changed at #{i + 1}: {'; '.join(c)}" for i, c in result.env_changes)
    return "\n".join(lines) + "\n"


def plot_history(result: History, image_format: str) -> bytes:
    """One line per cell across runs, change points marked, environment changes as vertical lines."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'envdoctor[plot]'") from None
    figure, axis = plt.subplots(figsize=(8, 4.5))
    runs = list(range(1, len(result.runs) + 1))
    for key, points in result.cells:
        values = [p.value if p.value is not None else float("nan") for p in points]  # a gap where it did not run
        axis.plot(runs, values, marker="o", label=key)
        for run, point in zip(runs, points):
            if point.change and point.value is not None:
                axis.annotate(point.change, (run, point.value), xytext=(4, 4), textcoords="offset points",
                              color="#d64545" if point.change == "regressed" else "#2f8f4e", fontsize=8)
    for index, _ in result.env_changes:
        axis.axvline(index + 1, color="#9aa5b1", linestyle="--", linewidth=1)
    axis.set_xlabel("run (oldest first; dashed: environment changed)")
    axis.set_ylabel(result.gate.metric)
    axis.set_xticks(runs)
    axis.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format)
    plt.close(figure)
    return buffer.getvalue()

