"""The pipeline flow end to end on a tiny synthetic file: tracking, caching,
registry and failures."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from flows.pipeline import FLOW_RUN_TAG, pipeline
from flows.preprocess import preprocess
from genrec.tracking.fingerprint import dataset_digest
from genrec.tracking.registry import CHAMPION, DATASET_HASH_TAG

pytestmark = pytest.mark.usefixtures("prefect_server")


def _artifact_paths(client: MlflowClient, run_id: str, folder: str = "") -> set[str]:
    paths = set()
    for entry in client.list_artifacts(run_id, folder or None):
        if entry.is_dir:
            paths |= _artifact_paths(client, run_id, entry.path)
        else:
            paths.add(entry.path)
    return paths


def _steps(client: MlflowClient, run_id: str, metric: str) -> list[int]:
    return sorted({m.step for m in client.get_metric_history(run_id, metric)})


def test_pipeline_run_is_tracked_registered_and_cached(
    tiny_pipeline_arguments, genrec_home
):
    first = pipeline(**tiny_pipeline_arguments)
    client = MlflowClient(first.tracking_uri)
    run = client.get_run(first.mlflow_run_id)

    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["pipeline/dataset"] == "synthetic"
    assert params["pipeline/world_size"] == "2"
    assert params["Trainer.num_epochs"] == "2"
    assert "HSTUEncoder.num_blocks" in params  # from the gin file, flattened
    # Defaults no config file sets come from the operative config.
    assert params["Trainer.bf16"] == "True"
    assert params["SequenceDataset.sampling_ratio"] == "1.0"
    assert params["adamw.betas"] == "(0.9, 0.98)"
    assert len(_steps(client, run.info.run_id, "train/loss")) >= 3
    assert len(_steps(client, run.info.run_id, "eval/ndcg_at_10")) >= 2
    for name in ("test/hr_at_10", "test/ndcg_at_10", "popularity/test/ndcg_at_10"):
        assert 0.0 <= run.data.metrics[name] <= 1.0
        # Logged by the trainer; the evaluate task's same numbers add nothing.
        assert len(client.get_metric_history(run.info.run_id, name)) == 1
    assert "epoch" not in run.data.metrics and "selected_step" not in run.data.metrics
    assert run.data.metrics["train/epoch"] == 2
    assert int(run.data.tags["selected_step"]) in _steps(
        client, run.info.run_id, "eval/ndcg_at_10"
    )
    assert {
        "config/config.gin",
        "config/operative_config.gin",
        "data/stats.json",
        "checkpoint/best.pt",
        "evaluation/evaluation.json",
        "evaluation/evaluation.md",
        "plots/metric_curves.png",
    } <= _artifact_paths(client, run.info.run_id)
    assert not first.preprocess_cached
    assert run.data.tags["preprocess_cached"] == "false"

    champion = client.get_model_version_by_alias(first.model_name, CHAMPION)
    assert str(champion.version) == first.model_version
    assert champion.run_id == first.mlflow_run_id
    assert champion.tags[DATASET_HASH_TAG] == run.data.tags["dataset_hash"]
    assert run.data.tags["dataset_hash"] == dataset_digest(first.data_dir)
    logged_model_id = champion.source.removeprefix("models:/")
    model_location = client.get_logged_model(logged_model_id).artifact_location
    assert model_location.startswith(genrec_home.as_uri())

    # Same bytes again: preprocessing comes from the cache, a second version
    # is registered and the alias goes to the better of the two.
    second = pipeline(**tiny_pipeline_arguments)
    rerun = client.get_run(second.mlflow_run_id)

    assert second.preprocess_cached
    assert rerun.data.tags["preprocess_cached"] == "true"
    assert second.data_dir == first.data_dir
    assert second.model_version != first.model_version
    scores = {
        first.model_version: first.test_metrics["test/ndcg@10"],
        second.model_version: second.test_metrics["test/ndcg@10"],
    }
    expected = second.model_version if second.champion else first.model_version
    assert second.champion == (
        scores[second.model_version] > scores[first.model_version]
    )
    champion = client.get_model_version_by_alias(first.model_name, CHAMPION)
    assert str(champion.version) == expected


# Python without `site` (-S), so the editable install's .pth does not put the
# checkout on the path; only site-packages is added, for mlflow and torch.
_LOAD_WITHOUT_CHECKOUT = """
import json, sys
sys.path.append(sys.argv[3])
try:
    import genrec
except ImportError:
    pass
