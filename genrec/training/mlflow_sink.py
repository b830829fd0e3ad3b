"""Log metric records into an existing MLflow run (global rank 0 only).

Ranks never start runs: the parent process (the pipeline flow) creates the run and
passes its id down. MLflow metric names may not contain "@", so `hr@10` is logged
as `hr_at_10` (`eval/ndcg@10` -> `eval/ndcg_at_10`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

NON_METRIC_KEYS = frozenset({"step"})


def mlflow_metric_key(key: str) -> str:
    """The MLflow name of a genrec metric key (`test/hr@10` -> `test/hr_at_10`)."""
    return key.replace("@", "_at_")


class MlflowSink:
    """Send each metrics record to one run with an explicit step."""

    def __init__(self, tracking_uri: str | None, run_id: str) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.run_id = run_id

    def log(self, record: Mapping[str, float | int]) -> None:
        from mlflow.entities import Metric

        step = int(record["step"])
        timestamp_ms = int(time.time() * 1000)
        metrics = [
            Metric(mlflow_metric_key(key), float(value), timestamp_ms, step)
            for key, value in record.items()
            if key not in NON_METRIC_KEYS
        ]
        self.client.log_batch(self.run_id, metrics=metrics)
