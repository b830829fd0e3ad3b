"""Evaluate: full-catalogue metrics of a checkpoint on the test split, with the
popularity baseline beside it, as MLflow metrics and a report artifact."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from mlflow.tracking import MlflowClient
from prefect import flow, get_run_logger, task

from genrec.tracking.metrics import log_metrics
from genrec.tracking.store import tracking_uri

REPORT_JSON = "evaluation.json"
REPORT_MARKDOWN = "evaluation.md"
BASELINE = "popularity"


def split_metrics(metrics: Mapping[str, float], split: str) -> dict[str, float]:
    """Name every metric `<split>/<metric>` or `popularity/<split>/<metric>`.

    `evaluate_checkpoint` may return bare names (`hr@10`) or names already
    under the split; both come out the same.
    """
    named = {}
    for name, value in metrics.items():
        baseline = name.startswith(f"{BASELINE}/")
        bare = name.removeprefix(f"{BASELINE}/").removeprefix(f"{split}/")
        prefix = f"{BASELINE}/{split}" if baseline else split
        named[f"{prefix}/{bare}"] = float(value)
    return named


def report_markdown(metrics: Mapping[str, float], split: str, checkpoint: str) -> str:
    """Render the model and the popularity baseline side by side."""
    names = sorted(
        name.removeprefix(f"{split}/")
        for name in metrics
        if name.startswith(f"{split}/")
    )
    lines = [
        f"# Evaluation on the {split} split",
        "",
        f"Checkpoint: `{checkpoint}`. Full-catalogue ranking of each user's "
        "held-out item, items of the user's history excluded.",
        "",
        "| metric | model | popularity |",
        "|---|---|---|",
    ]
    for name in names:
        model = metrics[f"{split}/{name}"]
        baseline = metrics.get(f"{BASELINE}/{split}/{name}")
        shown = "" if baseline is None else f"{baseline:.4f}"
        lines.append(f"| {name} | {model:.4f} | {shown} |")
    return "\n".join(lines) + "\n"


@task(name="evaluate-model")
def evaluate_model(
    checkpoint_path: str,
    data_dir: str,
    report_dir: str,
    split: str = "test",
    world_size: int = 1,
) -> str:
    """Evaluate a checkpoint and write the report files; return the JSON path."""
    from genrec.training.evaluate import evaluate_checkpoint

    raw = evaluate_checkpoint(
        checkpoint_path, data_dir, split=split, world_size=world_size
    )
    metrics = split_metrics(raw, split)
    report_dir_path = Path(report_dir)
    report_dir_path.mkdir(parents=True, exist_ok=True)
    report = {"checkpoint": checkpoint_path, "split": split, "metrics": metrics}
    json_path = report_dir_path / REPORT_JSON
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (report_dir_path / REPORT_MARKDOWN).write_text(
        report_markdown(metrics, split, checkpoint_path)
    )
    get_run_logger().info(
        "%s: hr@10 %.4f ndcg@10 %.4f (popularity %.4f / %.4f)",
        split,
        metrics.get(f"{split}/hr@10", float("nan")),
        metrics.get(f"{split}/ndcg@10", float("nan")),
        metrics.get(f"{BASELINE}/{split}/hr@10", float("nan")),
        metrics.get(f"{BASELINE}/{split}/ndcg@10", float("nan")),
    )
    return str(json_path)


@task(name="log-evaluation", retries=2, retry_delay_seconds=5)
def log_evaluation(run_id: str, report_path: str, step: int) -> dict[str, float]:
    """Log the report's metrics at `step` and the report files; return metrics.

    In the pipeline the trainer's rank 0 has already logged the test metrics of
    the selected checkpoint at that step; they are the same numbers, so only
    metrics the run does not hold yet are sent (each test metric appears once).
    """
    client = MlflowClient(tracking_uri())
    metrics = json.loads(Path(report_path).read_text())["metrics"]
    log_metrics(client, run_id, metrics, step=step)
    report_dir = Path(report_path).parent
    for name in (REPORT_JSON, REPORT_MARKDOWN):
        client.log_artifact(run_id, str(report_dir / name), "evaluation")
    return metrics


@flow(name="evaluate")
def evaluate(
    checkpoint_path: str,
    data_dir: str,
    split: str = "test",
    world_size: int = 1,
    report_dir: str | None = None,
) -> dict[str, float]:
    """Evaluate a checkpoint on its own; return the metrics."""
    report_dir = report_dir or str(Path(checkpoint_path).parent / "evaluation")
    report_path = evaluate_model(
        checkpoint_path, data_dir, report_dir, split, world_size
    )
    return json.loads(Path(report_path).read_text())["metrics"]
