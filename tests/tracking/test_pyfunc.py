"""Logging a checkpoint as a pyfunc model: retry-safe, from code, quiet."""

import subprocess
import sys
import warnings

from mlflow.entities import LoggedModelStatus

from genrec.tracking.pyfunc import (
    MODEL_NAME_IN_RUN,
    log_checkpoint_model,
    pip_requirements,
)
from genrec.tracking.store import ensure_experiment


def test_a_retried_log_returns_the_model_already_logged(
    mlflow_client, tmp_path, monkeypatch, caplog
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

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = log_checkpoint_model(mlflow_client, run_id, checkpoint)
    # No pickled model (MLflow warns of CloudPickle), no missing input example.
    assert "CloudPickle" not in caplog.text
    assert not [w for w in caught if "input example" in str(w.message)]
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


def test_importing_the_model_class_draws_no_mlflow_type_hint_warning():
    # MLflow inspects predict() when the class is defined; an unannotated
    # model_input makes it warn on every import.
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    import genrec.tracking.pyfunc\n"
        "print([str(w.message) for w in caught if 'type hint' in str(w.message)])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_requirements_pin_releases_a_fresh_environment_can_install():
    # torch's local label (2.13.0+cpu) names no release on PyPI.
    pins = pip_requirements()
    assert any(pin.startswith("torch==") for pin in pins)
    assert not [pin for pin in pins if "+" in pin]