else:
    raise SystemExit(f"genrec importable from {genrec.__file__}")
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
import genrec
example = model.input_example
out = model.predict(example, params={"k": 3})
print(json.dumps({"genrec": genrec.__file__, "items": out["item_ids"].tolist()}))
"""


def test_registered_champion_recommends_unseen_items(tiny_pipeline_arguments, tmp_path):
    result = pipeline(
        **tiny_pipeline_arguments
        | {"gin_bindings": ["Trainer.num_epochs = 1"], "world_size": 1}
    )
    uri = f"models:/{result.model_name}@{CHAMPION}"
    mlflow.set_tracking_uri(result.tracking_uri)

    model = mlflow.pyfunc.load_model(uri)
    history = [3, 17, 5]
    recommended = model.predict(pd.DataFrame({"item_ids": [history]}), params={"k": 5})

    items = recommended["item_ids"][0]
    assert len(items) == 5
    assert not set(items) & set(history)
    assert all(1 <= item <= model.unwrap_python_model().num_items for item in items)

    # A history longer than the model's window: its older items are excluded
    # too, so asking for every remaining item returns exactly the unseen ones.
    recommender = model.unwrap_python_model()
    catalogue = set(range(1, recommender.num_items + 1))
    long_history = list(range(1, recommender.max_length + 6))
    unseen = len(catalogue) - len(long_history)
    recommended = model.predict(
        pd.DataFrame({"item_ids": [long_history]}), params={"k": unseen}
    )
    assert set(recommended["item_ids"][0]) == catalogue - set(long_history)

    # Asking for more than is left returns what is left, never padding or a
    # history item; k must be positive.
    recommended = model.predict(
        pd.DataFrame({"item_ids": [long_history, history]}),
        params={"k": recommender.num_items + 50},
    )
    assert sorted(recommended["item_ids"][0]) == sorted(catalogue - set(long_history))
    assert sorted(recommended["item_ids"][1]) == sorted(catalogue - set(history))
    assert all(np.isfinite(recommended["scores"][1]))
    with pytest.raises(ValueError, match="params k: expected a positive"):
        model.predict(pd.DataFrame({"item_ids": [history]}), params={"k": 0})
    nothing = model.predict(pd.DataFrame({"item_ids": []}), params={"k": 3})
    assert len(nothing) == 0 and list(nothing.columns) == ["item_ids", "scores"]

    # Logged from code (MLflow runs a source file, unpickles no object), it
    # serves its stored example in a Python that cannot import the checkout.
    info = mlflow.models.get_model_info(uri)
    flavor = info.flavors["python_function"]
    assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert Path(flavor["model_code_path"]).name == "pyfunc_model.py"
    assert "python_model" not in flavor
    assert info.saved_input_example_info["type"] == "dataframe"

    loaded = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            _LOAD_WITHOUT_CHECKOUT,
            result.tracking_uri,
            uri,
            sysconfig.get_paths()["purelib"],
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    served = json.loads(loaded.stdout.splitlines()[-1])
    # genrec came from the model's own copy of the package.
    assert "/code/genrec/" in served["genrec"]
    # The stored example: two histories of item 1, three new items each.
    assert [len(items) for items in served["items"]] == [3, 3]
    assert all(1 not in items for items in served["items"])


def test_edited_raw_row_recomputes_and_unchanged_is_cached(tiny_raw_file):
    raw_file = tiny_raw_file
    first = preprocess(dataset="synthetic", raw_path=str(raw_file))
    stats = Path(first["data_dir"]) / "stats.json"
    written_at = stats.stat().st_mtime_ns
    again = preprocess(dataset="synthetic", raw_path=str(raw_file))

    lines = raw_file.read_text().splitlines(keepends=True)
    item, user, rating, timestamp = lines[0].rstrip("\n").split(",")
    other_rating = "1.0" if float(rating) != 1.0 else "2.0"
    lines[0] = ",".join([item, user, other_rating, timestamp]) + "\n"
    raw_file.write_text("".join(lines))
    edited = preprocess(dataset="synthetic", raw_path=str(raw_file))

    assert not first["cached"]
    assert again["cached"]
    assert again["data_dir"] == first["data_dir"]
    assert stats.stat().st_mtime_ns == written_at  # the SQL did not run again
    assert not edited["cached"]
    assert edited["fingerprint"] != first["fingerprint"]
    assert (Path(edited["data_dir"]) / "stats.json").exists()


def test_failing_training_fails_the_flow_and_the_mlflow_run(
    tiny_pipeline_arguments, genrec_home
):
    started = time.monotonic()
    state = pipeline(
        **tiny_pipeline_arguments
        | {
            "gin_bindings": ["SequenceDataset.protocol = 'no_such_protocol'"],
            "experiment": "failing",
        },
        return_state=True,
    )
    elapsed_s = time.monotonic() - started

    assert state.is_failed()
    assert elapsed_s < 180
    client = MlflowClient(f"sqlite:///{genrec_home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("failing")
    flow_run_id = str(state.state_details.flow_run_id)
    (run,) = client.search_runs(
        [experiment.experiment_id], f"tags.`{FLOW_RUN_TAG}` = '{flow_run_id}'"
    )
    assert run.info.status == "FAILED"
    assert "no_such_protocol" in run.data.tags["genrec.end_reason"]
