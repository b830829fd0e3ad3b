"""Shared fixtures for the modeling tests: small jagged batches, fp32, CPU."""

from __future__ import annotations

import pytest
import torch

from genrec.modeling.batch import SequenceBatch


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def random_batch(
    lengths: list[int], num_items: int, *, seed: int = 0, with_targets: bool = False
) -> SequenceBatch:
    """A batch with random items and increasing random timestamps per user."""
    generator = torch.Generator().manual_seed(seed)
    items, times = [], []
    for length in lengths:
        items.append(torch.randint(1, num_items + 1, (length,), generator=generator))
        gaps = torch.randint(0, 10**6, (length,), generator=generator)
        times.append(1_600_000_000 + torch.cumsum(gaps, 0))
    targets = None
    if with_targets:
        targets = torch.randint(1, num_items + 1, (len(lengths),), generator=generator)
    return SequenceBatch.from_sequences(
        [i.tolist() for i in items],
        [t.tolist() for t in times],
        ratings=[torch.rand(n, generator=generator).mul(5).tolist() for n in lengths],
        target_ids=None if targets is None else targets.tolist(),
    )


@pytest.fixture
def make_batch():
    """Factory for random jagged batches: make_batch(lengths, num_items, ...)."""
    return random_batch


@pytest.fixture
def shape_cases():
    """(queries, items, candidate row of each query) for the three similarity cases.

    Embeddings have D = 6, the DIM of the similarity tests. ``shared``: items (1, X, D)
    for every query; ``grouped``: items (C, X, D) with Q = C * r; ``per_row``:
    items (Q, X, D), one row per query.
    """
    dim = 6
    return {
        "shared": (torch.randn(5, dim), torch.randn(1, 7, dim), [0] * 5),
        "grouped": (torch.randn(6, dim), torch.randn(3, 7, dim), [0, 0, 1, 1, 2, 2]),
        "per_row": (torch.randn(4, dim), torch.randn(4, 7, dim), [0, 1, 2, 3]),
    }
