"""Full-catalogue evaluation: every user scored exactly once across ranks.

Each rank ranks the target of its share of the users against the whole catalogue
(history excluded), sums HR/NDCG/MRR over its users, and the sums and counts are
reduced over ranks, so the result does not depend on the world size.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gin
import torch

from genrec.distributed import DistContext, all_reduce_sums, launch
from genrec.modeling.metrics import metric_sums
from genrec.training.checkpoint import load_checkpoint
from genrec.training.dataset import SequenceDataset
from genrec.training.gin_config import parse_resolved
from genrec.training.popularity import popularity_metrics
from genrec.training.sampler import shard_rows

logger = logging.getLogger(__name__)

USERS_KEY = "users"


@gin.configurable(denylist=["model", "dataset", "split", "ctx"])
def evaluate_split(
    model: torch.nn.Module,
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
            batch = dataset.evaluation_batch(rows[start : start + batch_size], split)
            ranks = model.rank_targets(batch.to(ctx.device), exclude_history=True)
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
    result = launch(
        _evaluate_rank,
        (str(checkpoint_path), str(data_dir), split),
        world_size=world_size,
    )
    assert result is not None
    return result


def _evaluate_rank(
    ctx: DistContext, checkpoint_path: str, data_dir: str, split: str
) -> dict[str, float]:
    from genrec.training.trainer import Trainer

    payload = load_checkpoint(checkpoint_path)
    parse_resolved(payload["config"])
    trainer = Trainer()
    dataset = trainer.dataset_factory(data_dir)
    if dataset.num_items != payload["num_items"]:
        raise ValueError(
            f"{checkpoint_path}: trained on {payload['num_items']} items but "
            f"{data_dir} has {dataset.num_items}; evaluate on the data it was "
            "trained on"
        )
    model = trainer.model_factory()
    model.load_state_dict(payload["model"])
    model.to(ctx.device)

    metrics = evaluate_split(model, dataset, split, ctx)
    result = {f"{split}/{key}": value for key, value in metrics.items()}
    if ctx.is_main:
        baseline = popularity_metrics(dataset, split)
        result |= {
            f"popularity/{split}/{key}": value for key, value in baseline.items()
        }
        logger.info(
            "%s users=%d hr@10=%.4f ndcg@10=%.4f (popularity hr@10=%.4f)",
            split,
            metrics[USERS_KEY],
            metrics["hr@10"],
            metrics["ndcg@10"],
            baseline["hr@10"],
        )
    return result
