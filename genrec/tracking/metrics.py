"""Metric records: reading the trainer's metrics.jsonl and logging with steps."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from genrec.training.mlflow_sink import mlflow_metric_key

# MLflow accepts at most 1000 metrics per log_batch call.
_BATCH = 1000

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
) -> None:
    """Log `metrics` into `run_id` at an explicit `step`.

    Names go through the trainer's rule (`test/hr@10` -> `test/hr_at_10`,
    MLflow forbids "@"), so both write the same series.
    """
    timestamp_ms = int(time.time() * 1000)
    entries = [
        Metric(mlflow_metric_key(name), float(value), timestamp_ms, step)
        for name, value in metrics.items()
    ]
    for start in range(0, len(entries), _BATCH):
        client.log_batch(run_id, metrics=entries[start : start + _BATCH])
