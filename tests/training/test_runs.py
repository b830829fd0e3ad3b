"""Run folders: one name for every torchrun worker, and locks that a recreated
container can take over only when told to."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from genrec.training.runs import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    LOCK_FILE,
    METRICS_FILE,
    RunDirInUseError,
    claim_run_dir,
    default_run_dir,
    is_new_run_dir,
    remove_untrained_run_dir,
)

from .conftest import REPO, TINY_CONFIG


def test_every_torchrun_worker_derives_the_same_run_folder(tmp_path):
    workers = [
        {"TORCHELASTIC_RUN_ID": "4f1c", "RANK": str(rank), "LOCAL_RANK": str(rank)}
        for rank in range(2)
    ]

    folders = {default_run_dir(tmp_path, environ) for environ in workers}

    assert folders == {tmp_path / "torchrun-4f1c"}


def test_without_torchrun_every_training_gets_a_new_folder(tmp_path):
    first, second = (default_run_dir(tmp_path, {}) for _ in range(2))

    assert first != second
    assert first.parent == second.parent == tmp_path


def test_torchrun_default_rendezvous_id_asks_for_a_run_dir(tmp_path):
    with pytest.raises(ValueError, match="--run_dir"):
        default_run_dir(tmp_path, {"TORCHELASTIC_RUN_ID": "none"})


@pytest.fixture
def foreign_locked_run(tmp_path):
    """A run folder left locked by a training in a container that is gone."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.gin").write_text("Trainer.num_epochs = 1\n")
    (run_dir / LOCK_FILE).write_text("4242 container-that-was-recreated")
    return run_dir


def test_a_lock_from_another_host_blocks_resume_and_names_the_way_out(
    foreign_locked_run,
):
    with pytest.raises(RunDirInUseError, match="--force_unlock"):
        claim_run_dir(foreign_locked_run, resume=True)

    assert (
        "container-that-was-recreated" in (foreign_locked_run / LOCK_FILE).read_text()
    )


def test_force_unlock_takes_over_a_lock_from_another_host(foreign_locked_run):
    claimed = claim_run_dir(foreign_locked_run, resume=True, force_unlock=True)

    assert claimed == foreign_locked_run.resolve()
    owner = (foreign_locked_run / LOCK_FILE).read_text()
    assert owner == f"{os.getpid()} {socket.gethostname()}"


def test_force_unlock_never_takes_a_lock_of_a_live_process_here(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.gin").write_text("Trainer.num_epochs = 1\n")
    (run_dir / LOCK_FILE).write_text(f"{os.getppid()} {socket.gethostname()}")

    with pytest.raises(RunDirInUseError, match="alive on this host"):
        claim_run_dir(run_dir, resume=True, force_unlock=True)


def test_torchrun_workers_without_run_dir_report_the_same_folder(
    planted_folder, tmp_path
):
    logs = tmp_path / "logs"
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--standalone", "--nproc_per_node", "2",
        "--log_dir", str(logs), "--redirects", "1",
        "-m", "genrec.cli", "train",
        f"--gin_config_file={TINY_CONFIG}", f"--data_dir={planted_folder}",
        "--gin_bindings=Trainer.num_epochs = 1",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO), GENREC_HOME=str(tmp_path / "home"))

    process = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )

    assert process.returncode == 0, process.stderr[-3000:]
    outputs = sorted(logs.rglob("stdout.log"))
    assert len(outputs) == 2
    run_dirs = {json.loads(path.read_text())["run_dir"] for path in outputs}
    (run_dir,) = run_dirs
    assert [p.name for p in (tmp_path / "home" / "runs").iterdir()] == [
        os.path.basename(run_dir)
    ]
    assert os.path.basename(run_dir).startswith("torchrun-")


@pytest.mark.parametrize("trained", [None, METRICS_FILE, CHECKPOINT_DIR])
def test_only_a_run_folder_that_training_never_reached_is_removed(tmp_path, trained):
    run_dir = tmp_path / "run"
    assert is_new_run_dir(run_dir)
    claim_run_dir(run_dir, resume=False)
    (run_dir / CONFIG_FILE).write_text("Trainer.num_epochs = 1\n")
    assert not is_new_run_dir(run_dir)
    if trained == CHECKPOINT_DIR:
        (run_dir / CHECKPOINT_DIR).mkdir()
    elif trained:
        (run_dir / trained).write_text("{}\n")

    removed = remove_untrained_run_dir(run_dir)

    assert removed is (trained is None)
    assert run_dir.exists() is (trained is not None)
