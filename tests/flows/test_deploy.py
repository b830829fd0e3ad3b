"""`genrec ui` + `genrec deploy` against a real Prefect server on 127.0.0.1: the
nightly deployment is created, a run triggered through the API completes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from mlflow.tracking import MlflowClient

from flows.pipeline import FLOW_RUN_TAG

REPO_ROOT = Path(__file__).resolve().parents[2]
API_URL = re.compile(r"export PREFECT_API_URL=(http://127\.0\.0\.1:\d+/api)")
MLFLOW_URL = re.compile(r"MLflow UI\s+(http://\S+)")
T = TypeVar("T")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "genrec.cli", *args]
    with log.open("w") as output:
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen, grace_s: float) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_for(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (value := probe()) is not None:
            return value
        time.sleep(1.0)
    raise TimeoutError(f"{what} not seen within {timeout_s:.0f} s")


@pytest.fixture
def environment(genrec_home: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env |= {
        "GENREC_HOME": str(genrec_home),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PYTHONPATH": str(REPO_ROOT),
        # The runner looks for due runs every 10 s by default.
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    }
    env.pop("PREFECT_API_URL", None)
    return env


@pytest.fixture
def ui(environment: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log = tmp_path / "ui.log"
    process = _start(["ui", "--prefect_port=0", "--mlflow_port=0"], environment, log)
    try:
        api_url = _wait_for(
            lambda: _match(API_URL, log) if process.poll() is None else _died(log),
            240,
            "the Prefect API URL",
        )
        yield api_url, log
    finally:
        _stop(process, grace_s=30)


def _match(pattern: re.Pattern, log: Path) -> str | None:
    found = pattern.search(log.read_text())
    return found.group(1) if found else None


def _died(log: Path) -> None:
    raise RuntimeError(f"genrec ui exited:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_nightly_deployment_runs_when_triggered_through_the_api(
    ui, environment, tiny_pipeline_arguments, genrec_home, tmp_path
):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api_url, ui_log = ui
    assert _match(MLFLOW_URL, ui_log).startswith("http://127.0.0.1:")
    arguments = tiny_pipeline_arguments
    deploy_flags = [
        "deploy",
        "--name=nightly-test",
        "--cron=30 3 * * *",
        "--timezone=Europe/Paris",
        f"--dataset={arguments['dataset']}",
        f"--raw_path={arguments['raw_path']}",
        f"--gin_config_file={arguments['gin_config_file']}",
        *[f"--gin_bindings={binding}" for binding in arguments["gin_bindings"]],
        f"--world_size={arguments['world_size']}",
        f"--train_timeout_s={arguments['train_timeout_s']}",
    ]
    deploy_log = tmp_path / "deploy.log"
    deploy = _start(
        deploy_flags, environment | {"PREFECT_API_URL": api_url}, deploy_log
    )
    try:
        with (
            temporary_settings({PREFECT_API_URL: api_url}),
            get_client(sync_client=True) as client,
        ):
            deployment = _wait_for(
                lambda: _deployment(client, "genrec-pipeline/nightly-test", deploy),
                180,
                "the deployment",
            )
            (schedule,) = deployment.schedules
            assert schedule.schedule.cron == "30 3 * * *"
            assert schedule.schedule.timezone == "Europe/Paris"
            assert schedule.active

            flow_run = client.create_flow_run_from_deployment(deployment.id)
            finished = _wait_for(
                lambda: _final(client, flow_run.id), 420, "the triggered run's end"
            )
    finally:
        _stop(deploy, grace_s=20)

    assert finished.state.is_completed(), deploy_log.read_text()[-5000:]
    mlflow = MlflowClient(f"sqlite:///{genrec_home / 'mlflow.db'}")
    experiment = mlflow.get_experiment_by_name("genrec")
    (run,) = mlflow.search_runs(
        [experiment.experiment_id], f"tags.`{FLOW_RUN_TAG}` = '{flow_run.id}'"
    )
    assert run.info.status == "FINISHED"
    assert "test/ndcg_at_10" in run.data.metrics


def _deployment(client, name: str, deploy: subprocess.Popen):
    from prefect.exceptions import ObjectNotFound

    if deploy.poll() is not None:
        raise RuntimeError(f"genrec deploy exited with code {deploy.returncode}")
    try:
        return client.read_deployment_by_name(name)
    except ObjectNotFound:
        return None


def _final(client, flow_run_id):
    flow_run = client.read_flow_run(flow_run_id)
    return flow_run if flow_run.state and flow_run.state.is_final() else None
