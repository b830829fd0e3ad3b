import json

import pytest

from genrec.tracking.metrics import (
    log_metrics,
    log_records,
    metric_series,
    read_metrics_jsonl,
)


def test_records_become_series_per_hierarchical_name(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [
        {"step": 10, "epoch": 0, "train/loss": 5.0},
        {"step": 20, "epoch": 1, "train/loss": 4.0, "eval/ndcg@10": 0.1},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    series = metric_series(read_metrics_jsonl(path))

    assert series == {
        "train/loss": [(10, 5.0), (20, 4.0)],
        "eval/ndcg@10": [(20, 0.1)],
    }


def test_bad_line_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "train/loss": 2.0}\n{"train/loss": 1.0}\n')

    with pytest.raises(ValueError, match=r"metrics.jsonl:2: expected an object"):
        read_metrics_jsonl(path)


def _run(client) -> str:
    experiment = client.get_experiment_by_name("metrics")
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment("metrics")
    )
    return client.create_run(experiment_id).info.run_id


def test_a_metric_the_run_holds_at_a_step_is_not_logged_again(mlflow_client):
    run_id = _run(mlflow_client)

    first = log_metrics(mlflow_client, run_id, {"test/hr@10": 0.5}, step=16)
    second = log_metrics(
        mlflow_client, run_id, {"test/hr@10": 0.5, "test/mrr": 0.25}, step=16
    )

    assert (first, second) == (1, 1)
    history = mlflow_client.get_metric_history(run_id, "test/hr_at_10")
    assert [(m.step, m.value) for m in history] == [(16, 0.5)]
    assert mlflow_client.get_run(run_id).data.metrics["test/mrr"] == 0.25


def test_records_missing_from_the_run_are_backfilled_once(mlflow_client):
    run_id = _run(mlflow_client)
    records = [
        {"step": 2, "epoch": 0, "train/loss": 4.0},
        {"step": 4, "epoch": 1, "train/loss": 3.0, "eval/ndcg@10": 0.1},
        {"step": 4, "epoch": 1, "test/ndcg@10": 0.2, "selected_step": 4.0},
    ]
    log_metrics(mlflow_client, run_id, {"train/loss": 4.0}, step=2)

    sent = log_records(mlflow_client, run_id, records)
    again = log_records(mlflow_client, run_id, records)

    assert (sent, again) == (5, 0)  # train/epoch x2, loss@4, eval, test
    steps = [m.step for m in mlflow_client.get_metric_history(run_id, "train/loss")]
    assert sorted(steps) == [2, 4]
    run = mlflow_client.get_run(run_id)
    assert run.data.metrics["train/epoch"] == 1
    assert "epoch" not in run.data.metrics
    assert run.data.tags["selected_step"] == "4"
