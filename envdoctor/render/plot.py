"""`--plot FILE.png|.svg`: baseline against current throughput per cell, with the confidence interval."""

from __future__ import annotations

import io

from envdoctor.results.compare import Comparison


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed; the message is the one-line hint."""


def plot_comparison(comparison: Comparison, image_format: str) -> bytes:
    """The chart as a PNG or SVG file's bytes (`image_format` "png" or "svg")."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'envdoctor[plot]'") from None
    cells = [c for c in comparison.cells if c.gate.metric == "samples_per_s" and c.ratio is not None]
    if not cells:
        raise PlotUnavailable("--plot: no cell has a throughput in both runs")
    figure, axis = plt.subplots(figsize=(8, 0.45 * len(cells) + 1.5))
    positions = list(range(len(cells)))
    baseline = [c.baseline or 0 for c in cells]
    current = [c.current or 0 for c in cells]
    low = [c.current - c.baseline * c.low if c.low and c.current and c.baseline else 0 for c in cells]
    high = [c.baseline * c.high - c.current if c.high and c.current and c.baseline else 0 for c in cells]
    axis.barh([p + 0.2 for p in positions], baseline, height=0.4, color="#9aa5b1", label="baseline")
    colours = ["#d64545" if c.verdict == "regressed" else "#2f8f4e" if c.verdict == "improved" else "#3e7cb1"
               for c in cells]
    axis.barh([p - 0.2 for p in positions], current, height=0.4, color=colours, label="current",
              xerr=[[max(v, 0) for v in low], [max(v, 0) for v in high]], capsize=3)
    for position, cell in zip(positions, cells):
        if cell.verdict == "regressed":
            axis.annotate("regressed", (cell.current or 0, position - 0.2), xytext=(5, -3),
                          textcoords="offset points", color="#d64545", fontsize=8)
    axis.set_yticks(positions)
    axis.set_yticklabels([c.key for c in cells], fontsize=8)
    axis.set_xlabel("samples/s (current with its 95% interval, from the ratio's bootstrap)")
    axis.invert_yaxis()
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format)
    plt.close(figure)
    return buffer.getvalue()
