"""Where MLflow keeps genrec's runs: a local SQLite file unless told otherwise.

MLflow 3 refuses the plain file store (`./mlruns`) by default, and its SQLite
default lands in whatever the working directory is. genrec pins both the
database and the artifacts inside the project data folder instead; a user who
exports MLFLOW_TRACKING_URI (for example a tracking server) gets that.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.tracking import MlflowClient

from genrec.paths import genrec_home, partial_path, remove_dead_partials


def tracking_uri() -> str:
    """Return $MLFLOW_TRACKING_URI, else `sqlite:///<genrec_home>/mlflow.db`.

    The data folder is created for the default, since SQLite will not, and a
    local SQLite database that does not exist yet is created whole (see
    `create_database`).
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        home = genrec_home()
        home.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{home / 'mlflow.db'}"
    database = sqlite_path(uri)
    if database is None and uri.startswith("sqlite:"):
        raise ValueError(
            f"MLFLOW_TRACKING_URI={uri}: an in-memory store keeps nothing once the "
            "process ends, and each process would see its own; name a file "
            "(sqlite:///PATH) or a tracking server"
        )
    if database is not None and not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        create_database(database)
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///PATH` URI; None for any other store."""
    if not is_local_sqlite(uri):
        return None
    path = uri.removeprefix("sqlite:///").partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


def create_database(path: Path) -> None:
    """Create MLflow's SQLite database at `path`, whole or not at all.

    MLflow builds a missing database in place, in dozens of schema migrations
    that are not one transaction: a Ctrl-C among them (the first seconds of a
    first run) left a file on which every later run failed with "duplicate
    column name". The schema is built under a partial name and hard-linked into
    place, which fails if another process got there first: its database wins,
    with whatever it has written since.
    """
    remove_dead_partials(path)
    partial = partial_path(path)
    partial.unlink(missing_ok=True)
    uri = f"sqlite:///{partial}"
    try:
        try:
            SqlAlchemyStore(uri, str(artifact_root()))
        finally:
            # MLflow keeps an engine (a pool of open connections) per URI for the
            # process; a retry would otherwise reuse the pool of a removed file.
            engine = SqlAlchemyStore._engine_map.pop(uri, None)
            if engine is not None:
                engine.dispose()
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: a narrow race
            if not path.exists():
                os.replace(partial, path)
    finally:
        for leftover in (partial, Path(f"{partial}-journal")):
            leftover.unlink(missing_ok=True)


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
