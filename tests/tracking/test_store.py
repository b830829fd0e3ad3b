"""The tracking store's SQLite database is created whole or not at all."""

import os
import subprocess
import sys
from pathlib import Path

import mlflow.store.db.utils
import pytest
from mlflow.tracking import MlflowClient

from genrec.paths import partial_path
from genrec.tracking.store import sqlite_path, tracking_uri


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def _logs_a_stepped_metric(uri):
    # `metrics.step` is the column whose migration an interrupt used to leave
    # half-done ("duplicate column name: step" on every later run).
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("e"))
    client.log_metric(run.info.run_id, "loss", 0.5, step=3)
    (metric,) = client.get_metric_history(run.info.run_id, "loss")
    return metric.step


def test_an_interrupt_while_the_schema_is_built_leaves_no_database(home, monkeypatch):
    upgrade = mlflow.store.db.utils._upgrade_db

    def interrupted(engine):
        raise KeyboardInterrupt  # after the initial tables, before the migrations

    monkeypatch.setattr(mlflow.store.db.utils, "_upgrade_db", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tracking_uri()
    assert sorted(os.listdir(home)) == []

    monkeypatch.setattr(mlflow.store.db.utils, "_upgrade_db", upgrade)
    uri = tracking_uri()
    assert uri == f"sqlite:///{home / 'mlflow.db'}"
    assert sorted(os.listdir(home)) == ["mlflow.db"]
    assert _logs_a_stepped_metric(uri) == 3


def test_a_missing_folder_of_a_users_uri_is_made_and_the_database_built_whole(
    home, monkeypatch
):
    # MLflow would make the folder and migrate in place, interruptible midway.
    database = home / "not" / "yet" / "runs.db"
    uri = f"sqlite:///{database}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    upgrade = mlflow.store.db.utils._upgrade_db

    def interrupted(engine):
        raise KeyboardInterrupt

    monkeypatch.setattr(mlflow.store.db.utils, "_upgrade_db", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tracking_uri()
    assert sorted(os.listdir(database.parent)) == []

    monkeypatch.setattr(mlflow.store.db.utils, "_upgrade_db", upgrade)
    assert tracking_uri() == uri
    assert _logs_a_stepped_metric(uri) == 3


def test_an_in_memory_store_is_refused(home, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///:memory:")
    with pytest.raises(ValueError, match="an in-memory store keeps nothing"):
        tracking_uri()


def test_an_existing_database_is_used_as_it_is(home):
    database = home / "mlflow.db"
    database.write_bytes(b"")  # not created again, whatever it holds
    tracking_uri()
    assert database.read_bytes() == b""


def test_a_partial_left_by_a_killed_run_is_removed(home):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    own = partial_path(home / "mlflow.db")
    left = own.with_name(own.name.replace(f"-{os.getpid()}.", f"-{dead}."))
    left.write_bytes(b"half")
    Path(f"{left}-journal").write_bytes(b"journal")  # SQLite's, beside it
    tracking_uri()
    assert sorted(os.listdir(home)) == ["mlflow.db"]


def test_a_users_sqlite_uri_is_created_whole_too(home, monkeypatch, tmp_path_factory):
    folder = tmp_path_factory.mktemp("own")
    uri = f"sqlite:///{folder / 'runs.db'}?timeout=5"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert tracking_uri() == uri
    assert sorted(os.listdir(folder)) == ["runs.db"]
    assert _logs_a_stepped_metric(uri) == 3


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("sqlite:////abs/mlflow.db", "/abs/mlflow.db"),
        ("sqlite:///rel/mlflow.db?timeout=5", "rel/mlflow.db"),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
        ("http://127.0.0.1:5000", None),
        ("postgresql://db/mlflow", None),
    ],
)
def test_only_local_sqlite_files_are_created(uri, path):
    assert sqlite_path(uri) == (None if path is None else Path(path))
