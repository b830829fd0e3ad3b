import pytest

from genrec.tracking.runs import tracked_run


def _status(client, run_id):
    return client.get_run(run_id).info.status


def test_completed_block_finishes_the_run(mlflow_client):
    with tracked_run(mlflow_client, "runs", tags={"origin": "test"}) as run_id:
        assert _status(mlflow_client, run_id) == "RUNNING"

    assert _status(mlflow_client, run_id) == "FINISHED"
    assert mlflow_client.get_run(run_id).data.tags["origin"] == "test"


def test_exception_fails_the_run_and_records_why(mlflow_client):
    with pytest.raises(RuntimeError), tracked_run(mlflow_client, "runs") as run_id:
        raise RuntimeError("rank 1 ran out of memory")

    run = mlflow_client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert "rank 1 ran out of memory" in run.data.tags["genrec.end_reason"]


def test_interrupt_kills_the_run(mlflow_client):
    with pytest.raises(KeyboardInterrupt), tracked_run(mlflow_client, "runs") as run_id:
        raise KeyboardInterrupt

    assert _status(mlflow_client, run_id) == "KILLED"


def test_experiment_artifacts_stay_in_genrec_home(mlflow_client, tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_HOME", str(tmp_path))

    with tracked_run(mlflow_client, "located") as run_id:
        pass

    artifact_uri = mlflow_client.get_run(run_id).info.artifact_uri
    assert artifact_uri.startswith((tmp_path / "mlartifacts" / "located").as_uri())
