"""Model registry: one version per pipeline run, a `champion` alias that only
moves forward.

The alias moves to a new version when there is no champion yet, or when the
champion was evaluated on the same data (same `dataset_hash` tag) and the new
version's test NDCG@10 is strictly higher. A champion trained on other data
keeps the alias: its score is not comparable, and promoting on new data is a
decision for a person (`MlflowClient.set_registered_model_alias`). The reason
for each decision is recorded on the new version as a tag.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from genrec.training.mlflow_sink import mlflow_metric_key

logger = logging.getLogger(__name__)

CHAMPION = "champion"
DATASET_HASH_TAG = "dataset_hash"
SCORE_TAG = mlflow_metric_key("test/ndcg@10")
DECISION_TAG = "champion_decision"


@dataclass(frozen=True)
class Promotion:
    """What happened to the `champion` alias for one new model version."""

    version: str
    promoted: bool
    reason: str
    previous_champion: str | None


def register_version(
    client: MlflowClient,
    model_name: str,
    model_uri: str,
    *,
    run_id: str,
    dataset_hash: str,
    test_ndcg_at_10: float,
    model_id: str | None = None,
) -> str:
    """Register `model_uri` as a new version of `model_name`; return the version.

    `model_id` links the version to its MLflow 3 logged model on stores that
    keep the link. A `models:/<id>` source is resolved through the global
    tracking URI (an MLflow limitation), so set it to the client's first.

    The version is tagged with the dataset hash and its test NDCG@10, which
    later promotions compare against.
    """
    try:
        client.create_registered_model(model_name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(
        model_name,
        source=model_uri,
        run_id=run_id,
        tags={DATASET_HASH_TAG: dataset_hash, SCORE_TAG: repr(test_ndcg_at_10)},
        model_id=model_id,
    )
    logger.info("registered %s version %s", model_name, version.version)
    return str(version.version)


def current_champion(client: MlflowClient, model_name: str) -> tuple[str, dict] | None:
    """Return `(version, tags)` of the champion, or None when there is none."""
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException as error:
        if error.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        raise
    return str(version.version), dict(version.tags)


def promote_if_better(client: MlflowClient, model_name: str, version: str) -> Promotion:
    """Move `champion` to `version` if it beats the champion on the same data."""
    tags = dict(client.get_model_version(model_name, version).tags)
    champion = current_champion(client, model_name)
    promoted, reason = _decide(tags, champion)
    if promoted:
        client.set_registered_model_alias(model_name, CHAMPION, version)
    client.set_model_version_tag(model_name, version, DECISION_TAG, reason)
    logger.info("%s version %s: %s", model_name, version, reason)
    return Promotion(version, promoted, reason, champion[0] if champion else None)


def _decide(tags: dict, champion: tuple[str, dict] | None) -> tuple[bool, str]:
    if champion is None:
        return True, "promoted: no champion yet"
    champion_version, champion_tags = champion
    if champion_tags.get(DATASET_HASH_TAG) != tags[DATASET_HASH_TAG]:
        return False, (
            f"kept version {champion_version}: it was evaluated on other data "
            f"({DATASET_HASH_TAG} {champion_tags.get(DATASET_HASH_TAG, '?')[:12]})"
        )
    new_score = float(tags[SCORE_TAG])
    old_score = float(champion_tags[SCORE_TAG])
    if new_score > old_score:
        return True, (
            f"promoted: {SCORE_TAG} {new_score:.4f} > {old_score:.4f} "
            f"of version {champion_version}"
        )
    return False, (
        f"kept version {champion_version}: {SCORE_TAG} {new_score:.4f} "
        f"<= {old_score:.4f}"
    )
