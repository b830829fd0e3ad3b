"""`train` and `evaluate_checkpoint` through the real launcher (spawned ranks)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import torch.distributed as dist

from genrec.distributed import DistContext, launch
from genrec.training.checkpoint import load_checkpoint
from genrec.training.evaluate import evaluate_checkpoint
from genrec.training.gin_config import one_line, parse_resolved, resolve_config
from genrec.training.launch import train
from genrec.training.runs import RunDirInUseError, RunPaths, read_metrics
from genrec.training.trainer import Trainer, TrainingRun

from .conftest import REPO, TINY_CONFIG, planted_histories, write_sequences


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("planted")
    return write_sequences(folder, planted_histories(), num_items=60)


@pytest.fixture(scope="module")
def two_rank_run(planted, tmp_path_factory):
    """One training with world size 2, shared by the tests below."""
    run_dir = tmp_path_factory.mktemp("runs") / "ddp"
    result = train([TINY_CONFIG], [], data_dir=planted, run_dir=run_dir, world_size=2)
    return result


def _parameter_digests(ctx: DistContext, paths: RunPaths) -> list[list[float]]:
    """Train on this rank, then collect every rank's parameter fingerprint."""
    parse_resolved(paths.config)
    run = TrainingRun(Trainer(), ctx, paths)
    run.execute()
    digest = [float(p.detach().double().sum()) for p in run.model.parameters()]
    digest += [float(p.detach().double().abs().sum()) for p in run.model.parameters()]
    gathered: list[list[float]] = [[] for _ in range(ctx.world_size)]
    dist.all_gather_object(gathered, digest)
    return gathered


def test_two_ranks_end_with_identical_parameters(planted, tmp_path):
    config = resolve_config([TINY_CONFIG], ["Trainer.num_epochs = 1"], num_items=60)
    paths = RunPaths(run_dir=tmp_path, data_dir=planted, config=config, resume=False)
    digests = launch(_parameter_digests, (paths,), world_size=2)
    assert len(digests) == 2
    assert digests[0] == digests[1]


def test_world_size_two_trains_and_evaluates_every_user_once(two_rank_run):
    metrics = two_rank_run.metrics
    assert metrics["test/users"] == 240 and metrics["eval/users"] == 240
    assert metrics["test/ndcg@10"] > metrics["popularity/test/ndcg@10"]
    assert two_rank_run.checkpoint_path.is_file()


def test_evaluation_does_not_depend_on_world_size(two_rank_run, planted):
    checkpoint = two_rank_run.checkpoint_path
    one = evaluate_checkpoint(checkpoint, planted, split="test", world_size=1)
    two = evaluate_checkpoint(checkpoint, planted, split="test", world_size=2)
    assert one.keys() == two.keys()
    for key in one:
        assert one[key] == pytest.approx(two[key], abs=1e-6), key
        assert one[key] == pytest.approx(two_rank_run.metrics[key], abs=1e-6), key


def test_a_run_folder_is_never_shared(planted, two_rank_run, tmp_path):
    with pytest.raises(RunDirInUseError, match="already holds a run"):
        train([TINY_CONFIG], [], data_dir=planted, run_dir=two_rank_run.run_dir)


@pytest.mark.parametrize(
    ("binding", "says"),
    [
        ("Trainer.num_epochs = 0", "Trainer.num_epochs must be an integer >= 1, got 0"),
        ("Trainer.num_epochs = 2.5", "must be an integer >= 1, got 2.5 (in Trainer)"),
        ("Trainer.batch_size = '128'", "must be an integer >= 1, got '128'"),
        (
            "Trainer.selection_metric = 'ndcg@20'",
            "Trainer.selection_metric must be one of ['hr@1', 'ndcg@1',",
        ),
    ],
)
def test_a_trainer_setting_it_refuses_stops_before_any_rank_starts(
    planted, tmp_path, binding, says
):
    run_dir = tmp_path / "refused"
    started = time.perf_counter()
    with pytest.raises(ValueError, match=re.escape(says)) as caught:
        train([TINY_CONFIG], [binding], data_dir=planted, run_dir=run_dir)
    # Refused in the launcher, with the Trainer's own line: no rank was spawned
    # (spawning and a process group alone take seconds), no folder is left.
    assert len(str(caught.value).splitlines()) == 1
    assert time.perf_counter() - started < 5
    assert not run_dir.exists()


