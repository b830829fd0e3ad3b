"""Model registry: one version per pipeline run, a `champion` alias that only
moves forward.

The alias moves to a new version when there is no champion yet, or when the
champion was evaluated on the same data (same `dataset_hash` tag) and the new
version's test NDCG@10 is strictly higher. A champion trained on other data
keeps the alias: its score is not comparable, and promoting on new data is a
decision for a person (`MlflowClient.set_registered_model_alias`). The reason
for each decision is recorded on the new version as a tag.

Retries are safe: a run has at most one version of a model (registering it
again returns that version), and a version that was already decided on
reports the same decision again.

Concurrent pipelines: deciding reads the champion and then moves the alias,
and MLflow has no compare-and-set for aliases, so two pipelines deciding at
once could let the worse one land last. Decisions are serialized with a file
lock under `$GENREC_HOME/locks`, which covers every pipeline on one machine
(the only case that shares a local SQLite store). Pipelines on several machines
against one tracking server are not serialized by it: run them with a Prefect
concurrency limit of 1 (for example a work pool or queue limit), or check the
`champion_decision` tags afterwards.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from genrec.paths import genrec_home
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
    later promotions compare against. A run registers one version: when
    `run_id` already has a version of `model_name` (an earlier attempt of a
    retried task got that far), that version is returned and nothing is added.
    """
    try:
        client.create_registered_model(model_name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    existing = version_of_run(client, model_name, run_id)
    if existing is not None:
        logger.info(
            "%s version %s already holds run %s; not registering it again",
            model_name,
            existing,
            run_id,
        )
        return existing
    version = client.create_model_version(
        model_name,
        source=model_uri,
        run_id=run_id,
        tags={DATASET_HASH_TAG: dataset_hash, SCORE_TAG: repr(test_ndcg_at_10)},
        model_id=model_id,
    )
    logger.info("registered %s version %s", model_name, version.version)
    return str(version.version)


def version_of_run(client: MlflowClient, model_name: str, run_id: str) -> str | None:
    """The (first) version of `model_name` registered from `run_id`, or None."""
    if "'" in model_name or "'" in run_id:
        raise ValueError(f"quotes in model name {model_name!r} or run id {run_id!r}")
    versions = client.search_model_versions(
        f"name = '{model_name}' and run_id = '{run_id}'"
    )
    numbers = sorted(int(v.version) for v in versions)
    return str(numbers[0]) if numbers else None


@contextmanager
def decision_lock(client: MlflowClient, model_name: str) -> Iterator[None]:
    """Hold the lock that serializes champion decisions for one model here."""
    key = f"{client.tracking_uri}\0{model_name}".encode()
    folder = genrec_home() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"champion-{hashlib.sha256(key).hexdigest()[:16]}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    """Move `champion` to `version` if it beats the champion on the same data.

    Serialized with other decisions on this machine (see the module notes);
    asking again about a version already decided on repeats that decision.
    """
    with decision_lock(client, model_name):
        tags = dict(client.get_model_version(model_name, version).tags)
        champion = current_champion(client, model_name)
        if champion is not None and champion[0] == version:
            # An earlier attempt promoted it (and may have died before the tag).
            reason = tags.get(DECISION_TAG, "promoted by an earlier attempt")
            return Promotion(version, True, reason, None)
        if DECISION_TAG in tags:
            return Promotion(
                version, False, tags[DECISION_TAG], champion[0] if champion else None
            )
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
