"""Log metric records into an existing MLflow run (global rank 0 only).

Ranks never start runs: the parent process (the pipeline flow) creates the run and
passes its id down. This module is the one place where a metrics record (a line of
`metrics.jsonl`) becomes MLflow entries; everything else that logs metrics goes
through `mlflow_fields` and `held_metric_steps`:

- `step` is the x axis of every metric, never a metric itself;
- `epoch` is the metric `train/epoch` (a value per step, in the train namespace);
- `selected_step` (the step whose weights were selected) is the tag
  `selected_step`: one fact about the run, not a series;
- every other key is a metric whose name has "@" replaced by "_at_", because
  MLflow rejects "@" in names: `eval/ndcg@10` -> `eval/ndcg_at_10`.

A metric is sent at most once per (name, step): what the run already holds is
skipped. So a resumed training replaying the steps after its checkpoint, or the
pipeline's evaluation re-reporting the test metrics the trainer already logged,
adds no duplicate points.

MLflow is a side channel for the training: a failed write is logged as a warning
and the records are kept to be sent with a later one; training never stops for it.
`metrics.jsonl` in the run folder holds every record regardless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

logger = logging.getLogger(__name__)

STEP_KEY = "step"
# Record keys renamed into a namespace, and record keys logged as run tags.
RENAMED_KEYS = {"epoch": "train/epoch"}
TAG_KEYS = frozenset({"selected_step"})

# MLflow accepts at most 1000 metrics and 100 tags in one log_batch call.
_METRICS_PER_BATCH = 1000
# After a failed write, records are only buffered for this long before the next
# attempt: a tracking server that is down would otherwise stall every step for
# the duration of MLflow's own HTTP retries.
RETRY_AFTER_S = 60.0

Record = Mapping[str, float | int]
Point = tuple[str, int, float]  # (MLflow metric name, step, value)


def mlflow_metric_key(key: str) -> str:
    """The MLflow name of a genrec metric key (`test/hr@10` -> `test/hr_at_10`)."""
    return RENAMED_KEYS.get(key, key).replace("@", "_at_")


def mlflow_fields(record: Record) -> tuple[list[Point], dict[str, str]]:
    """Split a metrics record into MLflow metric points and run tags.

    Returns:
        `[(name, step, value), ...]` and `{tag: value}`.
    """
    step = int(record[STEP_KEY])
    points: list[Point] = []
    tags: dict[str, str] = {}
    for key, value in record.items():
        if key == STEP_KEY:
            continue
        if key in TAG_KEYS:
            tags[key] = str(int(value)) if float(value).is_integer() else str(value)
        else:
            points.append((mlflow_metric_key(key), step, float(value)))
    return points, tags


def held_metric_steps(client: Any, run_id: str) -> set[tuple[str, int]]:
    """The (metric name, step) pairs `run_id` already holds."""
    held: set[tuple[str, int]] = set()
    for name in client.get_run(run_id).data.metrics:
        held.update((name, m.step) for m in client.get_metric_history(run_id, name))
    return held


def send_new_points(
    client: Any,
    run_id: str,
    points: Iterable[Point],
    tags: Mapping[str, str],
    held: set[tuple[str, int]],
) -> int:
    """Log the points whose (name, step) is not in `held`, then the tags.

    `held` is updated batch by batch as the writes succeed, so a write that
    fails midway can be retried with the same arguments without duplicates.

    Returns:
        The number of points sent.
    """
    from mlflow.entities import Metric, RunTag

    timestamp_ms = int(time.time() * 1000)
    fresh: dict[tuple[str, int], float] = {}
    for name, step, value in points:
        if (name, step) not in held:
            fresh.setdefault((name, step), value)  # first value of a step wins
    entries = [Metric(n, v, timestamp_ms, s) for (n, s), v in fresh.items()]
    for start in range(0, len(entries), _METRICS_PER_BATCH):
        batch = entries[start : start + _METRICS_PER_BATCH]
        client.log_batch(run_id, metrics=batch)
        held.update((m.key, m.step) for m in batch)
    if tags:
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    return len(entries)


class MlflowSink:
    """Send each metrics record to one run with an explicit step, best effort.

    Args:
        tracking_uri: the run's tracking URI (None: MLflow's default).
        run_id: an existing run; the sink never creates or ends one.
        retry_after_s: after a failed write, buffer records this long before
            trying again.
        clock: monotonic seconds (a parameter so tests need not sleep).
    """

    def __init__(
        self,
        tracking_uri: str | None,
        run_id: str,
        *,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.run_id = run_id
        self.retry_after_s = retry_after_s
        self.clock = clock
        self._held: set[tuple[str, int]] | None = None  # read at the first write
        self._points: list[Point] = []
        self._tags: dict[str, str] = {}
        self._next_attempt = float("-inf")

    def log(self, record: Record) -> None:
        """Queue a record and send everything queued, unless backing off."""
        points, tags = mlflow_fields(record)
        self._points.extend(points)
        self._tags.update(tags)
        if self.clock() >= self._next_attempt:
            self._send(int(record[STEP_KEY]))

    def close(self) -> None:
        """Send whatever is still queued (one attempt, even while backing off)."""
        if self._points or self._tags:
            self._send(None)

    def _send(self, step: int | None) -> None:
        try:
            if self._held is None:
                self._held = held_metric_steps(self.client, self.run_id)
            send_new_points(
                self.client, self.run_id, self._points, self._tags, self._held
            )
        except Exception as error:  # noqa: BLE001 (MLflow must not end a training)
            self._next_attempt = self.clock() + self.retry_after_s
            logger.warning(
                "MLflow run %s: could not log %s (%s: %s); training goes on, "
                "%d point(s) kept for the next attempt in %.0f s (metrics.jsonl "
                "has every record)",
                self.run_id,
                "the final records" if step is None else f"step={step}",
                type(error).__name__,
                error,
                len(self._points),
                self.retry_after_s,
            )
            return
        self._points.clear()
        self._tags.clear()
