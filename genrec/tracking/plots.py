"""A PNG of the metric curves of one training run, for the MLflow run page."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window on a headless runner

import matplotlib.pyplot as plt  # noqa: E402

from genrec.tracking.metrics import Record, metric_series  # noqa: E402

_AT_K = re.compile(r"@\d+$")


def plot_metric_curves(records: Iterable[Record], path: str | Path) -> Path:
    """Draw one panel per metric family (`train/loss`, `eval/ndcg`, ...) vs step.

    Metrics that differ only by their cut-off (`eval/hr@10`, `eval/hr@50`)
    share a panel, one line each.

    Args:
        records: metric records with a "step" key, as in metrics.jsonl.
        path: where to write the PNG.

    Returns:
        The path written.

    Raises:
        ValueError: if the records hold no hierarchical metric at all.
    """
    panels: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for name, points in metric_series(records).items():
        panels.setdefault(_AT_K.sub("", name), {})[name] = points
    if not panels:
        raise ValueError("no metrics of the form 'group/name' to plot")

    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.5 * columns, 3.2 * rows), squeeze=False
    )
    for axis, (family, lines) in zip(axes.flat, sorted(panels.items()), strict=False):
        for name, points in sorted(lines.items()):
            steps, values = zip(*sorted(points), strict=True)
            axis.plot(
                steps, values, marker="." if len(steps) < 50 else None, label=name
            )
        axis.set_title(family)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        if len(lines) > 1:
            axis.legend(fontsize="small")
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)

    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
