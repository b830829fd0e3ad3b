"""Rank 0 logs metric records into an existing MLflow run, with explicit steps."""

from __future__ import annotations

from genrec.training.mlflow_sink import mlflow_metric_key

from .test_trainer import _fit


def test_metric_keys_are_valid_mlflow_names():
    assert mlflow_metric_key("eval/ndcg@10") == "eval/ndcg_at_10"
    assert mlflow_metric_key("train/loss") == "train/loss"


def test_training_logs_into_the_given_run_without_creating_runs(
    planted_folder, tmp_path
):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("trainer-test")
    run_id = client.create_run(experiment_id).info.run_id

    metrics = _fit(planted_folder, tmp_path / "run", mlflow=(uri, run_id))

    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]
    losses = client.get_metric_history(run_id, "train/loss")
    assert [m.step for m in losses] == [2, 4, 6, 8, 10, 12, 14, 16]
    evals = client.get_metric_history(run_id, "eval/ndcg_at_10")
    assert {m.step for m in evals} == {4, 8, 12, 16}
    final = client.get_run(run_id).data.metrics
    assert final["test/hr_at_10"] == metrics["test/hr@10"]
    assert final["popularity/test/ndcg_at_10"] == metrics["popularity/test/ndcg@10"]
    assert client.get_run(run_id).info.status == "RUNNING"  # the caller ends it