def test_a_setting_a_rank_refuses_arrives_as_one_line(planted, tmp_path):
    # The optimizer is built on the ranks; its ValueError crosses the spawn.
    run_dir = tmp_path / "refused"
    with pytest.raises(ValueError) as caught:
        train(
            [TINY_CONFIG],
            ["adamw.learning_rate = -1"],
            data_dir=planted,
            run_dir=run_dir,
        )
    assert one_line(caught.value) == "Invalid learning rate: -1 (in adamw)"
    assert not run_dir.exists()


def _genrec(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), GENREC_HOME=str(kwargs.pop("home")))
    return subprocess.Popen(
        [sys.executable, "-m", "genrec.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so a kill reaches the spawned ranks too
        **kwargs,
    )


def test_two_trainings_started_together_do_not_collide(planted, tmp_path):
    args = ["train", f"--gin_config_file={TINY_CONFIG}", f"--data_dir={planted}"]
    first = _genrec(*args, home=tmp_path)
    second = _genrec(*args, home=tmp_path)
    outputs = [process.communicate(timeout=300) for process in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    # Finished ranks leave without interpreter teardown, but still clean up
    # what multiprocessing made for them.
    assert not [err for _, err in outputs if "leaked semaphore" in err]
    results = [json.loads(stdout) for stdout, _ in outputs]
    run_dirs = {result["run_dir"] for result in results}
    assert len(run_dirs) == 2
    assert all(Path(d).parent == tmp_path / "runs" for d in run_dirs)
    # Same config and seed in separate folders: the same result.
    assert results[0]["metrics"] == results[1]["metrics"]


def _training_ranks(planted: Path, tmp_path: Path) -> tuple[subprocess.Popen, list]:
    """Start a long two-rank `genrec train`; return it once its ranks train."""
    run_dir = tmp_path / "run"
    launcher = _genrec(
        "train",
        f"--gin_config_file={TINY_CONFIG}",
        f"--data_dir={planted}",
        f"--run_dir={run_dir}",
        "--world_size=2",
        "--gin_bindings=Trainer.num_epochs = 1000",
        "--gin_bindings=Trainer.log_every_steps = 1",
        home=tmp_path,
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "metrics.jsonl").exists():
        assert launcher.poll() is None, launcher.communicate()
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.1)
    children = psutil.Process(launcher.pid).children(recursive=True)
    ranks = [child for child in children if "spawn_main" in " ".join(child.cmdline())]
    assert len(ranks) == 2, [child.cmdline() for child in children]
    return launcher, ranks


def test_sigterm_to_the_launcher_stops_its_ranks_and_frees_the_run_folder(
    planted, tmp_path
):
    launcher, ranks = _training_ranks(planted, tmp_path)
    try:
        os.kill(launcher.pid, signal.SIGTERM)  # the launcher alone, as `kill PID`
        launcher.communicate(timeout=60)
        _, alive = psutil.wait_procs(ranks, timeout=15)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher.pid, signal.SIGKILL)

    assert launcher.returncode == 128 + signal.SIGTERM
    assert not alive, "ranks outlived their launcher"
    assert not (tmp_path / "run" / ".lock").exists()


def test_ctrl_c_stops_training_with_one_clean_line(planted, tmp_path):
    launcher, ranks = _training_ranks(planted, tmp_path)
    try:
        os.killpg(launcher.pid, signal.SIGINT)  # as a terminal's Ctrl-C
        _, err = launcher.communicate(timeout=60)
        _, alive = psutil.wait_procs(ranks, timeout=15)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher.pid, signal.SIGKILL)

    assert launcher.returncode == 130, err[-3000:]
    assert not alive, "ranks outlived their launcher"
    # The ranks unwound before being stopped: nothing of theirs leaked, and the
    # progress bar's line ended before the verdict.
    assert "leaked semaphore" not in err and "Traceback" not in err, err[-3000:]
    assert err.splitlines()[-1] == "genrec train: interrupted", err[-3000:]
    # Log lines print above the progress bar, never after it on its line.
    assert not re.search(r"step/s[^\r\n]*\]\S", err), err[-3000:]
    assert not (tmp_path / "run" / ".lock").exists()


