import itertools

import pytest

from genrec.tracking.registry import (
    CHAMPION,
    DECISION_TAG,
    promote_if_better,
    register_version,
)

_names = itertools.count()


@pytest.fixture
def model_name() -> str:
    return f"model-{next(_names)}"


@pytest.fixture(scope="module")
def run_id(mlflow_client) -> str:
    experiment_id = mlflow_client.create_experiment("registry")
    return mlflow_client.create_run(experiment_id).info.run_id


def _register(client, name, run_id, dataset_hash, ndcg):
    version = register_version(
        client,
        name,
        f"runs:/{run_id}/model",
        run_id=run_id,
        dataset_hash=dataset_hash,
        test_ndcg_at_10=ndcg,
    )
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
