import itertools
import threading
import time

import pytest

from genrec.tracking import registry
from genrec.tracking.registry import (
    CHAMPION,
    DECISION_TAG,
    promote_if_better,
    register_version,
)

_names = itertools.count()


@pytest.fixture
def model_name(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("GENREC_HOME", str(tmp_path))  # the decision locks
    return f"model-{next(_names)}"


@pytest.fixture(scope="module")
def run_id(mlflow_client) -> str:
    experiment_id = mlflow_client.create_experiment("registry")
    return mlflow_client.create_run(experiment_id).info.run_id


def _new_version(client, name, run_id, dataset_hash, ndcg):
    """Register a version from a new run of `run_id`'s experiment (one per run)."""
    experiment_id = client.get_run(run_id).info.experiment_id
    new_run_id = client.create_run(experiment_id).info.run_id
    return register_version(
        client,
        name,
        f"runs:/{new_run_id}/model",
        run_id=new_run_id,
        dataset_hash=dataset_hash,
        test_ndcg_at_10=ndcg,
    )


def _register(client, name, run_id, dataset_hash, ndcg):
    version = _new_version(client, name, run_id, dataset_hash, ndcg)
    return promote_if_better(client, name, version)


def _champion(client, name):
    return str(client.get_model_version_by_alias(name, CHAMPION).version)


def test_first_version_becomes_champion(mlflow_client, model_name, run_id):
    promotion = _register(mlflow_client, model_name, run_id, "aaa", 0.10)

    assert promotion.promoted
    assert _champion(mlflow_client, model_name) == promotion.version


def test_champion_moves_only_to_a_better_score_on_the_same_data(
    mlflow_client, model_name, run_id
):
    first = _register(mlflow_client, model_name, run_id, "aaa", 0.10)
    worse = _register(mlflow_client, model_name, run_id, "aaa", 0.09)
    equal = _register(mlflow_client, model_name, run_id, "aaa", 0.10)
    better = _register(mlflow_client, model_name, run_id, "aaa", 0.12)

    assert [worse.promoted, equal.promoted, better.promoted] == [False, False, True]
    assert better.previous_champion == first.version
    assert _champion(mlflow_client, model_name) == better.version
    tags = mlflow_client.get_model_version(model_name, worse.version).tags
    assert tags[DECISION_TAG].startswith(f"kept version {first.version}")


def test_a_score_on_other_data_never_takes_the_alias(mlflow_client, model_name, run_id):
    first = _register(mlflow_client, model_name, run_id, "aaa", 0.10)
    other_data = _register(mlflow_client, model_name, run_id, "bbb", 0.50)

    assert not other_data.promoted
    assert "other data" in other_data.reason
    assert _champion(mlflow_client, model_name) == first.version
    assert (
        mlflow_client.get_model_version(model_name, other_data.version).tags[
            "dataset_hash"
        ]
        == "bbb"
    )


def test_a_retried_registration_returns_the_first_version(
    mlflow_client, model_name, run_id
):
    arguments = dict(
        run_id=run_id, dataset_hash="aaa", test_ndcg_at_10=0.1, model_id=None
    )
    first = register_version(
        mlflow_client, model_name, f"runs:/{run_id}/model", **arguments
    )
    retried = register_version(
        mlflow_client, model_name, f"runs:/{run_id}/model", **arguments
    )

    assert retried == first
    versions = mlflow_client.search_model_versions(f"name = '{model_name}'")
    assert [v.version for v in versions] == [int(first)]


def test_a_retried_promotion_repeats_the_first_decision(
    mlflow_client, model_name, run_id
):
    first = _register(mlflow_client, model_name, run_id, "aaa", 0.10)
    kept = _register(mlflow_client, model_name, run_id, "aaa", 0.05)

    again = promote_if_better(mlflow_client, model_name, first.version)
    kept_again = promote_if_better(mlflow_client, model_name, kept.version)

    assert again.promoted and again.reason == first.reason
    assert not kept_again.promoted and kept_again.reason == kept.reason
    assert _champion(mlflow_client, model_name) == first.version


def test_concurrent_promotions_end_with_the_better_version(
    mlflow_client, model_name, run_id, monkeypatch
):
    _register(mlflow_client, model_name, run_id, "aaa", 0.10)
    better = _new_version(mlflow_client, model_name, run_id, "aaa", 0.12)
    worse = _new_version(mlflow_client, model_name, run_id, "aaa", 0.11)
    read_champion = registry.current_champion

    def slow_read(client, name):
        found = read_champion(client, name)
        time.sleep(0.5)  # widen the window between reading and moving the alias
        return found

    monkeypatch.setattr(registry, "current_champion", slow_read)
    results = {}

    def decide(version):
        results[version] = promote_if_better(mlflow_client, model_name, version)

    threads = [threading.Thread(target=decide, args=(v,)) for v in (better, worse)]
    threads[0].start()
    time.sleep(0.2)  # the worse one reads while the better one is deciding
    threads[1].start()
    for thread in threads:
        thread.join(timeout=30)

    assert results[better].promoted
    assert not results[worse].promoted
    assert results[worse].previous_champion == better
    assert _champion(mlflow_client, model_name) == better
