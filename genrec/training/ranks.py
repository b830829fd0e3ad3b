"""What each spawned rank runs. Heavy modules are imported inside the functions,
after the launcher has set up the rank's logging: unpickling these entry points in
a fresh process must stay cheap and free of import side effects.
"""

from __future__ import annotations

import logging

from genrec.distributed import DistContext
from genrec.training.runs import RunPaths

logger = logging.getLogger(__name__)


def train_rank(ctx: DistContext, paths: RunPaths) -> dict[str, float]:
    """Parse the resolved config and train; every rank returns the final metrics."""
    from genrec.training.gin_config import parse_resolved
    from genrec.training.trainer import Trainer

    parse_resolved(paths.config, paths.operative_config)
    return Trainer().fit(ctx, paths)


def evaluate_rank(
    ctx: DistContext, checkpoint_path: str, data_dir: str, split: str
) -> dict[str, float]:
    """Evaluate one checkpoint on this rank's share of the users (see `evaluate`)."""
    from genrec.training.checkpoint import load_checkpoint
    from genrec.training.evaluate import USERS_KEY, evaluate_split
    from genrec.training.gin_config import parse_resolved
    from genrec.training.popularity import popularity_metrics
    from genrec.training.trainer import Trainer

    payload = load_checkpoint(checkpoint_path)
    parse_resolved(payload["config"], payload.get("operative_config"))
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
        result |= {f"popularity/{split}/{k}": v for k, v in baseline.items()}
        logger.info(
            "%s users=%d hr@10=%.4f ndcg@10=%.4f (popularity hr@10=%.4f)",
            split,
            metrics[USERS_KEY],
            metrics["hr@10"],
            metrics["ndcg@10"],
            baseline["hr@10"],
        )
    return result
