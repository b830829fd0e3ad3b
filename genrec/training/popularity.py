"""The most-popular-items baseline, scored exactly like a model.

Each user is recommended the catalogue in decreasing order of interaction count,
counting every interaction before the users' targets of the split, with the user's
history excluded as it is for the model. Ties go to the larger item id; with that
rule ML-100K gives the reference implementation's figures (HR@10 0.0859, NDCG@10
0.0439).

Legend: B users, T history items of the batch, N items.
"""

from __future__ import annotations

import numpy as np
import torch

from genrec.modeling.metrics import retrieval_metrics
from genrec.training.dataset import SequenceDataset


def popularity_ranks(dataset: SequenceDataset, split: str) -> np.ndarray:
    """(B,) int64 1-based full-catalogue rank of every evaluated user's target."""
    table = dataset.table
    num_items = table.num_items
    counts = np.bincount(
        table.item_ids[dataset.visible_positions(split)], minlength=num_items + 1
    )
    # Position of each item in the popularity order (0 = most popular).
    order = np.lexsort((-np.arange(1, num_items + 1), -counts[1:])) + 1  # (N,)
    place = np.empty(num_items + 1, dtype=np.int64)
    place[order] = np.arange(num_items)
    place[0] = num_items  # padding is never a candidate

    rows = dataset.evaluation_rows(split)
    _, _, targets = dataset.evaluation_positions(rows, split)
    history, offsets = dataset.excluded_positions(rows, split)
    target_items = table.item_ids[targets].astype(np.int64)  # (B,)
    segment = np.repeat(np.arange(len(rows)), np.diff(offsets))  # (T,)
    history_items = table.item_ids[history].astype(np.int64)  # (T,)

    # A history item counts once, and only when it would have outranked the target.
    unique_keys = np.unique(segment * (num_items + 1) + history_items)
    unique_segment, unique_items = np.divmod(unique_keys, num_items + 1)
    outranks = (place[unique_items] < place[target_items[unique_segment]]) & (
        unique_items != target_items[unique_segment]
    )
    excluded_above = np.bincount(unique_segment[outranks], minlength=len(rows))
    return place[target_items] + 1 - excluded_above


def popularity_metrics(dataset: SequenceDataset, split: str) -> dict[str, float]:
    """HR/NDCG@{1,10,50,200} and MRR of the popularity baseline on `split`."""
    ranks = torch.from_numpy(popularity_ranks(dataset, split))
    return retrieval_metrics(ranks)
