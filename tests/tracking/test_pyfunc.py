"""Logging a checkpoint as a pyfunc model is safe to retry: one model per run."""

from mlflow.entities import LoggedModelStatus

from genrec.tracking.pyfunc import MODEL_NAME_IN_RUN, log_checkpoint_model
from genrec.tracking.store import ensure_experiment


def test_a_retried_log_returns_the_model_already_logged(
    mlflow_client, tmp_path, monkeypatch
):
    monkeypatch.setenv("GENREC_HOME", str(tmp_path))
    experiment_id = ensure_experiment(mlflow_client, "pyfunc")
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    # An attempt that died inside Model.log left its model PENDING.
    dead = mlflow_client.create_logged_model(
        experiment_id, name=MODEL_NAME_IN_RUN, source_run_id=run_id
    )
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"weights")

    first = log_checkpoint_model(mlflow_client, run_id, checkpoint)
    retried = log_checkpoint_model(mlflow_client, run_id, checkpoint)

    assert retried == first
    models = mlflow_client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    statuses = {model.model_id: model.status for model in models}
    assert statuses == {
        first: LoggedModelStatus.READY,
        dead.model_id: LoggedModelStatus.FAILED,
    }
