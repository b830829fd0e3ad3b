"""`genrec train` across "nodes" on this machine: spawn launcher and torchrun.

Two launcher processes with one rank each stand in for two machines (gloo over
127.0.0.1); torchrun runs the same tiny training with two workers. In both, every
rank logs a SHA-256 of its final weights, which must agree with each other and
with the checkpoint global rank 0 wrote; only global rank 0 writes metrics.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from genrec.distributed import free_port, state_digest

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "configs" / "cpu" / "tiny.gin"
# Batches of 8 users per rank: several steps an epoch on the tiny dataset.
BINDINGS = ("Trainer.batch_size = 8", "Trainer.num_epochs = 2")
DIGEST_LINE = re.compile(
    r"rank (\d+): weights identical on (\d+) rank\(s\), sha256 ([0-9a-f]{64})"
)
RUN_TIMEOUT_S = 240

pytestmark = pytest.mark.timeout(2 * RUN_TIMEOUT_S)


@pytest.fixture(scope="module")
def genrec_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("genrec-home")


@pytest.fixture(scope="module")
def tiny_data(genrec_home: Path) -> Path:
    """The synthetic dataset, preprocessed at a tiny size (~60 users, 40 items)."""
    from genrec.data.preprocess import run_preprocess

    out_dir = genrec_home / "data" / "synthetic-tiny"
    options = {"num_users": 96, "num_items": 40, "mean_length": 8, "seed": 0}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENREC_HOME", str(genrec_home))
        run_preprocess("synthetic", out_dir, options=options)
    return out_dir


def _env(genrec_home: Path) -> dict[str, str]:
    env = {**os.environ, "GENREC_HOME": str(genrec_home), "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return env


def _train_args(data_dir: Path, run_dir: Path) -> list[str]:
    args = [
        f"--gin_config_file={TINY_CONFIG}",
        f"--data_dir={data_dir}",
        f"--run_dir={run_dir}",
        "--timeout_s=60",
    ]
    return args + [f"--gin_bindings={binding}" for binding in BINDINGS]


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Run `command` with stderr (the logs) in `log`, stdout in `log`.out."""
    # Files, not pipes: two children filling pipe buffers could block each other.
    # The child keeps its own copies of the descriptors.
    with log.open("w") as err, log.with_suffix(".out").open("w") as out:
        return subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=err)


def _wait_all(processes: list[subprocess.Popen], logs: list[Path]) -> None:
    try:
        for process in processes:
            process.wait(timeout=RUN_TIMEOUT_S)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, log in zip(processes, logs, strict=True):
        assert process.returncode == 0, f"{log}:\n{log.read_text()[-4000:]}"


def _digests(*logs: Path) -> dict[int, str]:
    """Rank -> the weight digest that rank logged after training."""
    found: dict[int, str] = {}
    for log in logs:
        for rank, world_size, digest in DIGEST_LINE.findall(log.read_text()):
            assert int(world_size) == 2
            assert int(rank) not in found, f"rank {rank} logged its digest twice"
            found[int(rank)] = digest
    return found


def _checkpoint_digest(run_dir: Path) -> str:
    from genrec.training.checkpoint import load_checkpoint

    return state_digest(load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"])


def _loss_steps(run_dir: Path) -> list[int]:
    """Steps of the training-loss records in metrics.jsonl, checked written once."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines)), "a metrics record was written twice"
    records = [json.loads(line) for line in lines]
    steps = [record["step"] for record in records if "train/loss" in record]
    assert len(steps) > 1 and steps == sorted(set(steps)), f"loss steps {steps}"
    assert steps[-1] == max(record["step"] for record in records)
    return steps


def _printed_metrics(log: Path) -> dict:
    """The metrics in the JSON object `genrec train` prints on stdout."""
    return json.loads(log.with_suffix(".out").read_text())["metrics"]


def test_two_nodes_train_identical_replicas_and_only_rank_zero_logs(
    tiny_data: Path, genrec_home: Path, tmp_path: Path
):
    from mlflow.tracking import MlflowClient

    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=tracking_uri)
    run_id = client.create_run(client.create_experiment("multinode")).info.run_id

    port = free_port()
    env = _env(genrec_home)
    processes, logs = [], []
    for node_rank in (0, 1):
        run_dir = tmp_path / f"node{node_rank}-run"  # each "machine" has its own disk
        command = [
            sys.executable, "-m", "genrec.cli", "train",
            *_train_args(tiny_data, run_dir),
            "--world_size=1", "--nnodes=2", f"--node_rank={node_rank}",
            "--master_addr=127.0.0.1", f"--master_port={port}",
            f"--mlflow_tracking_uri={tracking_uri}", f"--mlflow_run_id={run_id}",
        ]  # fmt: skip
        logs.append(tmp_path / f"node{node_rank}.log")
        processes.append(_start(command, env, logs[-1]))
    _wait_all(processes, logs)

    digests = _digests(*logs)
    assert set(digests) == {0, 1}
    assert digests[0] == digests[1] == _checkpoint_digest(tmp_path / "node0-run")

    # Node 1 wrote nothing; node 0's log holds each record once.
    assert not (tmp_path / "node1-run").exists()
    loss_steps = _loss_steps(tmp_path / "node0-run")
    history = client.get_metric_history(run_id, "train/loss")
    assert sorted(m.step for m in history) == loss_steps

    assert "test/hr@10" in _printed_metrics(logs[0])
    assert _printed_metrics(logs[1]) == {}


def test_torchrun_runs_the_same_training(tiny_data: Path, genrec_home: Path, tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
        "-m", "genrec.cli", "train", *_train_args(tiny_data, run_dir),
    ]  # fmt: skip
    log = tmp_path / "torchrun.log"
    _wait_all([_start(command, _env(genrec_home), log)], [log])

    digests = _digests(log)
    assert set(digests) == {0, 1}
    assert digests[0] == digests[1] == _checkpoint_digest(run_dir)
    _loss_steps(run_dir)
    final = json.loads((run_dir / "results.json").read_text())
    assert final["test/users"] == final["eval/users"] > 0
