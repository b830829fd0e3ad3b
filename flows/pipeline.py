"""The whole job: preprocess -> train -> evaluate -> register, one MLflow run.

    fingerprint    raw bytes + SQL + data-layer code + parameters -> cache key
    preprocess     SQL chain into Parquet (cached on the fingerprint); the
                   output's own hash is the dataset champions are compared on
    train          DDP ranks; rank 0 logs into this flow's MLflow run
    log-training   resolved gin config as params, checkpoint, curve plot
    evaluate       full-catalogue test metrics, popularity baseline beside
    register       model version; `champion` moves only if it wins

The MLflow run is opened by this (parent) process before any work and ends
FINISHED, FAILED or KILLED with it; the crash and cancel hooks close it too
when the process itself was killed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.entities import Param
from mlflow.tracking import MlflowClient
from prefect import flow, runtime, task

from flows.evaluate import evaluate_model, log_evaluation
from flows.preprocess import (
    fingerprint_dataset,
    preprocess_parameters,
    preprocessed_data_dir,
)
from flows.register import register_model
from flows.train import (
    RANK_TIMEOUT_S,
    TRAIN_TIMEOUT_S,
    log_training,
    runs_root,
    train_model,
)
from genrec.tracking.fingerprint import dataset_digest
from genrec.tracking.registry import DATASET_HASH_TAG
from genrec.tracking.runs import FAILED, KILLED, end_if_running, tracked_run
from genrec.tracking.store import tracking_uri

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GIN_CONFIG = str(REPO_ROOT / "configs" / "cpu" / "hstu-small.gin")
DEFAULT_EXPERIMENT = "genrec"
FLOW_RUN_TAG = "prefect.flow_run_id"


@dataclass(frozen=True)
class PipelineResult:
    """Where one pipeline run's results are."""

    flow_run_id: str
    flow_run_name: str
    mlflow_run_id: str
    tracking_uri: str
    experiment: str
    data_dir: str
    preprocess_cached: bool
    checkpoint_path: str
    test_metrics: dict[str, float]
    model_name: str
    model_version: str
    champion: bool
    champion_reason: str


def _close_mlflow_run(status: str):
    """Build a flow hook that ends this flow run's MLflow run if still RUNNING."""

    def hook(flow, flow_run, state) -> None:  # noqa: ANN001 (Prefect's signature)
        client = MlflowClient(tracking_uri())
        name = flow_run.parameters.get("experiment", DEFAULT_EXPERIMENT)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            return
        runs = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`{FLOW_RUN_TAG}` = '{flow_run.id}'",
        )
        for run in runs:
            end_if_running(client, run.info.run_id, status, f"flow run {state.name}")

    return hook


@task(name="log-pipeline-params", retries=2, retry_delay_seconds=5)
def log_pipeline_params(run_id: str, params: dict[str, Any]) -> None:
    """Log the pipeline's own parameters as `pipeline/<name>` params."""
    entries = [
        Param(
            f"pipeline/{name}",
            json.dumps(value) if not isinstance(value, str) else value,
        )
        for name, value in params.items()
    ]
    MlflowClient(tracking_uri()).log_batch(run_id, params=entries)


@task(name="log-dataset", retries=2, retry_delay_seconds=5)
def log_dataset(run_id: str, data_dir: str, fingerprint: str, cached: bool) -> str:
    """Tag the run with the dataset's hashes and cache outcome; log stats.json.

    Returns:
        The hash of the preprocessed data (`dataset_hash`).
    """
    client = MlflowClient(tracking_uri())
    dataset_hash = dataset_digest(data_dir)
    client.set_tag(run_id, DATASET_HASH_TAG, dataset_hash)
    client.set_tag(run_id, "preprocess_key", fingerprint)
    client.set_tag(run_id, "preprocess_cached", str(cached).lower())
    client.set_tag(run_id, "data_dir", data_dir)
    client.log_artifact(run_id, str(Path(data_dir) / "stats.json"), "data")
    return dataset_hash


