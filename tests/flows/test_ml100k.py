"""The pipeline on real MovieLens-100K with the small CPU config."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from flows.pipeline import pipeline

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

REPO_ROOT = Path(__file__).resolve().parents[2]
CPU_CONFIG = str(REPO_ROOT / "configs" / "cpu" / "hstu-small.gin")


@pytest.mark.timeout(900)
def test_ml100k_run_holds_test_metrics_of_hstu_and_popularity(genrec_home, shared_data):
    raw = shared_data("ml-100k")

    result = pipeline(
        dataset="ml-100k",
        raw_path=str(raw),
        gin_config_file=CPU_CONFIG,
        world_size=2,
        train_timeout_s=900.0,
    )

    run = MlflowClient(result.tracking_uri).get_run(result.mlflow_run_id)
    metrics = run.data.metrics
    assert run.info.status == "FINISHED"
    assert run.data.params["pipeline/dataset"] == "ml-100k"
    for model in ("test", "popularity/test"):
        assert 0.0 < metrics[f"{model}/hr_at_10"] < 1.0
        assert 0.0 < metrics[f"{model}/ndcg_at_10"] < metrics[f"{model}/hr_at_10"]
    assert metrics["test/users"] == 943
    assert metrics["test/hr_at_10"] > metrics["popularity/test/hr_at_10"]
