"""Train: the DDP trainer in spawned rank processes, bounded in time.

The trainer (`genrec.training.launch.train`) spawns one process per rank and
re-raises the first rank failure with that rank's traceback, so this task
fails with the rank's own error. Only rank 0 logs, into the MLflow run whose
id this task passes down; the ranks never open runs of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient
from prefect import flow, get_run_logger, task

from genrec.paths import genrec_home
from genrec.tracking.metrics import log_records, read_metrics_jsonl
from genrec.tracking.params import run_params
from genrec.tracking.plots import plot_metric_curves
from genrec.tracking.store import tracking_uri
from genrec.training.launch import DEFAULT_TIMEOUT_S as RANK_TIMEOUT_S
from genrec.training.runs import new_run_dir

# Two different bounds. The wall-clock limit stops the whole training task
# (Prefect's task timeout); the rank time-out bounds each wait of one rank for
# the others (rendezvous, collectives), so a hung or dead rank fails the job in
# minutes instead of holding it until the wall-clock limit.
TRAIN_TIMEOUT_S = 6 * 3600.0
CURVES_FILE = "metric_curves.png"
CONFIG_FILE = "config.gin"


def runs_root() -> Path:
    """Return the folder that holds one training folder per MLflow run."""
    return genrec_home() / "runs"


@task(name="train-model")
def train_model(
    data_dir: str,
    run_dir: str,
    gin_files: Sequence[str] = (),
    gin_bindings: Sequence[str] = (),
    world_size: int | None = None,
    rank_timeout_s: float = RANK_TIMEOUT_S,
    mlflow_run_id: str | None = None,
    mlflow_tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Train on `data_dir` into `run_dir`; return the paths the next tasks need.

    The task has no wall-clock limit of its own; callers set one with
    `train_model.with_options(timeout_seconds=...)`.

    Args:
        rank_timeout_s: bound on every wait of a rank for the others.

    Returns:
        `checkpoint_path`, `config_path` (the resolved gin config),
        `operative_config_path` (every parameter, defaults included) and
        `metrics_path` (metrics.jsonl) as strings, and `final_step`.
    """
    from genrec.training.launch import train

    result = train(
        list(gin_files),
        list(gin_bindings),
        data_dir=data_dir,
        run_dir=run_dir,
        world_size=world_size,
        timeout_s=rank_timeout_s,
        mlflow_tracking_uri=mlflow_tracking_uri,
        mlflow_run_id=mlflow_run_id,
    )
    config_path = Path(result.run_dir) / CONFIG_FILE
    if not config_path.exists():
        config_path.write_text(result.resolved_config)
    get_run_logger().info(
        "trained into %s: %s",
        result.checkpoint_path,
        {k: round(v, 4) for k, v in result.metrics.items() if k.startswith("test/")},
    )
    return {
        "checkpoint_path": str(result.checkpoint_path),
        "config_path": str(config_path),
        "operative_config_path": str(result.operative_config_path),
        "metrics_path": str(result.metrics_path),
        "final_step": read_metrics_jsonl(result.metrics_path)[-1]["step"],
    }


@task(name="log-training", retries=2, retry_delay_seconds=5)
def log_training(run_id: str, trained: dict[str, Any]) -> None:
    """Log the full config (as params and files), checkpoint and curve plot.

    Params are every parameter the training's objects received, defaults
    included (the operative config), plus the explicit bindings of objects
    built later than the params were captured. Metric records the trainer
    could not send (MLflow refused a write) are sent now, none twice.
    """
    client = MlflowClient(tracking_uri())
    config_path = Path(trained["config_path"])
    operative_path = Path(trained["operative_config_path"])
    params = run_params(config_path.read_text(), operative_path.read_text())
    _log_params(client, run_id, params)
    client.log_artifact(run_id, str(config_path), "config")
    client.log_artifact(run_id, str(operative_path), "config")
    client.log_artifact(run_id, trained["checkpoint_path"], "checkpoint")
    records = read_metrics_jsonl(trained["metrics_path"])
    log_records(client, run_id, records)
    client.log_artifact(run_id, trained["metrics_path"], "metrics")
    curves = plot_metric_curves(records, config_path.parent / CURVES_FILE)
    client.log_artifact(run_id, str(curves), "plots")


def _log_params(client: MlflowClient, run_id: str, params: dict[str, str]) -> None:
    from mlflow.entities import Param

    entries = [Param(key, value) for key, value in params.items()]
    # MLflow takes at most 100 params per call.
    for start in range(0, len(entries), 100):
        client.log_batch(run_id, params=entries[start : start + 100])


@flow(name="train")
def train(
    data_dir: str,
    gin_config_file: str | None = None,
    gin_bindings: list[str] | None = None,
    world_size: int | None = None,
    run_dir: str | None = None,
    train_timeout_s: float = TRAIN_TIMEOUT_S,
    rank_timeout_s: float = RANK_TIMEOUT_S,
) -> dict[str, Any]:
    """Train on a preprocessed folder on its own (no MLflow run); return paths.

    Args:
        run_dir: a new or empty run folder (default: a fresh one under
            `$GENREC_HOME/runs`, so every run of this flow gets its own).
        train_timeout_s: wall-clock limit of the training task.
        rank_timeout_s: bound on every wait of a rank for the others.
    """
    run_dir = run_dir or str(new_run_dir(runs_root()))
    return train_model.with_options(timeout_seconds=train_timeout_s)(
        data_dir,
        run_dir,
        [gin_config_file] if gin_config_file else [],
        gin_bindings or [],
        world_size,
        rank_timeout_s,
    )