def test_a_launcher_killed_outright_takes_its_ranks_along(planted, tmp_path):
    launcher, ranks = _training_ranks(planted, tmp_path)
    try:
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.communicate(timeout=60)
        _, alive = psutil.wait_procs(ranks, timeout=15)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher.pid, signal.SIGKILL)

    assert not alive, "ranks outlived their launcher"


def test_killed_mid_epoch_and_resumed_ends_like_an_uninterrupted_run(planted, tmp_path):
    bindings = [
        "--gin_bindings=Trainer.num_epochs = 3",
        "--gin_bindings=Trainer.batch_size = 16",
        "--gin_bindings=Trainer.checkpoint_every_steps = 3",
        "--gin_bindings=Trainer.log_every_steps = 1",
    ]
    base = ["train", f"--gin_config_file={TINY_CONFIG}", f"--data_dir={planted}"]
    whole = _genrec(*base, *bindings, f"--run_dir={tmp_path / 'whole'}", home=tmp_path)

    killed_dir = tmp_path / "killed"
    killed = _genrec(*base, *bindings, f"--run_dir={killed_dir}", home=tmp_path)
    metrics_path = killed_dir / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        last = killed_dir / "checkpoints" / "last.pt"
        lines = metrics_path.read_text().splitlines() if metrics_path.exists() else []
        if last.exists() and len(lines) >= 5:  # a checkpoint, and steps beyond it
            break
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate()
    assert not (killed_dir / "results.json").exists(), "finished before the kill"
    state = load_checkpoint(killed_dir / "checkpoints" / "last.pt")["state"]
    assert state["step"] % 15 != 0  # 240 users / 16 = 15 steps per epoch: mid-epoch

    resumed = _genrec(*base, "--resume", f"--run_dir={killed_dir}", home=tmp_path)
    resumed_out, resumed_err = resumed.communicate(timeout=300)
    whole_out, whole_err = whole.communicate(timeout=300)
    assert resumed.returncode == 0, resumed_err
    assert whole.returncode == 0, whole_err
    assert json.loads(resumed_out)["metrics"] == json.loads(whole_out)["metrics"]
    first = load_checkpoint(killed_dir / "checkpoints" / "last.pt")["model"]
    second = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(first[key], second[key]) for key in first)
    steps = [json.loads(line)["step"] for line in metrics_path.read_text().splitlines()]
    assert steps == sorted(steps)  # records past the checkpoint were dropped


def test_evaluate_command_prints_model_and_popularity_metrics(
    two_rank_run, planted, tmp_path
):
    process = _genrec(
        "evaluate",
        f"--checkpoint={two_rank_run.checkpoint_path}",
        f"--data_dir={planted}",
        "--split=valid",
        home=tmp_path,
    )
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    metrics = json.loads(stdout)
    assert metrics["valid/ndcg@10"] == pytest.approx(
        two_rank_run.metrics["eval/ndcg@10"], abs=1e-6
    )
    assert "popularity/valid/hr@10" in metrics


def test_positional_sampling_trains_end_to_end_and_leaves_evaluation_alone(
    planted, two_rank_run, tmp_path
):
    result = train(
        [TINY_CONFIG],
        ["SequenceDataset.sampling_ratio = 0.5"],
        data_dir=planted,
        run_dir=tmp_path / "sampled",
        world_size=2,
    )

    assert "sampling_ratio = 0.5" in result.operative_config_path.read_text()
    sampled = [
        r["train/loss"] for r in read_metrics(result.metrics_path) if "train/loss" in r
    ]
    full = [
        r["train/loss"]
        for r in read_metrics(two_rank_run.metrics_path)
        if "train/loss" in r
    ]
    assert len(sampled) == len(full)  # same users, same steps
    assert all(math.isfinite(loss) for loss in sampled)
    assert sampled[0] != full[0]  # the sampled histories differ from step 1
    assert result.metrics["test/users"] == 240
    # Evaluation never samples: the checkpoint alone scores the same again.
    again = evaluate_checkpoint(result.checkpoint_path, planted, world_size=1)
    for key in ("test/ndcg@10", "test/hr@10", "test/mrr"):
        assert again[key] == pytest.approx(result.metrics[key], abs=1e-6)
