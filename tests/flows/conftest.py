"""Fixtures for flow tests: one Prefect test server per session, a fresh genrec
data folder (and so a fresh MLflow SQLite store) per test."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Prefect reads PREFECT_HOME at import; keep its result cache out of ~/.prefect
# and out of any earlier session before anything imports it.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="genrec-test-prefect-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)

import flows  # noqa: E402,F401  (the remaining Prefect defaults)

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = str(REPO_ROOT / "configs" / "cpu" / "tiny.gin")
# About 150 users, 60 items: a few seconds of training on 2 cores.
TINY_SYNTHETIC = {"num_users": 150, "num_items": 60, "mean_length": 12, "seed": 3}


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A temporary Prefect API (one per session: it takes ~15 s to start)."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    storage = Path(os.environ["PREFECT_HOME"]) / "storage"
    with (
        temporary_settings({PREFECT_LOCAL_STORAGE_PATH: storage}),
        prefect_test_harness(server_startup_timeout=180),
    ):
        yield


@pytest.fixture
def tiny_raw_file(genrec_home: Path) -> Path:
    """A tiny Amazon-2018-format ratings file (outside genrec_home) to edit."""
    from genrec.data.synthetic import write_synthetic_ratings

    path = genrec_home.parent / "raw" / "ratings.csv"
    return write_synthetic_ratings(path, **TINY_SYNTHETIC)


@pytest.fixture
def tiny_pipeline_arguments(tiny_raw_file: Path) -> dict:
    """Pipeline arguments for a seconds-long run with 2 DDP ranks."""
    return dict(
        dataset="synthetic",
        raw_path=str(tiny_raw_file),
        gin_config_file=TINY_CONFIG,
        gin_bindings=[
            "Trainer.num_epochs = 2",
            "Trainer.log_every_steps = 1",
            "Trainer.eval_every_steps = 2",
        ],
        world_size=2,
        train_timeout_s=300.0,
    )


@pytest.fixture
def genrec_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh genrec data folder; MLflow defaults to a SQLite file inside it."""
    home = tmp_path / "genrec-home"
    monkeypatch.setenv("GENREC_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home
