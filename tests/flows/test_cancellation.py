"""A cancelled or crashed pipeline never leaves its MLflow run RUNNING.

Two ways a run ends early. A runner cancelling a flow run sends SIGTERM to its
process, which Prefect raises in the flow as `TerminationSignal`: the pipeline's
own `tracked_run` block ends the MLflow run KILLED (tested on a real process).
If the process was killed outright, nothing in it runs, and Prefect calls the
flow's `on_cancellation` or `on_crashed` hooks from the runner instead; those
are called here with a flow run and state read back from the test server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient
from prefect.client.orchestration import get_client
from prefect.states import Cancelling, Crashed, Running

from flows.pipeline import FLOW_RUN_TAG, pipeline
from genrec.tracking.store import ensure_experiment

pytestmark = pytest.mark.usefixtures("prefect_server")

EXPERIMENT = "interrupted"
REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = str(REPO_ROOT / "configs" / "cpu" / "tiny.gin")


def _mlflow(genrec_home) -> MlflowClient:
    return MlflowClient(f"sqlite:///{genrec_home / 'mlflow.db'}")


def _runs_of(client: MlflowClient, flow_run_id: str) -> list:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs(
        [experiment.experiment_id], f"tags.`{FLOW_RUN_TAG}` = '{flow_run_id}'"
    )


def _first_training_run(client: MlflowClient):
    """The experiment's run once rank 0 has logged a training loss into it."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None
    for run in client.search_runs([experiment.experiment_id]):
        if client.get_metric_history(run.info.run_id, "train/loss"):
            return run
    return None


def test_sigterm_during_training_leaves_the_mlflow_run_killed(
    tiny_raw_file, genrec_home, tmp_path
):
    from prefect.settings import PREFECT_API_URL

    env = dict(
        os.environ,
        GENREC_HOME=str(genrec_home),
        PYTHONPATH=str(REPO_ROOT),
        PREFECT_API_URL=PREFECT_API_URL.value(),  # the test server
    )
    args = [
        "pipeline",
        f"--raw_path={tiny_raw_file}",
        f"--gin_config_file={TINY_CONFIG}",
        "--gin_bindings=Trainer.num_epochs = 1000",
        "--gin_bindings=Trainer.log_every_steps = 1",
        "--world_size=1",
        f"--experiment={EXPERIMENT}",
    ]
    log = tmp_path / "pipeline.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "genrec.cli", *args],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so the cleanup reaches the ranks too
        )
    client = _mlflow(genrec_home)
    try:
        deadline = time.monotonic() + 240
        while (run := _first_training_run(client)) is None:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "training never started"
            time.sleep(1.0)
        ranks = [
            child
            for child in psutil.Process(process.pid).children(recursive=True)
            if "spawn_main" in " ".join(child.cmdline())
        ]
        # What a Prefect runner sends to a flow run's process to cancel it.
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        _, alive = psutil.wait_procs(ranks, timeout=15)
        assert ranks and not alive, "training ranks outlived the cancelled flow"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    run = client.get_run(run.info.run_id)
    assert run.info.status == "KILLED", log.read_text()[-3000:]
    assert run.data.tags["genrec.end_reason"] == "TerminationSignal"
    with get_client(sync_client=True) as prefect:
        flow_run = prefect.read_flow_run(run.data.tags[FLOW_RUN_TAG])
    assert flow_run.state.is_final() and not flow_run.state.is_completed()


@pytest.mark.parametrize(
    ("hooks", "state", "expected"),
    [
        ("on_cancellation_hooks", Cancelling, "KILLED"),
        ("on_crashed_hooks", Crashed, "FAILED"),
    ],
)
def test_hooks_end_the_flow_runs_mlflow_run_when_the_process_is_gone(
    genrec_home, hooks, state, expected
):
    with get_client(sync_client=True) as prefect:
        flow_run = prefect.create_flow_run(
            pipeline, parameters={"experiment": EXPERIMENT}, state=Running()
        )
        prefect.set_flow_run_state(flow_run.id, state(), force=True)
        flow_run = prefect.read_flow_run(flow_run.id)
        other = prefect.create_flow_run(pipeline, state=Running())
    client = _mlflow(genrec_home)
    experiment_id = ensure_experiment(client, EXPERIMENT)
    orphan = client.create_run(experiment_id, tags={FLOW_RUN_TAG: str(flow_run.id)})
    bystander = client.create_run(experiment_id, tags={FLOW_RUN_TAG: str(other.id)})

    for hook in getattr(pipeline, hooks):
        hook(pipeline, flow_run, flow_run.state)

    (run,) = _runs_of(client, str(flow_run.id))
    assert run.info.run_id == orphan.info.run_id
    assert run.info.status == expected
    assert flow_run.state.name in run.data.tags["genrec.end_reason"]
    assert client.get_run(bystander.info.run_id).info.status == "RUNNING"
