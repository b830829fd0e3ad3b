"""Ranking metrics from full-catalogue ranks (1 = best, no cap).

For a target at rank r: HR@K = [r <= K], NDCG@K = [r <= K] / log2(r + 1)
(one relevant item, so the ideal DCG is 1), MRR = 1 / r.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

DEFAULT_KS: tuple[int, ...] = (1, 10, 50, 200)
# The names `metric_sums` reports with the default cut-offs.
METRIC_NAMES: tuple[str, ...] = (
    *(f"{name}@{k}" for k in DEFAULT_KS for name in ("hr", "ndcg")),
    "mrr",
)


def metric_sums(ranks: Tensor, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Return per-metric SUMS over users plus "count", ready for a DDP all-reduce.

    Args:
        ranks: (B,) int64 1-based ranks.
        ks: cut-offs for HR@K and NDCG@K.
    """
    ranks = ranks.detach().to(torch.float64).flatten()
    if bool((ranks < 1).any()):
        raise ValueError("ranks must be >= 1 (1-based)")
    sums: dict[str, float] = {}
    for k in ks:
        hit = ranks <= k
        sums[f"hr@{k}"] = float(hit.sum())
        gain = torch.where(hit, 1.0 / torch.log2(ranks + 1.0), 0.0)
        sums[f"ndcg@{k}"] = float(gain.sum())
    sums["mrr"] = float((1.0 / ranks).sum())
    sums["count"] = float(ranks.numel())
    return sums


def metrics_from_sums(sums: dict[str, float]) -> dict[str, float]:
    """Turn (possibly all-reduced) sums into means; empty input gives zeros."""
    count = sums["count"]
    return {
        name: (value / count if count else 0.0)
        for name, value in sums.items()
        if name != "count"
    }


def retrieval_metrics(
    ranks: Tensor, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """Return mean HR@K, NDCG@K for every K in ``ks``, and MRR, over (B,) ranks."""
    return metrics_from_sums(metric_sums(ranks, ks))
