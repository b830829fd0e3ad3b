"""Metric records: reading the trainer's metrics.jsonl and logging with steps."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from mlflow.tracking import MlflowClient

from genrec.training.mlflow_sink import (
    Point,
    held_metric_steps,
    mlflow_fields,
    mlflow_metric_key,
    send_new_points,
)

Record = Mapping[str, float]


def read_metrics_jsonl(path: str | Path) -> list[dict[str, float]]:
    """Read `{"step": .., "epoch": .., "train/loss": ..}` lines into dicts.

    Raises:
        ValueError: naming the file and line of a line that is not a JSON
            object with an integer "step".
    """
    records = []
    for line_number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{line_number}: not JSON: {error}") from None
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
            raise ValueError(
                f"{path}:{line_number}: expected an object with an integer 'step'"
            )
        records.append(record)
    return records


def metric_series(records: Iterable[Record]) -> dict[str, list[tuple[int, float]]]:
    """Return `{name: [(step, value), ...]}` for every hierarchical metric name."""
    series: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        for name, value in record.items():
            if "/" in name and isinstance(value, int | float):
                series.setdefault(name, []).append((int(record["step"]), float(value)))
    return series


def log_metrics(
    client: MlflowClient, run_id: str, metrics: Mapping[str, float], *, step: int
) -> int:
    """Log `metrics` into `run_id` at an explicit `step`, once.

    Names go through the trainer's rule (`genrec.training.mlflow_sink`:
    `test/hr@10` -> `test/hr_at_10`), so both write the same series; a metric
    the run already holds at `step` (the trainer logged it) is not sent again.

    Returns:
        The number of metrics sent.
    """
    points = [(mlflow_metric_key(name), step, float(v)) for name, v in metrics.items()]
    held = held_metric_steps(client, run_id)
    return send_new_points(client, run_id, points, {}, held)


def log_records(client: MlflowClient, run_id: str, records: Iterable[Record]) -> int:
    """Send the metrics.jsonl records the run is missing (points and tags).

    The trainer's rank 0 logs records as it goes but skips writes MLflow
    refused; this fills such gaps after the training and sends nothing twice.

    Returns:
        The number of metric points sent.
    """
    held = held_metric_steps(client, run_id)
    points: list[Point] = []
    tags: dict[str, str] = {}
    for record in records:
        record_points, record_tags = mlflow_fields(record)
        points += record_points
        tags |= record_tags
    return send_new_points(client, run_id, points, tags, held)