@flow(
    name="genrec-pipeline",
    on_crashed=[_close_mlflow_run(FAILED)],
    on_cancellation=[_close_mlflow_run(KILLED)],
)
def pipeline(
    dataset: str = "synthetic",
    raw_path: str | None = None,
    gin_config_file: str = DEFAULT_GIN_CONFIG,
    gin_bindings: list[str] | None = None,
    world_size: int | None = None,
    filter_mode: str | None = None,
    min_presence: int | None = None,
    dedup: bool | None = None,
    on_bad_rows: str = "error",
    dataset_options: dict[str, Any] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    model_name: str | None = None,
    train_timeout_s: float = TRAIN_TIMEOUT_S,
    rank_timeout_s: float = RANK_TIMEOUT_S,
) -> PipelineResult:
    """Preprocess a dataset, train on it, evaluate, register: one MLflow run.

    Args:
        dataset: a dataset name of `genrec.data.datasets.DATASETS`
            (`synthetic`, `ml-100k`, `ml-1m`, `custom` for your own CSV or
            Parquet, ...).
        raw_path: the raw file or folder; None downloads or generates it.
        gin_config_file: the training config.
        gin_bindings: extra gin bindings, applied after the file.
        world_size: training processes (None: every GPU, or 1 on CPU).
        filter_mode, min_presence, dedup, on_bad_rows, dataset_options:
            preprocessing options (see `genrec preprocess --helpfull`).
        experiment: MLflow experiment of the run.
        model_name: registered model name (default `genrec-<dataset>`).
        train_timeout_s: wall-clock limit of the training task (default 6 h).
        rank_timeout_s: bound on every wait of a training rank for the others
            (rendezvous, collectives; default 600 s): a hung rank fails the
            training after this, not after `train_timeout_s`.
    """
    client = MlflowClient(tracking_uri())
    model_name = model_name or f"genrec-{dataset}"
    parameters = preprocess_parameters(
        dataset,
        filter_mode=filter_mode,
        min_presence=min_presence,
        dedup=dedup,
        on_bad_rows=on_bad_rows,
        options=dataset_options,
    )
    tags = {FLOW_RUN_TAG: str(runtime.flow_run.id), "dataset": dataset}
    with tracked_run(client, experiment, run_name=dataset, tags=tags) as run_id:
        pipeline_params = {
            **parameters,
            "raw_path": raw_path,
            "gin_config_file": gin_config_file,
            "gin_bindings": gin_bindings or [],
            "world_size": world_size,
            "model_name": model_name,
        }
        log_pipeline_params(run_id, pipeline_params)

        fingerprint = fingerprint_dataset(raw_path, parameters)
        data_dir, cached = preprocessed_data_dir(fingerprint, raw_path, parameters)
        dataset_hash = log_dataset(run_id, data_dir, fingerprint, cached)

        trained = train_model.with_options(timeout_seconds=train_timeout_s)(
            data_dir,
            str(runs_root() / run_id),
            [gin_config_file],
            gin_bindings or [],
            world_size,
            rank_timeout_s,
            run_id,
            client.tracking_uri,
        )
        log_training(run_id, trained)

        report_path = evaluate_model(
            trained["checkpoint_path"],
            data_dir,
            str(Path(trained["checkpoint_path"]).parent.parent / "evaluation"),
        )
        metrics = log_evaluation(run_id, report_path, trained["final_step"])

        promotion = register_model(
            run_id,
            trained["checkpoint_path"],
            model_name,
            dataset_hash,
            metrics["test/ndcg@10"],
        )

    return PipelineResult(
        flow_run_id=str(runtime.flow_run.id),
        flow_run_name=str(runtime.flow_run.name),
        mlflow_run_id=run_id,
        tracking_uri=client.tracking_uri,
        experiment=experiment,
        data_dir=data_dir,
        preprocess_cached=cached,
        checkpoint_path=trained["checkpoint_path"],
        test_metrics={k: v for k, v in metrics.items() if "test/" in k},
        model_name=model_name,
        model_version=str(promotion["version"]),
        champion=bool(promotion["promoted"]),
        champion_reason=str(promotion["reason"]),
    )
