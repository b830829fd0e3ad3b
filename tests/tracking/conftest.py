from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient


@pytest.fixture(scope="module")
def mlflow_client(tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    """A client on a fresh SQLite store (creating one takes a few seconds)."""
    folder: Path = tmp_path_factory.mktemp("mlflow")
    return MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
