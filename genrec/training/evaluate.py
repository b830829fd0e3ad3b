"""Full-catalogue evaluation: every user scored exactly once across ranks.

Each rank ranks the target of its share of the users against the whole catalogue
(history excluded), sums HR/NDCG/MRR over its users, and the sums and counts are
reduced over ranks, so the result does not depend on the world size.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gin
import numpy as np
import torch

from genrec.distributed import DistContext, all_reduce_sums, launch
from genrec.modeling.metrics import metric_sums
from genrec.modeling.model import RetrievalModel
from genrec.modeling.retrieval import ExcludedItems
from genrec.training.dataset import SequenceDataset
from genrec.training.sampler import shard_rows

logger = logging.getLogger(__name__)

USERS_KEY = "users"


@gin.configurable(denylist=["model", "dataset", "split", "ctx"])
def evaluate_split(
    model: RetrievalModel,
    dataset: SequenceDataset,
    split: str,
    ctx: DistContext,
    *,
    batch_size: int = 256,
) -> dict[str, float]:
    """Rank every `split` target; return mean metrics and the number of users.

    Every rank must call this (it reduces over ranks); each gets the same result.
    """
    rows = shard_rows(dataset.evaluation_rows(split), ctx.rank, ctx.world_size)
    sums: dict[str, float] = {}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch_rows = rows[start : start + batch_size]
            batch = dataset.evaluation_batch(batch_rows, split).to(ctx.device)
            ranks = model.rank_targets(
                batch,
                exclude_history=True,
                also_excluded=_excluded_items(dataset, batch_rows, split, ctx.device),
            )
            for key, value in metric_sums(ranks).items():
                sums[key] = sums.get(key, 0.0) + value
    model.train(was_training)
    if not sums:  # a rank with no users still joins the reduction
        sums = dict.fromkeys(metric_sums(torch.ones(1, dtype=torch.int64)), 0.0)

    totals = all_reduce_sums(sums, ctx)
    count = totals.pop("count")
    if count == 0:
        raise ValueError(f"no user has a {split!r} target with history to rank")
    metrics = {key: value / count for key, value in totals.items()}
    metrics[USERS_KEY] = count
    return metrics


def _excluded_items(
    dataset: SequenceDataset, rows: np.ndarray, split: str, device: torch.device
) -> ExcludedItems:
    """The (user, item) pairs each user's target is never ranked against."""
    positions, offsets = dataset.excluded_positions(rows, split)
    user_index = np.repeat(np.arange(len(rows)), np.diff(offsets))  # (E,)
    return ExcludedItems(
        user_index=torch.from_numpy(user_index).to(device),
        item_ids=torch.from_numpy(
            dataset.table.item_ids[positions].astype(np.int64)
        ).to(device),
    )


def evaluate_checkpoint(
    checkpoint_path: str | Path,
    data_dir: str | Path,
    *,
    split: str = "test",
    world_size: int = 1,
) -> dict[str, float]:
    """Evaluate a checkpoint on `split` of a data folder, with the popularity baseline.

    Returns:
        `{split}/hr@10`, ..., `{split}/users` for the model and
        `popularity/{split}/...` for the baseline on the same users.
    """
    from genrec.training.ranks import evaluate_rank

    result = launch(
        evaluate_rank,
        (str(checkpoint_path), str(data_dir), split),
        world_size=world_size,
    )
    assert result is not None
    return result
