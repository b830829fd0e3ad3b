"""Register: the checkpoint as an MLflow model version, `champion` if it wins."""

from __future__ import annotations

from dataclasses import asdict

from mlflow.tracking import MlflowClient
from prefect import get_run_logger, task

from genrec.tracking.pyfunc import log_checkpoint_model
from genrec.tracking.registry import promote_if_better, register_version
from genrec.tracking.store import tracking_uri


@task(name="register-model", retries=2, retry_delay_seconds=5)
def register_model(
    run_id: str,
    checkpoint_path: str,
    model_name: str,
    dataset_hash: str,
    test_ndcg_at_10: float,
) -> dict[str, object]:
    """Log the checkpoint as a model of `run_id`, register it, maybe promote it.

    Returns:
        The promotion decision: `version`, `promoted`, `reason`,
        `previous_champion`.
    """
    client = MlflowClient(tracking_uri())
    model_id = log_checkpoint_model(client, run_id, checkpoint_path)
    version = register_version(
        client,
        model_name,
        f"models:/{model_id}",
        run_id=run_id,
        dataset_hash=dataset_hash,
        test_ndcg_at_10=test_ndcg_at_10,
        model_id=model_id,
    )
    promotion = promote_if_better(client, model_name, version)
    get_run_logger().info(
        "model %s version %s: %s", model_name, version, promotion.reason
    )
    return asdict(promotion)
