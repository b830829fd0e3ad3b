"""Rank 0 logs metric records into an existing MLflow run, with explicit steps,
each (metric, step) once, and never lets a failed write end the training."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from genrec.distributed import DistContext
from genrec.training.gin_config import parse_resolved, resolve_config
from genrec.training.mlflow_sink import mlflow_fields, mlflow_metric_key
from genrec.training.runs import RunPaths, read_metrics
from genrec.training.trainer import Trainer, TrainingRun

from .conftest import TINY_CONFIG
from .test_trainer import _fit


@pytest.fixture
def mlflow_run(tmp_path) -> tuple[str, str]:
    """A tracking URI and the id of a RUNNING run in it."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("trainer-test")
    return uri, client.create_run(experiment_id).info.run_id


def _steps(client: MlflowClient, run_id: str, name: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, name))


def test_metric_keys_are_valid_mlflow_names():
    assert mlflow_metric_key("eval/ndcg@10") == "eval/ndcg_at_10"
    assert mlflow_metric_key("train/loss") == "train/loss"
    assert mlflow_metric_key("epoch") == "train/epoch"


def test_step_is_the_x_axis_epoch_a_train_metric_and_selected_step_a_tag():
    points, tags = mlflow_fields(
        {"step": 16, "epoch": 2, "test/hr@10": 0.5, "selected_step": 12.0}
    )

    assert sorted(points) == [("test/hr_at_10", 16, 0.5), ("train/epoch", 16, 2.0)]
    assert tags == {"selected_step": "12"}


def test_training_logs_into_the_given_run_without_creating_runs(
    planted_folder, tmp_path, mlflow_run
):
    uri, run_id = mlflow_run
    client = MlflowClient(uri)
    experiment_id = client.get_run(run_id).info.experiment_id

    metrics = _fit(planted_folder, tmp_path / "run", mlflow=(uri, run_id))

    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]
    losses = client.get_metric_history(run_id, "train/loss")
    assert [m.step for m in losses] == [2, 4, 6, 8, 10, 12, 14, 16]
    evals = client.get_metric_history(run_id, "eval/ndcg_at_10")
    assert {m.step for m in evals} == {4, 8, 12, 16}
    # The final record repeats the selected step's eval metrics at step 16,
    # where the last evaluation already logged them: no second point.
    assert sorted(m.step for m in evals) == [4, 8, 12, 16]
    run = client.get_run(run_id)
    final = run.data.metrics
    assert final["test/hr_at_10"] == metrics["test/hr@10"]
    assert final["popularity/test/ndcg_at_10"] == metrics["popularity/test/ndcg@10"]
    assert _steps(client, run_id, "test/ndcg_at_10") == [16]
    assert final["train/epoch"] == 2
    assert "epoch" not in final and "selected_step" not in final
    assert run.data.tags["selected_step"] == str(int(metrics["selected_step"]))
    assert run.info.status == "RUNNING"  # the caller ends it


def test_resumed_training_does_not_resend_steps_the_run_already_holds(
    planted_folder, tmp_path, mlflow_run
):
    uri, run_id = mlflow_run
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = resolve_config(
        [TINY_CONFIG], ["Trainer.log_every_steps = 1"], num_items=60
    )
    (run_dir / "config.gin").write_text(config)
    paths = RunPaths(
        run_dir=run_dir,
        data_dir=planted_folder,
        config=config,
        resume=False,
        mlflow_tracking_uri=uri,
        mlflow_run_id=run_id,
    )
    ctx = DistContext.single_process()

    # Killed at step 10: last.pt is from the epoch end at step 8, while steps
    # 9 and 10 (and the evaluation at 8) had already reached MLflow.
    parse_resolved(config)
    TrainingRun(Trainer(), ctx, paths).train_steps(until_step=10)
    parse_resolved(config)
    resumed = TrainingRun(Trainer(), ctx, dataclasses.replace(paths, resume=True))
    assert resumed.state.step == 8
    resumed.execute()

    client = MlflowClient(uri)
    assert _steps(client, run_id, "train/loss") == list(range(1, 17))
    assert _steps(client, run_id, "train/epoch") == list(range(1, 17))
    assert _steps(client, run_id, "eval/ndcg_at_10") == [4, 8, 12, 16]
    steps = [r["step"] for r in read_metrics(run_dir / "metrics.jsonl")]
    assert steps == sorted(steps)


def _failing_log_batch(monkeypatch, failures: int | None) -> list[int]:
    """Make the first `failures` log_batch calls raise (None: every call)."""
    original = MlflowClient.log_batch
    calls = [0]

    def log_batch(self, run_id, *args, **kwargs):
        calls[0] += 1
        if failures is None or calls[0] <= failures:
            raise MlflowException("tracking server unreachable")
        return original(self, run_id, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", log_batch)
    return calls


def test_training_survives_an_mlflow_that_refuses_every_write(
    planted_folder, tmp_path, mlflow_run, monkeypatch, caplog
):
    uri, run_id = mlflow_run
    _failing_log_batch(monkeypatch, failures=None)

    with caplog.at_level(logging.WARNING, logger="genrec.training.mlflow_sink"):
        metrics = _fit(planted_folder, tmp_path / "run", mlflow=(uri, run_id))

    assert metrics["test/users"] == 240
    assert (tmp_path / "run" / "results.json").exists()
    assert "tracking server unreachable" in caplog.text
    assert "training goes on" in caplog.text
    assert MlflowClient(uri).get_run(run_id).data.metrics == {}


def test_records_refused_by_a_failing_write_are_sent_later_once(
    planted_folder, tmp_path, mlflow_run, monkeypatch
):
    uri, run_id = mlflow_run
    calls = _failing_log_batch(monkeypatch, failures=1)

    _fit(planted_folder, tmp_path / "run", mlflow=(uri, run_id))

    client = MlflowClient(uri)
    # The first write failed; the sink then backed off instead of trying at
    # every step, and sent everything at the end: metrics, then tags.
    assert calls[0] == 3
    assert _steps(client, run_id, "train/loss") == [2, 4, 6, 8, 10, 12, 14, 16]
    assert _steps(client, run_id, "eval/ndcg_at_10") == [4, 8, 12, 16]
    assert _steps(client, run_id, "test/ndcg_at_10") == [16]
