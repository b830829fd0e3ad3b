"""The train flow: its two time limits (the rank time-out goes to the trainer,
the wall-clock limit stops the task) and a fresh run folder for every run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from flows.pipeline import FLOW_RUN_TAG, pipeline
from flows.preprocess import preprocess
from flows.train import train

pytestmark = pytest.mark.usefixtures("prefect_server")

HUNG_FOR_S = 120.0
TINY_CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "cpu" / "tiny.gin")


@pytest.fixture
def hung_training(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Replace the trainer with one that records its arguments and never ends."""
    calls: list[dict] = []

    def train_forever(*args: object, **kwargs: object) -> None:
        calls.append(kwargs)
        deadline = time.monotonic() + HUNG_FOR_S
        while time.monotonic() < deadline:
            time.sleep(0.05)
        raise AssertionError(f"the task was not stopped within {HUNG_FOR_S:.0f} s")

    monkeypatch.setattr("genrec.training.launch.train", train_forever)
    return calls


def test_standalone_train_flow_separates_rank_timeout_from_wall_clock_limit(
    hung_training, genrec_home, tmp_path
):
    started = time.monotonic()
    state = train(
        data_dir=str(tmp_path),
        train_timeout_s=3.0,
        rank_timeout_s=17.0,
        return_state=True,
    )
    elapsed_s = time.monotonic() - started

    assert state.is_failed()
    assert "timed out" in state.message.lower() or "timeout" in state.message.lower()
    assert elapsed_s < HUNG_FOR_S / 2
    assert [call["timeout_s"] for call in hung_training] == [17.0]


def test_pipeline_passes_rank_timeout_and_stops_training_at_its_wall_clock_limit(
    hung_training, tiny_pipeline_arguments, genrec_home
):
    state = pipeline(
        **tiny_pipeline_arguments
        | {"train_timeout_s": 3.0, "rank_timeout_s": 42.0, "experiment": "timeout"},
        return_state=True,
    )

    assert state.is_failed()
    assert [call["timeout_s"] for call in hung_training] == [42.0]
    client = MlflowClient(f"sqlite:///{genrec_home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("timeout")
    flow_run_id = str(state.state_details.flow_run_id)
    (run,) = client.search_runs(
        [experiment.experiment_id], f"tags.`{FLOW_RUN_TAG}` = '{flow_run_id}'"
    )
    assert run.info.status == "FAILED"


def test_standalone_train_flow_runs_twice_in_fresh_run_folders(
    tiny_raw_file, genrec_home
):
    data_dir = preprocess(dataset="synthetic", raw_path=str(tiny_raw_file))["data_dir"]
    arguments = dict(
        data_dir=data_dir,
        gin_config_file=TINY_CONFIG,
        gin_bindings=["Trainer.num_epochs = 1"],
        world_size=1,
    )

    first = train(**arguments)
    second = train(**arguments)

    run_dirs = {Path(r["checkpoint_path"]).parent.parent for r in (first, second)}
    assert len(run_dirs) == 2
    assert all(d.parent == genrec_home / "runs" for d in run_dirs)
    assert all(Path(r["checkpoint_path"]).is_file() for r in (first, second))
