import math

import pytest
import torch

from genrec.modeling.metrics import metric_sums, metrics_from_sums, retrieval_metrics


def test_rank_one_is_a_perfect_hit():
    metrics = retrieval_metrics(torch.tensor([1]))
    assert metrics["hr@1"] == 1.0
    assert metrics["ndcg@1"] == 1.0
    assert metrics["mrr"] == 1.0


def test_rank_fifty_one_misses_the_top_fifty_but_hits_the_top_two_hundred():
    metrics = retrieval_metrics(torch.tensor([51]))
    assert metrics["hr@10"] == 0.0 and metrics["ndcg@10"] == 0.0
    assert metrics["hr@50"] == 0.0
    assert metrics["hr@200"] == 1.0
    assert metrics["ndcg@200"] == pytest.approx(1 / math.log2(52))
    assert metrics["mrr"] == pytest.approx(1 / 51)


def test_metrics_average_over_users_and_have_every_key():
    metrics = retrieval_metrics(torch.tensor([1, 3, 1000]))
    assert set(metrics) == {
        *(f"{name}@{k}" for name in ("hr", "ndcg") for k in (1, 10, 50, 200)),
        "mrr",
    }
    assert metrics["hr@10"] == pytest.approx(2 / 3)
    assert metrics["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / 3)
    assert metrics["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 1000) / 3)


def test_sums_reduce_to_the_same_means_as_one_pass():
    ranks = torch.tensor([1, 7, 12, 60, 250, 2])
    first, second = metric_sums(ranks[:2]), metric_sums(ranks[2:])
    total = {key: first[key] + second[key] for key in first}
    assert total["count"] == 6
    combined = metrics_from_sums(total)
    for key, value in retrieval_metrics(ranks).items():
        assert combined[key] == pytest.approx(value)


def test_ranks_below_one_are_rejected():
    with pytest.raises(ValueError, match="1-based"):
        retrieval_metrics(torch.tensor([0, 3]))
