"""Real data: ML-100K from ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.training.dataset import SequenceDataset
from genrec.training.popularity import popularity_metrics

from .conftest import REPO


@pytest.fixture(scope="module")
def ml100k(tmp_path_factory, shared_data) -> Path:
    raw = shared_data("ml-100k")
    from genrec.data.preprocess import run_preprocess

    out_dir = tmp_path_factory.mktemp("ml-100k") / "data"
    run_preprocess("ml-100k", out_dir, raw, filter_mode="none")
    return out_dir


def test_popularity_on_ml100k_matches_the_reference_figure(ml100k):
    dataset = SequenceDataset(ml100k, protocol="reference", max_sequence_length=200)
    metrics = popularity_metrics(dataset, "test")
    # The reference implementation reports HR@10 0.0859 and NDCG@10 0.0439.
    assert metrics["hr@10"] == pytest.approx(0.0859, abs=0.004)
    assert metrics["ndcg@10"] == pytest.approx(0.0439, abs=0.003)
    assert len(dataset.evaluation_rows("test")) == 943


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "min_hr10", "min_ndcg10"),
    [("hstu", 0.19, 0.095), ("sasrec", 0.175, 0.09)],
)
def test_ml1m_architecture_on_ml100k_reaches_the_reference_quality(
    ml100k, tmp_path, model, min_hr10, min_ndcg10
):
    """30 epochs, reference protocol: at least what the reference reaches on CPU."""
    from genrec.training.launch import train

    result = train(
        [REPO / "configs" / "ml-100k" / f"{model}.gin"],
        ["Trainer.eval_every_steps = 0"],
        data_dir=ml100k,
        run_dir=tmp_path / model,
        world_size=1,
    )
    metrics = result.metrics
    assert metrics["test/users"] == 943
    assert metrics["test/hr@10"] >= min_hr10
    assert metrics["test/ndcg@10"] >= min_ndcg10
    assert metrics["test/hr@10"] > 2 * metrics["popularity/test/hr@10"]
