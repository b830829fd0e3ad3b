"""Where MLflow keeps genrec's runs: a local SQLite file unless told otherwise.

MLflow 3 refuses the plain file store (`./mlruns`) by default, and its SQLite
default lands in whatever the working directory is. genrec pins both the
database and the artifacts inside the project data folder instead; a user who
exports MLFLOW_TRACKING_URI (for example a tracking server) gets that.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlflow.tracking import MlflowClient

from genrec.paths import genrec_home


def tracking_uri() -> str:
    """Return $MLFLOW_TRACKING_URI, else `sqlite:///<genrec_home>/mlflow.db`.

    The data folder is created for the default, since SQLite will not.
    """
    if uri := os.environ.get("MLFLOW_TRACKING_URI"):
        return uri
    home = genrec_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'mlflow.db'}"


def artifact_root() -> Path:
    """Return the folder that holds artifacts of experiments genrec creates."""
    return genrec_home() / "mlartifacts"


def is_local_sqlite(uri: str) -> bool:
    """Return whether `uri` is a SQLite file on this machine."""
    return uri.startswith("sqlite:///")


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """Return the id of experiment `name`, creating it (artifacts in genrec_home).

    On a local SQLite store MLflow would default the artifact location to
    `./mlruns` under the working directory, so it is set explicitly; a remote
    tracking server keeps its own artifact root.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if is_local_sqlite(client.tracking_uri):
        folder = artifact_root() / name
        folder.mkdir(parents=True, exist_ok=True)
        location = folder.as_uri()
    return client.create_experiment(name, artifact_location=location)
